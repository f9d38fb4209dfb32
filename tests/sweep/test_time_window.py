"""Time windows with a fake clock: parsing, open/closed, seconds to the edges, across midnight, decisions."""

from __future__ import annotations

from datetime import datetime

import pytest

from lexdpr.errors import ConfigError
from lexdpr.sweep.time_window import TimeWindow, decide, expected_duration

H = 3600.0


def at(hour: int, minute: int = 0, second: int = 0, day: int = 10) -> datetime:
    """A local wall-clock time (naive: the arithmetic is DST-free)."""
    return datetime(2025, 3, day, hour, minute, second)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("1-8", 60, 480),
        ("22-6", 1320, 360),
        (" 1:30 - 7:45 ", 90, 465),
        ("0-24", 0, 1440),
        ("22-0", 1320, 1440),
        ("22-24", 1320, 1440),
        ("0-1", 0, 60),
    ],
)
def test_parse(text: str, start: int, end: int) -> None:
    window = TimeWindow.parse(text)
    assert (window.start, window.end) == (start, end)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8", "expected START-END"),
        ("a-b", "expected START-END"),
        ("1-8-9", "expected START-END"),
        ("25-3", "not a time of day"),
        ("1:60-3", "not a time of day"),
        ("24-3", "start must be before 24:00"),
        ("5-5", "start and end are equal"),
        ("", "expected START-END"),
    ],
)
def test_parse_errors_name_the_window(text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        TimeWindow.parse(text)


# (window, now, open?, seconds until open, seconds until close)
MOMENTS = [
    ("1-8", at(0, 59), False, 60.0, 0.0),
    ("1-8", at(1, 0), True, 0.0, 7 * H),
    ("1-8", at(7, 59, 30), True, 0.0, 30.0),
    ("1-8", at(8, 0), False, 17 * H, 0.0),  # [start, end): closed at 8:00 sharp
    ("1-8", at(12, 0), False, 13 * H, 0.0),
    ("22-6", at(23, 0), True, 0.0, 7 * H),  # across midnight
    ("22-6", at(0, 30), True, 0.0, 5.5 * H),
    ("22-6", at(5, 59), True, 0.0, 60.0),
    ("22-6", at(6, 0), False, 16 * H, 0.0),
    ("22-6", at(21, 0), False, 1 * H, 0.0),
    ("22-0", at(23, 30), True, 0.0, 0.5 * H),
    ("0-24", at(13, 37), True, 0.0, float("inf")),
]


@pytest.mark.parametrize(
    ("text", "now", "is_open", "until_open", "until_close"),
    MOMENTS,
    ids=[f"{m[0]}@{m[1]:%H:%M:%S}" for m in MOMENTS],
)
def test_moments(text: str, now: datetime, is_open: bool, until_open: float, until_close: float) -> None:
    window = TimeWindow.parse(text)
    assert window.is_open(now) is is_open
    assert window.seconds_until_open(now) == pytest.approx(until_open)
    assert window.seconds_until_close(now) == pytest.approx(until_close)


def test_can_finish_needs_the_whole_duration_before_close() -> None:
    window = TimeWindow.parse("22-6")
    assert window.can_finish(at(23, 0), 7 * H)
    assert not window.can_finish(at(23, 0), 7 * H + 1)
    assert not window.can_finish(at(12, 0), 60)  # closed
    assert TimeWindow.parse("0-24").can_finish(at(12, 0), 1e9)


def test_dst_free_wall_clock_ignores_the_date() -> None:
    """The same wall-clock time gives the same answers on any day (DST change nights included)."""
    window = TimeWindow.parse("1-8")
    assert (
        window.seconds_until_close(at(2, 0, day=30)) == window.seconds_until_close(at(2, 0, day=1)) == 6 * H
    )


# (window, now, expected duration, exit outside?, action, wait seconds)
DECISIONS = [
    (None, at(12), 10 * H, False, "start", 0.0),
    ("1-8", at(2), None, False, "start", 0.0),  # no finished trial yet: start, and learn
    ("1-8", at(2), 5 * H, False, "start", 0.0),
    ("1-8", at(7), 2 * H, False, "wait", 18 * H),  # would run past 8:00: wait for tomorrow's 1:00
    ("1-8", at(7), 2 * H, True, "exit", 0.0),
    ("1-8", at(12), 1 * H, False, "wait", 13 * H),
    ("1-8", at(12), None, True, "exit", 0.0),
    ("22-6", at(4), 1 * H, False, "start", 0.0),
    ("22-6", at(5, 30), 1 * H, False, "wait", 16.5 * H),
]


@pytest.mark.parametrize(("text", "now", "duration", "exit_outside", "action", "wait"), DECISIONS)
def test_decide(text, now, duration, exit_outside, action, wait) -> None:
    window = TimeWindow.parse(text) if text else None
    decision = decide(window, now, duration, exit_outside)
    assert decision.action == action
    assert decision.wait_s == pytest.approx(wait)
    if action != "start":
        assert "window" in decision.reason


def test_expected_duration_is_a_high_percentile_of_what_was_observed() -> None:
    assert expected_duration([]) is None
    assert expected_duration([100.0]) == 100.0
    assert expected_duration([10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 1000.0]) == 90.0
    assert expected_duration([5.0, 50.0]) == 50.0  # few trials: the longest
