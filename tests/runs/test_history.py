"""Parsing wandb-events.jsonl: nested and flat lines, runs still being written, bad lines, NaN, resumes."""

from __future__ import annotations

import json
import math

from lexdpr.runs.history import metric_order, parse_events


def lines(*records: dict) -> str:
    return "".join(json.dumps(r, allow_nan=True) + "\n" for r in records)


def test_nested_lines_become_one_series_per_metric() -> None:
    h = parse_events(
        lines(
            {
                "_step": 0,
                "_timestamp": 10.0,
                "eval": {"ndcg_at_10": 0.3, "fingerprint": "abc"},
                "valid": {"loss": 2.5},
            },
            {"_step": 1, "_timestamp": 11.0, "train": {"loss": 2.0, "lr": 1e-5}},
            {"_step": 2, "_timestamp": 12.0, "train": {"loss": 1.5, "lr": 2e-5}},
            {
                "_step": 2,
                "_timestamp": 12.5,
                "eval": {"ndcg_at_10": 0.4, "fingerprint": "abc"},
                "valid": {"loss": 2.0},
            },
        )
    )
    assert h.names() == ["eval/ndcg_at_10", "train/loss", "train/lr", "valid/loss"]
    assert h.get("train/loss").steps == (1, 2)
    assert h.get("train/loss").values == (2.0, 1.5)
    assert h.get("eval/ndcg_at_10").at(2) == 0.4
    assert h.get("train/loss").at(0) is None
    assert h.fingerprint == "abc" and h.fingerprints == ("abc",)
    assert (h.last_step, h.last_timestamp, h.truncated, h.skipped_lines) == (2, 12.5, False, ())


def test_a_half_written_last_line_of_a_running_run_is_ignored() -> None:
    text = lines({"_step": 1, "train": {"loss": 2.0}}) + '{"_step": 2, "train": {"lo'
    h = parse_events(text)
    assert h.truncated
    assert h.get("train/loss").values == (2.0,)
    assert h.skipped_lines == ()


def test_bad_lines_in_the_middle_are_skipped_and_reported() -> None:
    text = (
        lines({"_step": 1, "train": {"loss": 2.0}})
        + "garbage\n[1, 2]\n"
        + lines({"_step": 2, "train": {"loss": 1.0}})
    )
    h = parse_events(text)
    assert h.skipped_lines == (2, 3)
    assert not h.truncated
    assert h.get("train/loss").values == (2.0, 1.0)


def test_nan_infinity_and_null_are_kept_as_non_finite_values() -> None:
    h = parse_events('{"_step": 1, "train": {"loss": NaN, "grad_norm": Infinity}, "valid": {"loss": null}}\n')
    assert math.isnan(h.get("train/loss").values[0])
    assert h.get("train/grad_norm").values[0] == math.inf
    assert math.isnan(h.get("valid/loss").values[0])
    assert h.get("train/loss").first_non_finite()[0] == 1


def test_flat_keys_read_like_nested_ones_and_bookkeeping_keys_are_skipped() -> None:
    h = parse_events(lines({"_step": 3, "_runtime": 4.2, "train/loss": 1.0, "eval": {"recall_at_5": 0.5}}))
    assert h.names() == ["eval/recall_at_5", "train/loss"]


def test_a_replayed_step_keeps_the_later_value() -> None:
    h = parse_events(lines({"_step": 5, "train": {"loss": 9.0}}, {"_step": 5, "train": {"loss": 1.0}}))
    assert h.get("train/loss").steps == (5,)
    assert h.get("train/loss").values == (1.0,)


def test_lines_without_a_step_belong_to_the_previous_step_and_booleans_are_not_numbers() -> None:
    h = parse_events(lines({"_step": 4, "train": {"loss": 1.0}}, {"train": {"epoch": 1.0, "flag": True}}))
    assert h.get("train/epoch").steps == (4,)
    assert h.get("train/flag") is None


def test_a_changed_fingerprint_is_remembered() -> None:
    h = parse_events(
        lines({"_step": 0, "eval": {"fingerprint": "a"}}, {"_step": 5, "eval": {"fingerprint": "b"}})
    )
    assert h.fingerprints == ("a", "b")
    assert h.fingerprint == "b"


def test_empty_file() -> None:
    h = parse_events("")
    assert h.names() == [] and h.last_step is None and h.fingerprint is None


def test_metric_order_is_the_reading_order() -> None:
    names = [
        "eval/mrr_at_10",
        "eval/recall_at_10",
        "eval/ndcg_at_10",
        "eval/ndcg_at_3",
        "eval/other",
        "eval/recall_at_1",
    ]
    assert sorted(names, key=metric_order) == [
        "eval/ndcg_at_3",
        "eval/ndcg_at_10",
        "eval/recall_at_1",
        "eval/recall_at_10",
        "eval/mrr_at_10",
        "eval/other",
    ]
