"""A device's state timeline as an SVG bar: one coloured segment per determined-state span,
with its stop windows (device not running) marked underneath.

Gaps in the bar are spans where the trace leaves the state open; they are not guessed.
The picture is only as tall as what it draws: the stop-window row exists only when the
device has a stop window, and the time labels sit right under the last row.
"""

from __future__ import annotations

from bisect import bisect_right
from html import escape

from vfio_migcheck.audit.timing import DeviceTiming

WIDTH, BAR_Y, BAR_H = 900, 4, 26
STOP_ROW_H = 8          # the stop-window row under the bar
TICK_H = 14             # the time labels under the last row
STATE_COLOURS = {
    "RUNNING": "#2e9d5b",
    "RUNNING_P2P": "#7cc48f",
    "PRE_COPY": "#3f7fd8",
    "PRE_COPY_P2P": "#8fb4ea",
    "STOP_COPY": "#e08a2c",
    "STOP": "#c8463d",
    "RESUMING": "#8e5cc7",
    "ERROR": "#111111",
}
OTHER_COLOUR = "#999999"
# Distinct from ERROR (near black) by lightness and from every state by hue; contrast
# ratios are held in tests/test_audit_report_scale.py (>= 3:1, the WCAG floor for graphics).
STOPPED_COLOUR = "#0e7490"
STOPPED_OPEN_COLOUR = "#3a93a8"
UNDETERMINED_COLOUR = "#e4e7ec"


def colour(state: str) -> str:
    return STATE_COLOURS.get(state, OTHER_COLOUR)


def format_seconds(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.3f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.0f} µs"


class Axis:
    """Time -> x, linear except that long quiet stretches are shortened (and marked).

    A capture often idles in RUNNING for minutes around a migration that takes
    milliseconds; drawn linearly, the migration would be invisible. Every stretch of known
    RUNNING (``quiet``) longer than ``cap`` (twice the rest of the time, at least 1/40 of the
    whole) is drawn ``cap`` long and marked with a break, so each segment keeps its true
    duration in its tooltip while the interesting part stays readable. Stretches where the
    state is undetermined are never shortened.
    """

    def __init__(self, points: list[float], quiet: list[tuple[float, float]]) -> None:
        self.points = sorted(set(points))
        total = self.points[-1] - self.points[0]
        pairs = list(zip(self.points, self.points[1:]))
        is_quiet = [any(q0 <= (a + b) / 2 <= q1 for q0, q1 in quiet) for a, b in pairs]
        busy = sum(b - a for (a, b), q in zip(pairs, is_quiet) if not q)
        self.cap = max(2 * busy, total / 40) if busy > 0 else float("inf")
        self.clipped = [q and b - a > self.cap for (a, b), q in zip(pairs, is_quiet)]
        widths = [self.cap if c else b - a for (a, b), c in zip(pairs, self.clipped)]
        shown = sum(widths) or 1.0
        self.scale = (WIDTH - 2) / shown
        self.offsets = [0.0]
        for w in widths:
            self.offsets.append(self.offsets[-1] + w)
        self.widths = widths

    def x(self, t: float) -> float:
        i = bisect_right(self.points, t) - 1
        i = min(max(i, 0), len(self.widths) - 1) if self.widths else 0
        if not self.widths:
            return 1.0
        real = self.points[i + 1] - self.points[i]
        frac = (t - self.points[i]) / real if real > 0 else 0.0
        frac = min(max(frac, 0.0), 1.0)
        return 1 + (self.offsets[i] + frac * self.widths[i]) * self.scale

    def breaks(self) -> list[float]:
        """x of the middle of every shortened stretch."""
        return [1 + (self.offsets[i] + self.widths[i] / 2) * self.scale
                for i, c in enumerate(self.clipped) if c]


def timeline_svg(timing: DeviceTiming) -> str | None:
    """None when the device has no timed span to draw."""
    starts = [s.start for s in timing.spans] + [
        w.start for w in timing.stop_windows if w.start is not None]
    ends = [s.end for s in timing.spans] + [
        w.end for w in timing.stop_windows if w.end is not None]
    if not starts or not ends:
        return None
    # the bar spans the device's whole life; what no span covers is drawn undetermined
    if timing.first_ts is not None:
        starts.append(timing.first_ts)
    if timing.last_ts is not None:
        ends.append(timing.last_ts)
    t0, t1 = min(starts), max(ends)
    if t1 <= t0:
        return None   # everything happened within one timestamp: nothing to draw
    quiet = [(s.start, s.end) for s in timing.spans if s.state == "RUNNING"]
    axis = Axis([t0, t1, *starts, *ends], quiet)
    x = axis.x

    windows = [w for w in timing.stop_windows if w.start is not None]
    stop_y = BAR_Y + BAR_H + 4
    tick_y = (stop_y + STOP_ROW_H if windows else BAR_Y + BAR_H) + TICK_H - 2
    height = tick_y + 3
    out = [f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" '
           f'viewBox="0 0 {WIDTH} {height}" data-height="{height}" '
           f'role="img" aria-label="state timeline of {escape(timing.device)}">',
           f'<rect class="unknown" x="1" y="{BAR_Y}" width="{WIDTH - 2}" height="{BAR_H}" '
           f'fill="{UNDETERMINED_COLOUR}">'
           "<title>state not determined by the capture</title></rect>"]
    for span in timing.spans:
        w = max(x(span.end) - x(span.start), 0.75)
        out.append(
            f'<rect class="seg" x="{x(span.start):.2f}" y="{BAR_Y}" width="{w:.2f}" '
            f'height="{BAR_H}" fill="{colour(span.state)}" data-state="{escape(span.state)}">'
            f"<title>{escape(span.state)} from line {span.start_line}: "
            f"{format_seconds(span.duration)}</title></rect>"
        )
    for bx in axis.breaks():
        out.append(f'<path class="break" d="M{bx - 4:.1f},{BAR_Y + BAR_H + 3} '
                   f'L{bx:.1f},{BAR_Y - 3} M{bx + 1:.1f},{BAR_Y + BAR_H + 3} '
                   f'L{bx + 5:.1f},{BAR_Y - 3}"><title>shortened: a long quiet stretch</title>'
                   "</path>")
    for win in windows:
        end = win.end if win.end is not None else t1
        open_note = "" if win.closed else " (still stopped when the capture ends)"
        dur = format_seconds(end - win.start)
        out.append(
            f'<g class="stopwin{"" if win.closed else " open"}"><title>device stopped '
            f"{dur}{open_note}: {escape(' → '.join(win.states))}</title>"
            f'<rect x="{x(win.start):.2f}" y="{stop_y}" '
            f'fill="{STOPPED_COLOUR if win.closed else STOPPED_OPEN_COLOUR}" '
            f'width="{max(x(end) - x(win.start), 1.0):.2f}" height="{STOP_ROW_H}" rx="3"/></g>'
        )
    note = " (long quiet stretches shortened)" if axis.breaks() else ""
    out.append(f'<text class="tick" x="2" y="{tick_y}">0</text>'
               f'<text class="tick" x="{WIDTH - 2}" y="{tick_y}" text-anchor="end">'
               f"{format_seconds(t1 - t0)}{note}</text>")
    out.append("</svg>")
    return "".join(out)
