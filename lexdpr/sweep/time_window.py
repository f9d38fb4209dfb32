"""Daily time windows for sweep agents (`--time-window "1-8"`, `"22-6"`): the one implementation of the arithmetic.

An agent that shares a machine with people (a workstation, a lab GPU) may only start trials at night. This
module answers, for a given local wall-clock time: is the window open, how long until it opens or closes,
and can a trial of an expected duration still finish before it closes. `decide` turns those answers into
what an agent does next (start, wait, exit).

Everything here is pure: the caller passes `now`, so tests use a fake clock and a later Kubernetes CronJob
agent can reuse it unchanged. Times are local *wall-clock* times and the arithmetic ignores DST: on the
night clocks change, a window may be an hour longer or shorter than written. That is the price of
"1-8 means 01:00 to 08:00 on the clock on the wall", which is what users mean.

A window is half-open, `[start, end)`: "1-8" is open at 01:00 and at 07:59, closed at 08:00. "22-6" spans
midnight. "0-24" is always open. Minutes are allowed: "1:30-7:45".
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lexdpr.errors import ConfigError

DAY = 24 * 60  # minutes
_PATTERN = re.compile(r"^\s*(\d{1,2})(?::(\d{2}))?\s*-\s*(\d{1,2})(?::(\d{2}))?\s*$")
#: Share of the observed trial durations a trial is expected to stay under (nearest-rank percentile):
#: trials of one sweep differ a lot (a larger model, batch or max_len), so the median would start too many
#: trials that then run past the window's end.
DURATION_PERCENTILE = 0.9


@dataclass(frozen=True)
class TimeWindow:
    """A daily window `[start, end)` in minutes after local midnight.

    `start` is in [0, 1440), `end` in (0, 1440]; an `end` before `start` means the window spans midnight.
    """

    start: int
    end: int

    @classmethod
    def parse(cls, text: str) -> TimeWindow:
        """`"1-8"`, `"22-6"`, `"1:30-7:45"`, `"0-24"` (always open)."""
        match = _PATTERN.match(text or "")
        if not match:
            raise ConfigError(
                f"time window {text!r}: expected START-END in local hours, e.g. '1-8' (01:00 to 08:00), "
                "'22-6' (across midnight) or '1:30-7:45'"
            )
        start = _minutes(text, match.group(1), match.group(2))
        end = _minutes(text, match.group(3), match.group(4))
        if start == DAY:
            raise ConfigError(f"time window {text!r}: the start must be before 24:00")
        if end == 0:
            end = DAY  # "22-0" and "22-24" both end at midnight
        if start == end:
            raise ConfigError(f"time window {text!r}: start and end are equal; use '0-24' for 'always'")
        return cls(start, end)

    @property
    def always_open(self) -> bool:
        return self.start == 0 and self.end == DAY

    @property
    def length_minutes(self) -> int:
        return (self.end - self.start) % DAY or DAY

    def __str__(self) -> str:
        return f"{_clock(self.start)}-{_clock(self.end)}"

    # --- questions about one moment ---------------------------------------------------------------------

    def is_open(self, now: datetime) -> bool:
        if self.always_open:
            return True
        minute = _minute_of_day(now)
        return (minute - self.start) % DAY < self.length_minutes

    def seconds_until_open(self, now: datetime) -> float:
        """0 while open; else the seconds until the next opening."""
        if self.is_open(now):
            return 0.0
        return _seconds_until(now, self.start)

    def seconds_until_close(self, now: datetime) -> float:
        """While open, the seconds until this opening ends (`inf` for an always-open window); 0 while closed."""
        if self.always_open:
            return math.inf
        if not self.is_open(now):
            return 0.0
        return _seconds_until(now, self.end % DAY)

    def seconds_until_next_open_after_close(self, now: datetime) -> float:
        """While open: seconds until the *next* opening (after this one closes); while closed: until the next."""
        if not self.is_open(now):
            return self.seconds_until_open(now)
        return self.seconds_until_close(now) + (DAY - self.length_minutes) * 60

    def can_finish(self, now: datetime, duration_s: float) -> bool:
        """Is the window open now and will it still be open after `duration_s` seconds?"""
        return self.is_open(now) and duration_s <= self.seconds_until_close(now)


@dataclass(frozen=True)
class WindowDecision:
    """What an agent does next: start a trial now, wait `wait_s` seconds, or exit; `reason` says why."""

    action: Literal["start", "wait", "exit"]
    wait_s: float = 0.0
    reason: str = ""


def decide(
    window: TimeWindow | None, now: datetime, expected_duration_s: float | None, exit_outside: bool
) -> WindowDecision:
    """Start only inside the window and only a trial that can finish before it closes.

    Without an estimate of the duration (no trial has finished yet) a trial starts whenever the window is
    open: the first trial is how the sweep learns how long trials take.
    """
    if window is None or window.always_open:
        return WindowDecision("start")
    if window.is_open(now):
        left = window.seconds_until_close(now)
        if expected_duration_s is None or expected_duration_s <= left:
            return WindowDecision("start")
        reason = f"the window {window} closes in {_human(left)} and trials take about {_human(expected_duration_s)}"
        wait = window.seconds_until_next_open_after_close(now)
    else:
        reason = f"outside the window {window}"
        wait = window.seconds_until_open(now)
    if exit_outside:
        return WindowDecision("exit", 0.0, reason)
    return WindowDecision("wait", wait, f"{reason}; next opening in {_human(wait)}")


def expected_duration(durations: Sequence[float]) -> float | None:
    """The duration a new trial is expected to stay under, from the sweep's finished trials (None if none)."""
    ordered = sorted(d for d in durations if d > 0 and math.isfinite(d))
    if not ordered:
        return None
    rank = max(1, math.ceil(DURATION_PERCENTILE * len(ordered)))
    return ordered[rank - 1]


def zone_clock(time_zone: str | None) -> Callable[[], datetime]:
    """`now` on the wall clock of `time_zone` (an IANA name such as Asia/Seoul); this machine's without one.

    A window's hours are the user's: "1-8" with Asia/Seoul is 01:00-08:00 in Seoul even on a server in UTC.
    """
    if not time_zone:
        return datetime.now
    try:
        zone = ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"time zone {time_zone!r} is unknown (use an IANA name such as Asia/Seoul)"
        ) from None
    return lambda: datetime.now(zone)


# --- helpers ------------------------------------------------------------------------------------------


def _minutes(text: str, hours: str, minutes: str | None) -> int:
    h, m = int(hours), int(minutes or 0)
    if h > 24 or m > 59 or (h == 24 and m):
        raise ConfigError(
            f"time window {text!r}: {hours}:{minutes or '00'} is not a time of day (00:00-24:00)"
        )
    return h * 60 + m


def _minute_of_day(now: datetime) -> float:
    return now.hour * 60 + now.minute + now.second / 60 + now.microsecond / 60e6


def _seconds_until(now: datetime, minute: int) -> float:
    """Seconds from `now` until the wall clock next shows `minute` (strictly later, up to a day)."""
    delta = (minute - _minute_of_day(now)) % DAY
    return delta * 60 if delta else DAY * 60.0


def _clock(minute: int) -> str:
    h, m = divmod(minute, 60)
    return f"{h}" if not m else f"{h}:{m:02d}"


def _human(seconds: float) -> str:
    if math.isinf(seconds):
        return "never"
    if seconds < 90:
        return f"{round(seconds)} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"
