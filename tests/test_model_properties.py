"""Invariants that must hold for ANY well-formed spec, checked on generated specs."""

from __future__ import annotations

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from vfio_migcheck.model.fsm import FlagModel
from vfio_migcheck.model.spec import SESSION_EFFECTS, parse_spec

NAMES = ["S0", "S1", "S2", "S3", "S4", "S5"]
FLAGS = {"BASE": 1, "OPT_A": 2, "OPT_B": 4}


@st.composite
def specs(draw):
    names = draw(st.lists(st.sampled_from(NAMES), min_size=2, max_size=6, unique=True))
    states = {"ERR": {"value": 0, "error": True}}
    for i, name in enumerate(names, 1):
        extra = draw(st.lists(st.sampled_from(["OPT_A", "OPT_B"]), max_size=2, unique=True))
        states[name] = {"value": i, "requires": ["BASE", *extra]}
    arcs = []
    seen = set()
    for _ in range(draw(st.integers(1, 14))):
        a, b = draw(st.sampled_from(names)), draw(st.sampled_from(names))
        if a == b or (a, b) in seen:
            continue
        seen.add((a, b))
        requires = draw(st.lists(st.sampled_from(["OPT_A", "OPT_B"]), max_size=1))
        arcs.append({"from": a, "to": b, "session": draw(st.sampled_from(SESSION_EFFECTS)),
                     "requires": requires})
    if not arcs:
        arcs.append({"from": names[0], "to": names[1]})
    group = draw(st.lists(st.sampled_from(names), max_size=3, unique=True))
    refine = draw(st.booleans())
    doc = {
        "spec": {"name": "gen", "state_limit": 8},
        "flags": FLAGS,
        "flag_sets": {"mandatory": ["BASE"], "defined": [1, 3, 5, 7]},
        "groups": {"g": group},
        "states": states,
        "arcs": arcs,
        "reset": {"state": names[0]},
        "path": {"no_interior": ["g"], "refinements": [
            {"id": "R", "kind": "interior_allowed_within_group", "group": "g"}] if refine else []},
    }
    return parse_spec(doc, "generated.toml")


@settings(max_examples=150, deadline=None)
@given(spec=specs(), flags=st.sampled_from([1, 3, 5, 7]))
def test_paths_are_valid_shortest_and_deterministic(spec, flags) -> None:
    model = FlagModel(spec, flags)
    g = model.graph
    for answer in model.all_requests():
        if answer.dst == answer.src and answer.ok:
            assert answer.path == []
            continue
        if not answer.ok:
            assert answer.errno == "EINVAL" and answer.path is None
            continue
        full = [answer.src, *answer.path]
        # P1: only arcs that exist under these flags, between usable states
        assert all(g.has_edge(a, b) for a, b in zip(full, full[1:]))
        assert set(full) <= model.usable
        # never shorter than the unconstrained shortest path, and equal when no group interferes
        assert len(answer.path) >= nx.shortest_path_length(g, answer.src, answer.dst)
        # ties have the same length and are themselves valid
        for tie in answer.ties:
            assert len(tie) == len(full) and model.path_allowed(tie)
        # a failed SET may stop at the start, after any arc, or in the error state
        outcomes = [o.state for o in model.failure_outcomes(answer.src, answer.dst)]
        assert outcomes[0] == answer.src and outcomes[-1] == "ERR"
        assert outcomes[1:-1] == answer.path


@settings(max_examples=100, deadline=None)
@given(spec=specs(), flags=st.sampled_from([1, 3, 5, 7]))
def test_rejections_match_usability(spec, flags) -> None:
    model = FlagModel(spec, flags)
    for answer in model.all_requests():
        if answer.src not in model.usable or answer.dst not in model.usable:
            assert not answer.ok
        elif answer.ok is False:
            assert answer.reason.value in ("unreachable", "blocked")


@settings(max_examples=60, deadline=None)
@given(spec=specs())
def test_undefined_flag_sets_reject_everything(spec) -> None:
    model = FlagModel(spec, 0x6)
    assert model.status == "undefined"
    assert not any(a.ok for a in model.all_requests())
