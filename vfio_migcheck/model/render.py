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


def _dot(model: FlagModel, highlight: Sequence[str] | None) -> str:
    marked = _highlight_edges(highlight)
    on_path = set(highlight or ())
    lines = [
        "digraph vfio_migration {",
        f'  label="{_title(model)}"; labelloc=t; rankdir=LR;',
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
        lines.append(f'  "{error}" -> "{model.spec.reset_state}" '
                     '[label="VFIO_DEVICE_RESET", style=dotted, color="gray50"];')
    for step in model.single_arcs():
        attrs = _EDGE_STYLE[step.session]
        label = _EFFECT_LABEL[step.session]
        if (step.src, step.dst) in marked:
            attrs = 'color="magenta", penwidth=4'
        lines.append(f'  "{step.src}" -> "{step.dst}" [{attrs}, label="{label}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_node(state: str, on_path: bool) -> str:
    extra = ', style=filled, fillcolor="plum1"' if on_path else ""
    return f'"{state}" [label="{state}"{extra}];'


def _mermaid(model: FlagModel, highlight: Sequence[str] | None) -> str:
    marked = _highlight_edges(highlight)
    lines = ["stateDiagram-v2", f"    %% {_title(model)}"]
    saving = _saving(model)
    if saving:
        lines.append("    state saving_group {")
        for state in _ordered_states(model):
            if state in saving:
                lines.append(f"        {state}")
        lines.append("    }")
    lines.append(f"    [*] --> {model.spec.reset_state}")
    for step in model.single_arcs():
        label = _EFFECT_LABEL[step.session]
        if (step.src, step.dst) in marked:
            label = f"** {label} **".replace("**  **", "** path **")
        lines.append(f"    {step.src} --> {step.dst}" + (f": {label}" if label else ""))
    if highlight:
        lines.append("    classDef onpath fill:#f9c,stroke:#c0c,stroke-width:3px")
        for state in dict.fromkeys(highlight):
            lines.append(f"    class {state} onpath")
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
