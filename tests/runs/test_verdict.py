"""The verdict rules, table-tested on synthetic histories: (case, evidence, rule, status, words in the reason)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from lexdpr.errors import ConfigError
from lexdpr.runs.baseline import Baseline
from lexdpr.runs.run import CheckpointRef
from lexdpr.runs.verdict import FAIL, PASS, RULES, SKIP, Evidence, Thresholds, judge, running_medians
from tests.runs.synthetic import healthy_curves, history, line, v_shape

STEPS = list(range(1, 101))
EVALS = list(range(0, 101, 10))
CKPT = (CheckpointRef("best, last", "/ckpt/checkpoint-100", True, "/ckpt/checkpoint-100"),)


def ev(series=None, *, state="finished", reason=None, checkpoints=CKPT, baseline=None, fingerprint="fp-test"):
    return Evidence(
        state=state,
        history=history(curves() if series is None else series, fingerprint=fingerprint),
        checkpoints=checkpoints,
        reason=reason,
        progress="step 100 of 100",
        baseline=baseline,
    )


def curves(**changes):
    """Healthy curves with some series replaced (None removes one)."""
    out = dict(healthy_curves(100, 10))
    for name, points in changes.items():
        key = name.replace("__", "/")
        if points is None:
            out.pop(key, None)
        else:
            out[key] = points
    return out


BM25_HIGH = Baseline("BM25", {"eval/ndcg_at_10": 0.60}, "fp-test", "bm25.json")
BM25_LOW = Baseline("BM25", {"eval/ndcg_at_10": 0.35}, "fp-test", "bm25.json")

CASES = [
    # finished
    ("finished", ev(), "finished", PASS, ["state finished", "step 100 of 100"]),
    ("running", ev(state="running"), "finished", FAIL, ["still running"]),
    (
        "failed with reason",
        ev(state="failed", reason="SIGTERM received; checkpoint saved"),
        "finished",
        FAIL,
        ["state failed", "SIGTERM", "resumes"],
    ),
    ("crashed", ev(state="crashed"), "finished", FAIL, ["state crashed"]),
    ("no metadata", ev(state="unknown"), "finished", FAIL, ["missing or unreadable"]),
    # evaluated
    ("evaluated", ev(), "evaluated", PASS, ["11 evaluations", "fp-test"]),
    (
        "no eval at all",
        ev(curves(eval__ndcg_at_10=None, eval__recall_at_10=None)),
        "evaluated",
        FAIL,
        ["no eval/* metric", "valid_pairs"],
    ),
    (
        "objective missing",
        ev(curves(eval__ndcg_at_10=None)),
        "evaluated",
        FAIL,
        ["eval/ndcg_at_10 was not logged", "eval/recall_at_10"],
    ),
    ("no fingerprint", ev(fingerprint=None), "evaluated", FAIL, ["no eval/fingerprint"]),
    (
        "only step 0",
        ev(curves(eval__ndcg_at_10=[(0, 0.3)], eval__recall_at_10=[(0, 0.4)])),
        "evaluated",
        FAIL,
        ["only the base model"],
    ),
    (
        "no step-0 eval",
        ev(curves(eval__ndcg_at_10=line(0.3, 0.5, EVALS[1:]))),
        "evaluated",
        PASS,
        ["no step-0 evaluation"],
    ),
    # checkpoint
    ("checkpoint exists", ev(), "checkpoint", PASS, ["/ckpt/checkpoint-100"]),
    ("no checkpoint", ev(checkpoints=()), "checkpoint", FAIL, ["no checkpoint was recorded"]),
    (
        "checkpoint gone",
        ev(checkpoints=(CheckpointRef("best", "/gone", False, "/gone"),)),
        "checkpoint",
        FAIL,
        ["gone", "/gone"],
    ),
    (
        "checkpoint elsewhere",
        ev(checkpoints=(CheckpointRef("best", "/pod/ckpt", None, "/pod/ckpt"),)),
        "checkpoint",
        PASS,
        ["not verified"],
    ),
    # no_nan
    ("all finite", ev(), "no_nan", PASS, ["no NaN"]),
    (
        "valid loss NaN",
        ev(curves(valid__loss=[*line(2.5, 1.5, EVALS[:5]), (50, math.nan)])),
        "no_nan",
        FAIL,
        ["valid/loss is nan at step 50"],
    ),
    (
        "null is NaN",
        ev(curves(valid__loss=[(0, 2.5), (10, None), (20, 2.0)])),
        "no_nan",
        FAIL,
        ["valid/loss is nan at step 10"],
    ),
    (
        "infinite grad norm",
        ev(curves(train__grad_norm=[(1, 1.0), (2, math.inf)])),
        "no_nan",
        FAIL,
        ["train/grad_norm is inf at step 2"],
    ),
    (
        "trainer stopped on NaN loss",
        ev(state="failed", reason="loss is nan at step 57: training diverged (lower trainer.lr, …)"),
        "no_nan",
        FAIL,
        ["the trainer stopped", "loss is nan at step 57"],
    ),
    # train_converges
    ("train loss falls", ev(), "train_converges", PASS, ["fell from"]),
    (
        "train loss rises",
        ev(curves(train__loss=line(1.0, 3.0, STEPS))),
        "train_converges",
        FAIL,
        ["rose", "too high"],
    ),
    (
        "train loss flat",
        ev(curves(train__loss=[(s, 2.0) for s in STEPS])),
        "train_converges",
        FAIL,
        ["did not fall", "not learning"],
    ),
    (
        "spike then flat",
        ev(curves(train__loss=[(s, 9.0 if s == 3 else 2.0) for s in STEPS])),
        "train_converges",
        FAIL,
        ["jumping to 9 at step 3", "too high"],
    ),
    (
        "falls then diverges",
        ev(curves(train__loss=v_shape(3.0, 0.5, 2.0, STEPS, 50))),
        "train_converges",
        FAIL,
        ["diverged", "fell to 0.5"],
    ),
    (
        "jitter near zero is not divergence",
        ev(curves(train__loss=line(2.0, 1e-4, STEPS[:60]) + [(s, 3e-4) for s in STEPS[60:]])),
        "train_converges",
        PASS,
        ["fell from"],
    ),
    ("too few points", ev(curves(train__loss=[(1, 2.0), (2, 1.5)])), "train_converges", SKIP, ["too few"]),
    # no_overfitting
    ("valid falls", ev(), "no_overfitting", PASS, ["valid loss fell from 2.5"]),
    (
        "valid rises while train falls",
        ev(curves(valid__loss=v_shape(2.5, 1.0, 1.6, EVALS, 3))),
        "no_overfitting",
        FAIL,
        ["overfitting", "rose 60%", "step 30", "while train loss fell"],
    ),
    (
        "valid rises, train already at its floor",
        ev(
            curves(
                valid__loss=v_shape(2.5, 1.0, 1.6, EVALS, 5),
                train__loss=[*line(2.0, 0.01, STEPS[:40]), *[(s, 0.01) for s in STEPS[40:]]],
            )
        ),
        "no_overfitting",
        FAIL,
        ["overfitting", "while train loss stayed"],
    ),
    (
        "valid and train rise",
        ev(
            curves(
                valid__loss=v_shape(2.5, 1.0, 1.6, EVALS, 3), train__loss=v_shape(2.0, 0.5, 1.5, STEPS, 30)
            )
        ),
        "no_overfitting",
        FAIL,
        ["unstable", "lower trainer.lr"],
    ),
    (
        "valid never improves, train flat",
        ev(curves(valid__loss=line(2.5, 3.5, EVALS), train__loss=[(s, 2.0) for s in STEPS])),
        "no_overfitting",
        FAIL,
        ["never improved on step 0", "too high"],
    ),
    (
        "valid never improves, train falls",
        ev(curves(valid__loss=line(2.5, 3.0, EVALS))),
        "no_overfitting",
        FAIL,
        ["never improved", "without generalising"],
    ),
    (
        "valid never improves, train falls a little, metric collapses",
        ev(
            curves(
                valid__loss=line(2.5, 3.0, EVALS),
                eval__ndcg_at_10=[(s, 0.6 if s == 0 else 0.02) for s in EVALS],
            )
        ),
        "no_overfitting",
        FAIL,
        ["never improved", "collapsed from 0.6000", "too high"],
    ),
    (
        "gap widens",
        ev(
            curves(
                valid__loss=v_shape(2.5, 1.0, 1.05, EVALS, 2), train__loss=v_shape(2.0, 1.0, 0.05, STEPS, 20)
            )
        ),
        "no_overfitting",
        FAIL,
        ["gap widened"],
    ),
    (
        "small rise is tolerated",
        ev(curves(valid__loss=v_shape(2.5, 1.0, 1.05, EVALS, 8))),
        "no_overfitting",
        PASS,
        ["lowest 1"],
    ),
    ("no valid loss", ev(curves(valid__loss=None)), "no_overfitting", SKIP, ["valid_pairs"]),
    # beats_step0
    ("improves", ev(), "beats_step0", PASS, ["best eval/ndcg_at_10 0.5500 at step 100", "+0.2500"]),
    (
        "worse than step 0",
        ev(curves(eval__ndcg_at_10=line(0.3, 0.1, EVALS))),
        "beats_step0",
        FAIL,
        ["no improvement over the base model"],
    ),
    (
        "best is kept, final dropped",
        ev(curves(eval__ndcg_at_10=[(0, 0.3), (10, 0.6), (20, 0.35)])),
        "beats_step0",
        PASS,
        ["at step 10", "final 0.3500"],
    ),
    ("only step 0", ev(curves(eval__ndcg_at_10=[(0, 0.3)])), "beats_step0", SKIP, ["no evaluation after"]),
    # not_abnormally_low
    ("above floor", ev(), "not_abnormally_low", PASS, ["≥ floor 0.05", "no baseline given"]),
    (
        "collapsed",
        ev(curves(eval__ndcg_at_10=[(0, 0.3), *line(0.04, 0.01, EVALS[1:])])),
        "not_abnormally_low",
        FAIL,
        ["below the floor", "broken"],
    ),
    ("below BM25", ev(baseline=BM25_HIGH), "not_abnormally_low", FAIL, ["does not beat BM25 (0.6000"]),
    ("beats BM25", ev(baseline=BM25_LOW), "not_abnormally_low", PASS, ["beats BM25 (0.3500)"]),
]


@pytest.mark.parametrize(("case", "evidence", "rule", "status", "words"), CASES, ids=[c[0] for c in CASES])
def test_rule(case: str, evidence: Evidence, rule: str, status: str, words: list[str]) -> None:
    outcome = judge(evidence).outcome(rule)
    assert outcome.status == status, outcome.reason
    for word in words:
        assert word in outcome.reason, f"{word!r} not in {outcome.reason!r}"


THRESHOLD_CASES = [
    ("min_improvement", {"min_improvement": 0.3}, "beats_step0", FAIL),
    ("min_metric", {"min_metric": 0.9}, "not_abnormally_low", FAIL),
    ("bm25_margin", {"bm25_margin": 0.25}, "not_abnormally_low", FAIL),
    ("overfit_rise lenient", {"overfit_rise": 1.0, "gap_growth": 5}, "no_overfitting", PASS),
    ("min_train_drop strict", {"min_train_drop": 0.9}, "train_converges", FAIL),
    ("another objective", {"metric": "eval/recall_at_10"}, "beats_step0", PASS),
    ("a loss as objective", {"metric": "valid/loss"}, "beats_step0", PASS),
]


@pytest.mark.parametrize(
    ("case", "overrides", "rule", "status"), THRESHOLD_CASES, ids=[c[0] for c in THRESHOLD_CASES]
)
def test_thresholds_change_the_outcome(case: str, overrides: dict, rule: str, status: str) -> None:
    curves_ = curves(valid__loss=v_shape(2.5, 1.0, 1.6, EVALS, 3))
    th = Thresholds().with_overrides([f"{k}={v}" for k, v in overrides.items()])
    evidence = ev(curves_ if rule == "no_overfitting" else None, baseline=BM25_LOW)
    assert judge(evidence, th).outcome(rule).status == status


def test_a_healthy_run_passes_every_rule_and_fails_none() -> None:
    verdict = judge(ev())
    assert verdict.passed
    assert [o.rule for o in verdict.outcomes] == [r.__name__ for r in RULES]
    assert {o.status for o in verdict.outcomes} == {PASS}


def test_a_verdict_fails_when_any_rule_fails() -> None:
    verdict = judge(ev(state="running"))
    assert not verdict.passed
    assert [o.rule for o in verdict.failures] == ["finished"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["nope=1"], "unknown threshold 'nope'; thresholds are: metric"),
        (["overfit_rise"], "not of the form key=value"),
        (["overfit_rise=lots"], "overfit_rise: 'lots' is not a valid float"),
        (["loss_window=2.5"], "loss_window: '2.5' is not a valid int"),
        (["loss_window=0"], "loss_window must be >= 1"),
        (["min_metric=nan"], "not a valid float"),
    ],
)
def test_bad_thresholds_are_clear_config_errors(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Thresholds().with_overrides(overrides)


def test_thresholds_parse_numbers_like_a_command_line() -> None:
    th = Thresholds().with_overrides(["min_improvement=1e-3", "loss_window=7", "metric=eval/mrr_at_10"])
    assert (th.min_improvement, th.loss_window, th.metric) == (0.001, 7, "eval/mrr_at_10")
    assert th.with_overrides({"loss_window": 3}).loss_window == 3
    assert set(Thresholds.help()) == set(Thresholds.keys())


def test_running_medians_ignore_one_odd_value() -> None:
    assert running_medians([2.0, 9.0, 2.0, 2.0, 0.0, 2.0], 3) == [2.0, 2.0, 2.0, 2.0]
    assert running_medians([1.0, 2.0], 5) == [1.5]


def test_rules_read_no_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    judge(ev())
    assert list(tmp_path.iterdir()) == []


def test_resuming_is_suggested_only_when_it_can_help() -> None:
    stopped = ev(state="failed", reason="SIGTERM received; checkpoint saved")
    assert "resumes" in judge(stopped).outcome("finished").reason
    diverged = ev(state="failed", reason="loss is nan at step 2: training diverged", checkpoints=())
    assert "resumes" not in judge(diverged).outcome("finished").reason


def test_a_run_evaluated_only_at_step_0_is_not_judged_on_its_base_model() -> None:
    only_base = ev(curves(eval__ndcg_at_10=[(0, 0.6)]))
    assert judge(only_base).outcome("not_abnormally_low").status == SKIP
