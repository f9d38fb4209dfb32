"""The charts are looked at: rendered to PNG, their series checked, and Korean text checked for missing glyphs."""

from __future__ import annotations

import io
import logging
import math
import re
import warnings

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.image import imread

from lexdpr.runs import charts
from lexdpr.runs.baseline import Baseline
from lexdpr.runs.discovery import select_runs
from lexdpr.runs.fonts import HANGUL_PROBE, find_hangul_font, missing_glyphs
from tests.runs.conftest import RealRuns
from tests.runs.synthetic import healthy_curves, history, line


@pytest.fixture(scope="module")
def font():
    found = find_hangul_font()
    assert found is not None, (
        "no Hangul font: the koreanize-matplotlib dependency (or fonts-nanum) is missing"
    )
    return found


def axes_by_key(figure: Figure) -> dict:
    return {ax.get_gid(): ax for ax in figure.axes}


def labelled(ax) -> dict[str, object]:
    return {line.get_label(): line for line in ax.get_lines()}


def all_text(figure: Figure) -> str:
    texts = [t.get_text() for t in figure.findobj(match=lambda a: hasattr(a, "get_text"))]
    return "".join(texts)


def test_real_runs_overlaid_have_every_expected_series(real_runs: RealRuns, font) -> None:
    healthy, high = select_runs(real_runs.root, ["healthy", "lrtoohigh"])
    plotted = [charts.Plotted(r.run_id, r.history) for r in (healthy, high)]
    figure = charts.grid(plotted, font)
    axes = axes_by_key(figure)
    expected_panels = {"loss", "lr", "grad_norm"} | {n for n in healthy.history.names("eval/")}
    assert set(axes) == expected_panels
    assert len(expected_panels) == 3 + 9  # ndcg and recall at 1, 3, 5, 10, and mrr at 10

    loss = labelled(axes["loss"])
    for run in (healthy, high):
        train, valid = run.history.get("train/loss"), run.history.get("valid/loss")
        line_t, line_v = loss[f"{run.run_id} train/loss"], loss[f"{run.run_id} valid/loss"]
        assert list(line_t.get_xdata()) == list(train.steps) and list(line_t.get_ydata()) == list(
            train.values
        )
        assert list(line_v.get_xdata()) == list(valid.steps) and list(line_v.get_ydata()) == list(
            valid.values
        )
        assert line_v.get_xdata()[0] == 0  # the base model's evaluation starts the curve
    assert (
        loss["healthy train/loss"].get_color() == loss["healthy valid/loss"].get_color()
    )  # one colour per run
    assert loss["healthy train/loss"].get_color() != loss["lrtoohigh train/loss"].get_color()

    ndcg = labelled(axes["eval/ndcg_at_10"])
    assert set(ndcg) == {"healthy", "lrtoohigh"}
    assert list(ndcg["healthy"].get_ydata()) == list(healthy.history.get("eval/ndcg_at_10").values)
    assert set(labelled(axes["lr"])) == {"healthy", "lrtoohigh"}
    assert max(labelled(axes["lr"])["lrtoohigh"].get_ydata()) == pytest.approx(5.0)
    legend = [t.get_text() for t in axes["loss"].get_legend().get_texts()]
    assert legend == [
        "healthy train/loss",
        "healthy valid/loss",
        "lrtoohigh train/loss",
        "lrtoohigh valid/loss",
    ]

    png = charts.to_png(figure, font)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000
    pixels = imread(io.BytesIO(png))[..., :3]
    height, width = pixels.shape[:2]
    assert (width, height) == (int(6.0 * 3 * 110), int(3.6 * 4 * 110))  # 3 columns x 4 rows of panels
    assert (pixels < 0.9).any(axis=2).mean() > 0.05  # drawn, not blank
    blue = np.array([0x1F, 0x77, 0xB4]) / 255
    assert (np.abs(pixels - blue).max(axis=2) < 0.02).sum() > 200  # the first run's colour is on the image


def test_korean_labels_have_every_glyph(real_runs: RealRuns, font, caplog: pytest.LogCaptureFixture) -> None:
    healthy, high = select_runs(real_runs.root, ["healthy", "lrtoohigh"])
    plotted = [charts.Plotted("건강한 실행", healthy.history), charts.Plotted("학습률 과다", high.history)]
    figure = charts.grid(plotted, font, title="학습 기록 · 손실")
    assert axes_by_key(figure)["lr"].get_yscale() == "log"  # log ticks too: their labels must render
    with warnings.catch_warnings(), caplog.at_level(logging.WARNING, logger="matplotlib"):
        warnings.simplefilter(
            "error"
        )  # matplotlib warns "Glyph … missing from font(s)" when a glyph is absent
        charts.to_png(figure, font)
        svg = charts.to_svg(figure, font)
    assert not [r.getMessage() for r in caplog.records if "glyph" in r.getMessage()]  # mathtext logs instead
    text = all_text(figure)
    assert re.search("[가-힣]", text)
    assert missing_glyphs(font.path, text) == []
    assert svg.count("<path") > 100


def test_without_a_hangul_font_matplotlib_would_draw_boxes() -> None:
    """The control for the test above: the glyph warning it turns into an error does fire."""
    figure = charts.grid([charts.Plotted("한글", history(healthy_curves(20, 10)))], None)
    with pytest.warns(UserWarning, match="missing from font"):
        charts.to_png(figure, None)


def test_the_font_covers_the_probe_and_is_not_imported_as_a_package(font) -> None:
    import sys

    assert missing_glyphs(font.path, HANGUL_PROBE) == []
    assert (
        "koreanize_matplotlib" not in sys.modules
    )  # importing it would rewrite matplotlib's global settings


def test_long_train_loss_is_smoothed_and_non_finite_values_are_marked(font) -> None:
    curves = healthy_curves(100, 10)
    curves["valid/loss"] = [*line(2.5, 1.5, range(0, 50, 10)), (50, math.nan)]
    baseline = Baseline("BM25", {"eval/ndcg_at_10": 0.42}, "fp-test", "bm25.json")
    figure = charts.grid([charts.Plotted("r1", history(curves))], font, baseline)
    axes = axes_by_key(figure)
    loss = labelled(axes["loss"])
    assert {
        "_r1 train/loss (raw)",
        "r1 train/loss",
        "r1 valid/loss",
        "r1 valid/loss = nan at step 50",
    } <= set(loss)
    assert loss["r1 train/loss"].get_ydata()[0] == pytest.approx(2.0)
    assert len(loss["r1 train/loss"].get_ydata()) == 100
    ndcg = labelled(axes["eval/ndcg_at_10"])
    assert "BM25 0.420" in ndcg
    assert "eval/recall_at_10" in axes and "BM25" not in " ".join(labelled(axes["eval/recall_at_10"]))


def test_svg_output_draws_text_as_paths(font) -> None:
    chart = charts.charts([charts.Plotted("r1", history(healthy_curves(20, 10)))], font)[0]
    svg = charts.to_svg(chart.figure, font)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "font-family" not in svg and "<text" not in svg
    assert chart.title == "Loss · 손실 (train 학습 / valid 검증)"


def test_metric_titles_are_bilingual() -> None:
    assert charts.metric_title("eval/ndcg_at_10") == "eval/ndcg_at_10 · 검색 순위 품질 @10"
    assert charts.metric_title("eval/custom") == "eval/custom"
