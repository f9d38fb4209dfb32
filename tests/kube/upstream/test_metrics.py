"""parse_metrics / objective_value: Katib's TEXT metrics collector and getMetrics, per version."""

from __future__ import annotations

import pytest

from tests.kube.upstream.katib import (
    DEFAULT_METRICS_FILTER,
    KATIB_VERSIONS,
    UNAVAILABLE_METRIC_VALUE,
    AmbiguousMetricError,
    Observation,
    objective_value,
    parse_metrics,
)

ZERO = "0001-01-01T00:00:00Z"
UPSTREAM_FORMAT = r"{metricName: ([\w|-]+), metricValue: ((-?\d+)(\.\d+)?)}"
#: metricsFormat of manifests/katib-experiment.yaml (allows '/' in names)
OUR_FORMAT = r"([\w|/-]+)\s*=\s*([+-]?\d*(\.\d+)?([Ee][+-]?\d+)?)"


# file-metricscollector_test.go TestCollectObservationLog, "Positive case for logs in TEXT format"
# (identical at v0.17.0, v0.18.0, v0.19.0)
UPSTREAM_TEXT_LOG = """2024-03-04T17:55:08Z INFO     {metricName: accuracy, metricValue: 0.8078};{metricName: loss, metricValue: 0.5183}
2024-03-04T17:55:08Z INFO     {metricName: accuracy, metricValue: 0.6752}
2024-03-04T17:55:08Z INFO     {metricName: loss, metricValue: 0.3634}
2024-03-04T17:55:08Z INFO     {metricName: accuracy, metricValue: 100}
2024-03-04T17:55:08Z INFO     {metricName: accuracy, metricValue: 888.333}
2024-03-04T17:55:08Z INFO     {metricName: accuracy, metricValue: -0.4759}
{metricName: loss, metricValue: 0.8671}"""


@pytest.mark.parametrize("version", KATIB_VERSIONS)
def test_upstream_text_case(version):
    obs = parse_metrics(UPSTREAM_TEXT_LOG.split("\n"), ["accuracy", "loss"], [UPSTREAM_FORMAT], version)
    ts = "2024-03-04T17:55:08Z"
    assert [(o.name, o.value, o.timestamp) for o in obs] == [
        ("accuracy", "0.8078", ts),
        ("loss", "0.5183", ts),
        ("accuracy", "0.6752", ts),
        ("loss", "0.3634", ts),
        ("accuracy", "100", ts),
        ("accuracy", "888.333", ts),
        ("accuracy", "-0.4759", ts),
        ("loss", "0.8671", ZERO),
    ]


@pytest.mark.parametrize(
    "log",
    [
        # "Invalid case for logs in TEXT format"
        """2024-03-04T17:55:08Z INFO     {metricName: accuracy, metricValue: .333}
2024-03-04T17:55:08Z INFO     {metricName: accuracy, metricValue: -.333}
2024-03-04T17:55:08Z INFO     {metricName: accuracy, metricValue: - 345.333}
2024-03-04T17:55:08Z INFO     {metricName: accuracy, metricValue: 888.}""",
        # "Invalid formatted file for logs in TEXT format"
        """2024-03-04T17:55:08Z INFO     {metricName: accuracy, metricValue: 0.6752
2024-03-04T17:55:08Z INFO     {metricName: loss, metricValue: 0.3634}""",
    ],
)
def test_upstream_text_cases_without_objective_give_unavailable(log):
    obs = parse_metrics(log.split("\n"), ["accuracy", "loss"], [UPSTREAM_FORMAT], "0.19")
    assert obs == [Observation("accuracy", UNAVAILABLE_METRIC_VALUE, ZERO)]
    assert objective_value(obs, "accuracy", "latest") is None


def test_lines_with_timestamps_keep_them():
    lines = [
        "2026-12-02T10:00:00.250Z eval/ndcg_at_10=0.41 eval/recall_at_10=0.70",
        "2026-12-02T19:00:01+09:00 eval/ndcg_at_10=0.44",
        "eval/ndcg_at_10=0.39",
        "2026-12-02 10:00:02Z eval/ndcg_at_10=0.40",  # not RFC 3339: no timestamp
    ]
    for v in KATIB_VERSIONS:
        obs = parse_metrics(lines, ["eval/ndcg_at_10", "eval/recall_at_10"], [OUR_FORMAT], v)
        assert [(o.name, o.value, o.timestamp) for o in obs] == [
            ("eval/ndcg_at_10", "0.41", "2026-12-02T10:00:00.250Z"),
            ("eval/recall_at_10", "0.70", "2026-12-02T10:00:00.250Z"),
            ("eval/ndcg_at_10", "0.44", "2026-12-02T19:00:01+09:00"),
            ("eval/ndcg_at_10", "0.39", ZERO),
            ("eval/ndcg_at_10", "0.40", ZERO),
        ]


def test_default_filter_does_not_match_slash_names():
    line = "eval/ndcg_at_10=0.41"
    # the default filter's name class [\w|-] has no '/': it captures "ndcg_at_10"
    assert parse_metrics([line], ["eval/ndcg_at_10"], [], "0.19") == [
        Observation("eval/ndcg_at_10", UNAVAILABLE_METRIC_VALUE, ZERO)
    ]
    assert parse_metrics([line], ["ndcg_at_10"], [DEFAULT_METRICS_FILTER], "0.19")[0].value == "0.41"


def test_only_requested_names_and_whole_names_are_kept():
    lines = ["step=3 loss=0.5 valid/loss=0.7 loss_scale=128"]
    obs = parse_metrics(lines, ["valid/loss", "loss"], [OUR_FORMAT], "0.18")
    assert [(o.name, o.value) for o in obs] == [("loss", "0.5"), ("valid/loss", "0.7")]


def test_non_ascii_word_characters_are_not_word_characters():
    # RE2's \w is ASCII-only: a Hangul prefix is not part of the metric name
    obs = parse_metrics(["검증loss=0.5"], ["loss"], [DEFAULT_METRICS_FILTER], "0.19")
    assert [(o.name, o.value) for o in obs] == [("loss", "0.5")]


# --------------------------------------------------------------------------- getMetrics


def test_latest_without_timestamps_is_ambiguous():
    lines = ["eval/ndcg_at_10=0.41", "eval/ndcg_at_10=0.47", "eval/ndcg_at_10=0.44"]
    obs = parse_metrics(lines, ["eval/ndcg_at_10"], [OUR_FORMAT], "0.19")
    assert {o.timestamp for o in obs} == {ZERO}
    with pytest.raises(AmbiguousMetricError, match="3 different values"):
        objective_value(obs, "eval/ndcg_at_10", "latest")
    # min/max do not depend on the order
    assert objective_value(obs, "eval/ndcg_at_10", "max") == pytest.approx(0.47)
    assert objective_value(obs, "eval/ndcg_at_10", "min") == pytest.approx(0.41)


def test_latest_with_strictly_increasing_timestamps_is_the_last_printed():
    lines = [
        "2026-12-02T10:00:00.000001Z eval/ndcg_at_10=0.41",
        "2026-12-02T10:00:00.000002Z eval/ndcg_at_10=0.47",
        "2026-12-02T10:00:00.000003Z eval/ndcg_at_10=0.44",
    ]
    obs = parse_metrics(lines, ["eval/ndcg_at_10"], [OUR_FORMAT], "0.17")
    assert objective_value(obs, "eval/ndcg_at_10", "latest") == pytest.approx(0.44)
    # the DB orders by time, not by printing order
    shuffled = [obs[2], obs[0], obs[1]]
    assert objective_value(shuffled, "eval/ndcg_at_10", "latest") == pytest.approx(0.44)


def test_sub_microsecond_timestamps_tie_in_the_database():
    """observation_logs.time is DATETIME(6): nanosecond-distinct timestamps can tie."""
    lines = [
        "2026-12-02T10:00:00.000000100Z eval/ndcg_at_10=0.47",
        "2026-12-02T10:00:00.000000900Z eval/ndcg_at_10=0.44",
    ]
    obs = parse_metrics(lines, ["eval/ndcg_at_10"], [OUR_FORMAT], "0.19")
    with pytest.raises(AmbiguousMetricError):
        objective_value(obs, "eval/ndcg_at_10", "latest")


def test_ties_with_equal_values_are_not_ambiguous():
    obs = [Observation("m", "0.5"), Observation("m", "0.5")]
    assert objective_value(obs, "m", "latest") == 0.5


def test_unparsable_values_are_skipped_by_min_max():
    obs = [
        Observation("m", "nan?", "2026-01-01T00:00:00Z"),
        Observation("m", "0.3", "2026-01-01T00:00:01Z"),
        Observation("m", "1_0", "2026-01-01T00:00:02Z"),
    ]
    assert objective_value(obs, "m", "max") == 0.3
    # latest is the newest row even if it does not parse: upstream stores the raw string
    assert objective_value(obs, "m", "latest") is None
    assert objective_value([], "m", "max") is None
    with pytest.raises(ValueError, match="unknown metric strategy"):
        objective_value(obs, "m", "median")
