"""The acceptance rules of the kernel's line-oriented rvgen DOT reader, re-stated as checks.

Written from the rules in the project's formats reference (§5), not from rvgen's code: a file
that passes here has the shape rvgen's Automata class parses.
"""

from __future__ import annotations


def rvgen_problems(text: str) -> list[str]:
    """Return the rule violations of ``text`` (empty when rvgen would accept it)."""
    lines = text.splitlines()
    problems: list[str] = []
    if lines[0].split()[:2] != ["digraph", "state_automaton"]:
        problems.append("first line must start with 'digraph state_automaton'")
    i = next((n for n, line in enumerate(lines) if line.strip().startswith("{node")), None)
    if i is None:
        return problems + ["no {node block"]
    states, init = [], None
    while i < len(lines) and lines[i].strip().startswith("{node"):
        name = lines[i].split()[-1].strip('"};').replace(",", "_")
        if name.startswith("__init_"):
            init = name[len("__init_"):]
        else:
            states.append(name)
        i += 1
    if init is None or init not in states:
        problems.append("initial state must be declared as __init_X and as an ordinary node")
    while i < len(lines) and not lines[i].strip():
        i += 1
    if lines[i].strip() != f'"__init_{init}" -> "{init}";':
        problems.append("the line after the {node block must be the initial edge")
    i += 1
    while i < len(lines) and not lines[i].strip().startswith("{ rank = min"):
        line = lines[i].strip()
        if not line.startswith('"'):
            problems.append(f"line {i + 1} does not start with a quote: {line!r}")
        tokens = line.split()
        if len(tokens) > 1 and tokens[1] == "->":
            if "label" not in tokens or tokens[-1] != "];":
                problems.append(f"line {i + 1}: transition needs '[ label = \"...\" ];'")
            else:
                event = " ".join(tokens[tokens.index("label") + 2:-1]).strip('"')
                if not event:
                    problems.append(f"line {i + 1}: empty event")
                for ev in event.split("\\n"):
                    if not ev.replace("_", "").isalnum() or ev.lower() != ev:
                        problems.append(f"line {i + 1}: event {ev!r} is not snake_case")
            for end in (tokens[0], tokens[2]):
                if end.strip('"') not in states:
                    problems.append(f"line {i + 1}: undeclared state {end}")
        i += 1
    if i >= len(lines):
        problems.append("missing '{ rank = min ;' block")
    for state in states:
        if not state.replace("_", "").isalnum() or state.lower() != state:
            problems.append(f"state {state!r} is not a lower-case C identifier")
    return problems
