"""Pictures of one flag set's FSM: DOT, Mermaid, JSON and rvgen-compatible DOT.

Every format marks the saving group and the arcs that create, keep or end a data session;
``highlight`` (a state sequence) draws one path on top, e.g. a prover counterexample.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from vfio_migcheck.model.fsm import FlagModel

FORMATS = ("dot", "mermaid", "json", "rv")

_EDGE_STYLE = {
    "creates_saving": 'color="forestgreen", penwidth=2',
    "creates_resuming": 'color="royalblue", penwidth=2',
    "ends_saving": 'color="firebrick", style=dashed',
    "ends_resuming": 'color="firebrick", style=dashed',
    "keeps": 'color="darkorange"',
    "none": 'color="gray30"',
}
_EFFECT_LABEL = {
    "creates_saving": "+saving fd",
    "creates_resuming": "+resuming fd",
    "ends_saving": "ends saving",
    "ends_resuming": "ends resuming",
    "keeps": "keeps session",
    "none": "",
}


def render_graph(model: FlagModel, fmt: str, highlight: Sequence[str] | None = None) -> str:
    """Render ``model`` in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "dot":
        return _dot(model, highlight)
    if fmt == "mermaid":
        return _mermaid(model, highlight)
    if fmt == "json":
        return _json(model, highlight)
    if fmt == "rv":
        return _rv(model)
    raise ValueError(f"unknown graph format {fmt!r}; choose one of {', '.join(FORMATS)}")


def _ordered_states(model: FlagModel) -> list[str]:
    return sorted(model.usable, key=lambda s: model.spec.states[s].value)


def _highlight_edges(highlight: Sequence[str] | None) -> set[tuple[str, str]]:
    if not highlight:
        return set()
    return set(zip(highlight, highlight[1:]))


def _saving(model: FlagModel) -> set[str]:
    return set(model.spec.groups.get("saving", frozenset())) & set(model.usable)


def _title(model: FlagModel) -> str:
    names = "|".join(n for n, b in model.spec.flags.items() if model.flags & b) or "none"
    return f"{model.spec.name} flags {model.flags:#x} ({names})"


def ranks(model: FlagModel) -> dict[str, int]:
    """Each usable state's row in a picture: its distance in single arcs from the reset
    state (RUNNING; then RUNNING_P2P and PRE_COPY; then STOP and PRE_COPY_P2P; then
    RESUMING and STOP_COPY for Linux). The error state, and any state the reset state
    cannot reach, take the last row. Derived from the graph, so a spec's own states get
    a place too, and the same flag set always gets the same picture."""
    start = model.spec.reset_state
    rank = {start: 0} if start in model.usable else {}
    frontier = list(rank)
    while frontier:
        following = []
        for state in frontier:
            for nxt in sorted(model.graph.successors(state),
                              key=lambda s: model.spec.states[s].value):
                if nxt in model.usable and nxt not in rank:
                    rank[nxt] = rank[state] + 1
                    following.append(nxt)
        frontier = following
    last = max(rank.values(), default=0) + (1 if len(rank) < len(model.usable) else 0)
    for state in _ordered_states(model):
        rank.setdefault(state, last)
    error = model.spec.error_state
    if error:
        rank[error] = max(rank.values(), default=0)
    return rank


def _dot(model: FlagModel, highlight: Sequence[str] | None) -> str:
    """Rows by :func:`ranks`, top to bottom; an arc back up a row does not move the rows
    (``constraint=false``), so arcs and their opposites are two separate curves and no
    two labels share a line. The saving group is a cluster."""
    marked = _highlight_edges(highlight)
    on_path = set(highlight or ())
    rank = ranks(model)
    lines = [
        "digraph vfio_migration {",
        f'  label="{_title(model)}"; labelloc=t; rankdir=TB; newrank=true;',
        "  nodesep=0.8; ranksep=0.9;",
        '  node [shape=ellipse, fontname="Helvetica"]; edge [fontname="Helvetica", fontsize=10];',
    ]
    saving = _saving(model)
    if saving:
        lines.append("  subgraph cluster_saving {")
        lines.append('    label="saving group"; style=rounded; color="forestgreen";')
        for state in _ordered_states(model):
            if state in saving:
                lines.append(f"    {_dot_node(state, state in on_path)}")
        lines.append("  }")
    for state in _ordered_states(model):
        if state not in saving:
            lines.append(f"  {_dot_node(state, state in on_path)}")
    error = model.spec.error_state
    if error:
        lines.append(f'  "{error}" [shape=octagon, color="gray50", fontcolor="gray40"];')
    rows: dict[int, list[str]] = {}
    for state, row in rank.items():
        rows.setdefault(row, []).append(state)
    for row in sorted(rows):
        members = " ".join(f'"{s}";' for s in sorted(
            rows[row], key=lambda s: model.spec.states[s].value))
        lines.append(f"  {{ rank=same; {members} }}")
    if error:
        lines.append(f'  "{error}" -> "{model.spec.reset_state}" '
                     '[label="VFIO_DEVICE_RESET", style=dotted, color="gray50", '
                     "constraint=false];")
    for step in model.single_arcs():
        attrs = _EDGE_STYLE[step.session]
        label = _EFFECT_LABEL[step.session]
        if (step.src, step.dst) in marked:
            attrs = 'color="magenta", penwidth=4'
        if rank[step.src] > rank[step.dst]:
            attrs += ", constraint=false"
        lines.append(f'  "{step.src}" -> "{step.dst}" [{attrs}, label="{label}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_node(state: str, on_path: bool) -> str:
    extra = ', style=filled, fillcolor="plum1"' if on_path else ""
    return f'"{state}" [label="{state}"{extra}];'


# Mermaid's flowchart, not its stateDiagram: the flowchart keeps the labels of an arc and
# its opposite apart, draws the error state's shape, and styles each arc like the DOT.
_MERMAID_LINK_STYLE = {
    "creates_saving": "stroke:#228b22,stroke-width:2.5px",
    "creates_resuming": "stroke:#4169e1,stroke-width:2.5px",
    "ends_saving": "stroke:#b22222,stroke-dasharray:6 4",
    "ends_resuming": "stroke:#b22222,stroke-dasharray:6 4",
    "keeps": "stroke:#ff8c00",
    "none": "stroke:#4d4d4d",
}
MERMAID_GROUP_LABELS = {"saving": "saving group"}
# room between rows and columns so that the labels of neighbouring arcs stay apart
_MERMAID_INIT = '%%{init: {"flowchart": {"nodeSpacing": 70, "rankSpacing": 80}}}%%'


def _mermaid_id(state: str) -> str:
    return "s_" + "".join(c if c.isalnum() else "_" for c in state)


def _mermaid(model: FlagModel, highlight: Sequence[str] | None) -> str:
    marked = _highlight_edges(highlight)
    ids = {s: _mermaid_id(s) for s in model.spec.states}
    lines = ["flowchart TB", f"    {_MERMAID_INIT}", f"    %% {_title(model)}",
             "    %% arcs: green +saving fd / blue +resuming fd create a data session, red "
             "dashed end it, orange keep it"]
    saving = _saving(model)
    start = model.spec.reset_state
    rank = ranks(model)
    order = sorted(_ordered_states(model), key=lambda s: rank[s])   # stable: by value within
    lines.append('    start(("start"))')
    for state in order:
        if state not in saving:
            lines.append(f'    {ids[state]}(["{state}"])')
    error = model.spec.error_state
    if error:
        lines.append(f'    {ids[error]}{{{{"{error}"}}}}')
    if saving:
        lines.append(f'    subgraph saving_group ["{MERMAID_GROUP_LABELS["saving"]}"]')
        for state in order:
            if state in saving:
                lines.append(f'        {ids[state]}(["{state}"])')
        lines.append("    end")
    styles: list[str] = []
    lines.append(f"    start --> {ids[start]}")
    styles.append("stroke:#4d4d4d")
    if error:
        lines.append(f'    {ids[error]} -. "VFIO_DEVICE_RESET" .-> {ids[start]}')
        styles.append("stroke:#808080,stroke-dasharray:2 3")
    for step in sorted(model.single_arcs(), key=lambda a: (rank[a.src], rank[a.dst])):
        label = _EFFECT_LABEL[step.session]
        style = _MERMAID_LINK_STYLE[step.session]
        if (step.src, step.dst) in marked:
            label = f"on path: {label}" if label else "on path"
            style = "stroke:#ff00ff,stroke-width:4px"
        arrow = f' -- "{label}" --> ' if label else " --> "
        lines.append(f"    {ids[step.src]}{arrow}{ids[step.dst]}")
        styles.append(style)
    lines += [f"    linkStyle {n} {style}" for n, style in enumerate(styles)]
    lines.append("    classDef error fill:#f2f2f2,stroke:#808080,color:#555555")
    if error:
        lines.append(f"    class {ids[error]} error")
    if highlight:
        lines.append("    classDef onpath fill:#f9c,stroke:#c0c,stroke-width:3px")
        for state in dict.fromkeys(highlight):
            if state in ids:
                lines.append(f"    class {ids[state]} onpath")
    return "\n".join(lines) + "\n"


def _json(model: FlagModel, highlight: Sequence[str] | None) -> str:
    data = {
        "spec": model.spec.name,
        "flags": f"{model.flags:#x}",
        "status": model.status,
        "states": [
            {"name": s, "value": model.spec.states[s].value,
             "groups": list(model.spec.group_of(s))}
            for s in _ordered_states(model)
        ],
        "saving_group": sorted(_saving(model), key=lambda s: model.spec.states[s].value),
        "arcs": [{"from": a.src, "to": a.dst, "session": a.session} for a in model.single_arcs()],
        "highlight": list(highlight) if highlight else None,
    }
    return json.dumps(data, indent=2) + "\n"


def _rv_name(state: str) -> str:
    return state.lower()


def _rv(model: FlagModel) -> str:
    """DOT in the line-oriented shape the kernel's rvgen accepts (formats doc §5).

    Events: ``set_<state>`` for each single arc, ``device_reset`` back to the reset state,
    and ``set_state_failed_error`` into ERROR (failure nondeterminism stays in the checker).
    """
    initial = _rv_name(model.spec.reset_state)
    states = [_rv_name(s) for s in _ordered_states(model)]
    error = model.spec.error_state
    if error:
        states.append(_rv_name(error))
    events: dict[tuple[str, str], list[str]] = {}
    for step in model.single_arcs():
        events.setdefault((_rv_name(step.src), _rv_name(step.dst)), []).append(
            f"set_{_rv_name(step.dst)}"
        )
    for state in states:
        events.setdefault((state, initial), []).append("device_reset")
        if error and state != _rv_name(error):
            events.setdefault((state, _rv_name(error)), []).append("set_state_failed_error")
    lines = [
        "digraph state_automaton {",
        "\tcenter = true;",
        '\tsize = "7,11";',
        f'\t{{node [shape = plaintext, style=invis, label=""] "__init_{initial}"}};',
    ]
    for state in sorted(states, key=lambda s: (s != initial, s)):
        shape = "doublecircle" if state == initial else "circle"
        lines.append(f'\t{{node [shape = {shape}] "{state}"}};')
    lines.append(f'\t"__init_{initial}" -> "{initial}";')
    for state in sorted(states, key=lambda s: (s != initial, s)):
        if state == initial:
            lines.append(f'\t"{state}" [label = "{state}", color = green3];')
        for (src, dst), names in sorted(events.items()):
            if src == state:
                label = "\\n".join(names)
                lines.append(f'\t"{src}" -> "{dst}" [ label = "{label}" ];')
    lines += ["\t{ rank = min ;", f'\t\t"__init_{initial}";', f'\t\t"{initial}";', "\t}", "}"]
    return "\n".join(lines) + "\n"
