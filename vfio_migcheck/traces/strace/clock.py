"""strace timestamps → seconds, one clock per capture file.

``-t``/``-tt`` print the time of day and wrap at midnight: a time more than twelve hours
earlier than the previous one is taken as the next day. ``-ttt`` is epoch seconds (any
number of fractional digits, so nanosecond precision works too). ``-r`` prints the time
since the previous line, which the clock accumulates — so under ``-r`` every line must
pass through :meth:`Clock.value`, in order.
"""

from __future__ import annotations

DAY = 86400.0
_HALF_DAY = DAY / 2
EPOCH_THRESHOLD = 1e8  # below this a dotted number is a -r delta (or a tiny relative time)

TIME_OF_DAY = "time-of-day"
EPOCH = "epoch"
RELATIVE = "relative"


class Clock:
    """Stateful timestamp reader for one capture file."""

    __slots__ = ("mode", "_days", "_last_tod", "elapsed", "rollovers")

    def __init__(self) -> None:
        self.mode: str | None = None
        self._days = 0.0
        self._last_tod: float | None = None
        self.elapsed = 0.0
        self.rollovers = 0

    def anchor(self, text: str) -> None:
        """Start after this time-of-day stamp (another file's first line), so a file whose
        first line comes after midnight is placed on the next day (-ff merging)."""
        if ":" in text:
            try:
                hours, minutes, seconds = text.split(":")
                self._last_tod = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
            except ValueError:
                pass

    def value(self, text: str | None) -> float | None:
        """Seconds for one timestamp text (None when the line had no timestamp)."""
        if text is None:
            return None
        if self.mode is None:
            self.mode = detect_mode(text)
        try:
            return self._value(text)
        except ValueError:
            return None  # a malformed stamp: the event simply has no time

    def _value(self, text: str) -> float:
        if ":" in text:
            hours, minutes, seconds = text.split(":")
            tod = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
            if self._last_tod is not None and tod < self._last_tod - _HALF_DAY:
                self._days += DAY
                self.rollovers += 1
            self._last_tod = tod
            return self._days + tod
        number = float(text)
        if self.mode == RELATIVE:
            self.elapsed += number
            return self.elapsed
        return number


def detect_mode(text: str) -> str:
    if ":" in text:
        return TIME_OF_DAY
    try:
        return EPOCH if float(text) >= EPOCH_THRESHOLD else RELATIVE
    except ValueError:
        return EPOCH
