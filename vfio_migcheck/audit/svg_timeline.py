"""A device's state timeline as an SVG bar: one coloured segment per determined-state span,
with its stop windows (device not running) marked underneath.

Gaps in the bar are spans where the trace leaves the state open; they are not guessed.
"""

from __future__ import annotations

from html import escape

from vfio_migcheck.audit.timing import DeviceTiming

WIDTH, BAR_Y, BAR_H = 900, 8, 26
STATE_COLOURS = {
    "RUNNING": "#2e9d5b",
    "RUNNING_P2P": "#7cc48f",
    "PRE_COPY": "#3f7fd8",
    "PRE_COPY_P2P": "#8fb4ea",
    "STOP_COPY": "#e08a2c",
    "STOP": "#c8463d",
    "RESUMING": "#8e5cc7",
    "ERROR": "#333333",
}
OTHER_COLOUR = "#999999"


def colour(state: str) -> str:
    return STATE_COLOURS.get(state, OTHER_COLOUR)


def format_seconds(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.3f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.0f} µs"


def timeline_svg(timing: DeviceTiming) -> str | None:
    """None when the device has no timed span to draw."""
    starts = [s.start for s in timing.spans] + [
        w.start for w in timing.stop_windows if w.start is not None]
    ends = [s.end for s in timing.spans] + [
        w.end for w in timing.stop_windows if w.end is not None]
    if not starts or not ends:
        return None
    t0, t1 = min(starts), max(ends)
    scale = (WIDTH - 2) / (t1 - t0) if t1 > t0 else 0.0

    def x(t: float) -> float:
        return 1 + (t - t0) * scale

    out = [f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} 78" '
           f'preserveAspectRatio="none" role="img" aria-label="state timeline of '
           f'{escape(timing.device)}">']
    for span in timing.spans:
        w = max(x(span.end) - x(span.start), 0.75)
        out.append(
            f'<rect class="seg" x="{x(span.start):.2f}" y="{BAR_Y}" width="{w:.2f}" '
            f'height="{BAR_H}" fill="{colour(span.state)}" data-state="{escape(span.state)}">'
            f"<title>{escape(span.state)} from line {span.start_line}: "
            f"{format_seconds(span.duration)}</title></rect>"
        )
    for win in timing.stop_windows:
        if win.start is None:
            continue
        end = win.end if win.end is not None else t1
        open_note = "" if win.closed else " (still stopped when the capture ends)"
        dur = format_seconds(end - win.start)
        out.append(
            f'<g class="stopwin{"" if win.closed else " open"}"><title>device stopped '
            f"{dur}{open_note}: {escape(' → '.join(win.states))}</title>"
            f'<rect x="{x(win.start):.2f}" y="{BAR_Y + BAR_H + 6}" '
            f'width="{max(x(end) - x(win.start), 1.0):.2f}" height="8" rx="3"/></g>'
        )
    out.append(f'<text class="tick" x="2" y="74">0</text>'
               f'<text class="tick" x="{WIDTH - 2}" y="74" text-anchor="end">'
               f"{format_seconds(t1 - t0)}</text>")
    out.append("</svg>")
    return "".join(out)
