"""The FSM of one flag set as inline SVG, with arc coverage drawn on the arcs.

Drawn here from the model's networkx graph with a fixed layout for the uAPI's states (so
pictures of different flag sets line up and no graphviz binary is needed): running states
on top, their P2P variants in the middle, stopped states at the bottom, the saving states
on the right, RESUMING under STOP. States a custom spec adds are placed on a row below.
"""

from __future__ import annotations

import math
from html import escape

from vfio_migcheck.audit.coverage import FlagCoverage
from vfio_migcheck.model.fsm import FlagModel

NODE_W, NODE_H = 150, 42
WIDTH, HEIGHT = 620, 520
LAYOUT: dict[str, tuple[float, float]] = {
    "RUNNING": (140, 60),
    "PRE_COPY": (480, 60),
    "RUNNING_P2P": (140, 190),
    "PRE_COPY_P2P": (480, 190),
    "STOP": (140, 320),
    "STOP_COPY": (480, 320),
    "RESUMING": (140, 450),
}
PAIR_OFFSET = 7        # two arcs between the same states run side by side
ARROW = 12             # arrowhead size (user units), whatever the arc's width
MAX_WIDTH = 6.0        # the widest arc (log scale of uses up to this)
LABEL_GAP = 6          # between an arc and its count label, on the arc's outer side


def _positions(states: list[str]) -> dict[str, tuple[float, float]]:
    pos = {s: LAYOUT[s] for s in states if s in LAYOUT}
    extra = [s for s in states if s not in LAYOUT]
    for i, s in enumerate(extra):
        pos[s] = (480 if i % 2 == 0 else 310, 450 + 80 * (i // 2))
    return pos


def _height(pos: dict[str, tuple[float, float]]) -> float:
    return max([HEIGHT] + [y + NODE_H for _, y in pos.values()])


def _border_point(cx: float, cy: float, dx: float, dy: float) -> tuple[float, float]:
    """Where a ray from a node's centre leaves its box."""
    sx = (NODE_W / 2) / abs(dx) if dx else math.inf
    sy = (NODE_H / 2) / abs(dy) if dy else math.inf
    s = min(sx, sy)
    return cx + dx * s, cy + dy * s


def fsm_svg(model: FlagModel, coverage: FlagCoverage | None = None) -> str:
    """SVG markup: green arcs were exercised (width grows with use), red dashed never were."""
    states = [s for s in model.all_states() if s in model.usable]
    pos = _positions(states)
    counts = {(a.src, a.dst): a.count for a in coverage.arcs} if coverage else {}
    seen = set(coverage.states_seen) if coverage else set()
    out = [
        f'<svg class="fsm" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} '
        f'{_height(pos):.0f}" role="img" aria-label="FSM for flags {model.flags:#x}">',
        "<defs>",
        # arrowheads in user units: a thick (much used) arc keeps a normal-sized head
        *(f'<marker id="arrow-{kind}" viewBox="0 0 10 10" refX="9" refY="5" '
          f'markerUnits="userSpaceOnUse" markerWidth="{ARROW}" markerHeight="{ARROW}" '
          f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
          f'class="arrowhead {kind}"/></marker>' for kind in ("hit", "miss")),
        "</defs>",
    ]
    for src, dst in model.graph.edges:
        out.append(_edge(src, dst, pos, counts.get((src, dst), 0), coverage is not None,
                         model.graph.has_edge(dst, src),
                         model.graph.edges[src, dst].get("session", "none")))
    for state in states:
        x, y = pos[state]
        cls = "node seen" if state in seen else "node"
        out.append(
            f'<g class="{cls}" data-state="{escape(state)}"><title>{escape(state)}'
            f'{" (entered in the captures)" if state in seen else " (never observed)"}</title>'
            f'<rect x="{x - NODE_W / 2:.1f}" y="{y - NODE_H / 2:.1f}" width="{NODE_W}" '
            f'height="{NODE_H}" rx="10"/>'
            f'<text x="{x:.1f}" y="{y + 5:.1f}" text-anchor="middle">{escape(state)}</text></g>'
        )
    out.append("</svg>")
    return "\n".join(out)


def _edge(src, dst, pos, count, with_coverage, has_reverse, session) -> str:
    (x1, y1), (x2, y2) = pos[src], pos[dst]
    dx, dy = x2 - x1, y2 - y1
    length = math.hypot(dx, dy) or 1.0
    ux, uy = dx / length, dy / length
    ox, oy = (-uy * PAIR_OFFSET, ux * PAIR_OFFSET) if has_reverse else (0.0, 0.0)
    sx, sy = _border_point(x1, y1, ux, uy)
    ex, ey = _border_point(x2, y2, -ux, -uy)
    sx, sy, ex, ey = sx + ox, sy + oy, ex + ox, ey + oy
    kind = "hit" if count else "miss"
    if not with_coverage:
        kind = "hit"
    width = min(1.6 + (math.log2(count + 1) * 0.6 if count else 0.0), MAX_WIDTH)
    # the label sits beside the arc, on the side away from its opposite arc, anchored so
    # that the text grows away from the arc (side-by-side labels never cover each other)
    px, py = (-uy, ux) if has_reverse else (-uy, ux) if abs(uy) > abs(ux) else (0.0, -1.0)
    gap = width / 2 + LABEL_GAP
    mx, my = (sx + ex) / 2 + px * gap, (sy + ey) / 2 + py * gap
    anchor = "start" if px > 0.5 else "end" if px < -0.5 else "middle"
    my += 4 if abs(py) <= 0.5 else (11 if py > 0 else -2)
    label = f"{count}×" if with_coverage else ""
    tip = f"{src} → {dst}: " + (f"exercised {count} time(s)" if count else "never exercised")
    if session != "none":
        tip += f"; data session: {session}"
    return (
        f'<g class="arc {kind}" data-arc="{src}-&gt;{dst}" data-count="{count}">'
        f"<title>{escape(tip)}</title>"
        f'<line x1="{sx:.1f}" y1="{sy:.1f}" x2="{ex:.1f}" y2="{ey:.1f}" '
        f'stroke-width="{width:.1f}" marker-end="url(#arrow-{kind})"/>'
        + (f'<text x="{mx:.1f}" y="{my:.1f}" text-anchor="{anchor}">{label}</text>'
           if label else "")
        + "</g>"
    )
