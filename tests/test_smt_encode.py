"""The SMT encoding against the graph model: two compilations of one spec must agree."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vfio_migcheck.model.fsm import model_for
from vfio_migcheck.model.smt.answers import SmtOracle
from vfio_migcheck.model.smt.encode import Encoding
from vfio_migcheck.model.spec import SESSION_EFFECTS, Spec, load_spec, parse_spec

EXAMPLE = "docs/examples/what-if-stopcopy-to-precopy.toml"


def _requests(spec: Spec) -> list[str | int]:
    """Every state name plus two out-of-range numbers."""
    return [*spec.states, spec.state_limit, spec.state_limit + 7]


def _disagreements(spec: Spec, oracle: SmtOracle, flag_sets, refinements: bool) -> list:
    bad = []
    for flags in flag_sets:
        model = model_for(spec, flags, refinements)
        for src in _requests(spec):
            for dst in _requests(spec):
                z = oracle.request(flags, src, dst, refinements)
                g = model.request(src, dst)
                if (z.ok, z.errno, z.reason, z.path, z.ties) != (
                        g.ok, g.errno, g.reason.value, g.path, g.ties):
                    bad.append((flags, src, dst, z, g))
    return bad


@pytest.mark.parametrize(("name", "refinements"), [
    ("linux-6.12", True), ("linux-6.12", False), ("linux-5.18", True), ("linux-5.18", False),
    (EXAMPLE, True),
])
def test_z3_answers_equal_graph_answers_for_every_flag_subset(name: str, refinements: bool):
    """Every (from, to, flags) incl. undefined flag sets and out-of-range states."""
    spec = load_spec(name)
    oracle = SmtOracle(Encoding(spec))
    assert _disagreements(spec, oracle, range(spec.all_flags_mask + 1), refinements) == []


def test_known_answers_come_from_z3():
    """A few answers checked by hand, so agreement is not agreement on nonsense."""
    oracle = SmtOracle(Encoding(load_spec("linux-6.12")))
    ans = oracle.request(0x7, "PRE_COPY", "STOP_COPY")
    assert ans.ok and ans.path == ["PRE_COPY_P2P", "STOP_COPY"]
    words = oracle.request(0x7, "PRE_COPY", "STOP_COPY", refinements=False)
    assert words.path == ["RUNNING", "RUNNING_P2P", "STOP", "STOP_COPY"]
    assert oracle.request(0x5, "PRE_COPY", "STOP_COPY").path == ["STOP_COPY"]
    assert oracle.request(0x7, "STOP_COPY", "PRE_COPY").reason == "blocked"
    assert oracle.request(0x3, "STOP", "PRE_COPY").reason == "target_unsupported"
    assert oracle.request(0x2, "STOP", "RUNNING").reason == "undefined_flags"
    assert oracle.request(0x7, "ERROR", "STOP").reason == "current_error"
    assert oracle.request(0x7, "STOP", 8).reason == "target_out_of_range"
    assert oracle.effects(0x7, ("PRE_COPY", "RUNNING", "RUNNING_P2P", "STOP", "RESUMING")) == [
        "ends_saving", "none", "none", "creates_resuming"]
    with pytest.raises(ValueError, match="not a path"):
        oracle.effects(0x1, ("STOP", "PRE_COPY"))


@pytest.mark.parametrize("name", ["linux-6.12", EXAMPLE])
def test_the_bound_loses_no_shortest_path(name: str):
    """Searching two arcs further than k finds exactly the same shortest paths."""
    spec = load_spec(name)
    k = Encoding.default_bound(spec)
    small, large = SmtOracle(Encoding(spec)), SmtOracle(Encoding(spec, bound=k + 2))
    for flags in spec.defined_flag_sets:
        usable = [s for s in spec.states if not spec.states[s].error]
        for a in usable:
            for b in usable:
                if a != b:
                    assert small.shortest_paths(flags, a, b) == large.shortest_paths(flags, a, b)


# --- random specs -------------------------------------------------------------------------------
CONDITIONS = [((), ()), (("A",), ()), ((), ("A",)), (("B",), ()), (("A", "B"), ()), ((), ("B",))]


@st.composite
def random_specs(draw) -> Spec:
    """Small specs with random arcs, conditions, sessions, groups, refinements, blocks."""
    n = draw(st.integers(2, 5))
    names = [f"S{i}" for i in range(n)]
    with_error = draw(st.booleans())
    states: dict = {}
    if with_error:
        states["ERR"] = {"value": 0, "error": True}
    for i, name in enumerate(names):
        need = [] if i == 0 else draw(st.lists(st.sampled_from(["A", "B"]), unique=True))
        states[name] = {"value": i + 1, "requires": ["BASE", *need]}
    pairs = [(a, b) for a in names for b in names if a != b]
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True, min_size=1))
    arcs = []
    for a, b in chosen:
        req, forb = draw(st.sampled_from(CONDITIONS))
        arcs.append({"from": a, "to": b, "requires": list(req), "forbids": list(forb),
                     "session": draw(st.sampled_from(SESSION_EFFECTS))})
    group = draw(st.lists(st.sampled_from(names), unique=True))
    refinements = []
    if draw(st.booleans()):
        refinements.append({"id": "R1", "kind": "interior_allowed_within_group",
                            "group": "g"})
    blocked = [{"from": a, "to": b, "requires": list(draw(st.sampled_from(CONDITIONS))[0])}
               for a, b in draw(st.lists(st.sampled_from(pairs), unique=True, max_size=2))]
    data = {
        "spec": {"name": "random", "state_limit": n + 1},
        "flags": {"BASE": 1, "A": 2, "B": 4},
        "flag_sets": {"mandatory": ["BASE"], "defined": [1, 3, 5, 7]},
        "groups": {"g": group},
        "states": states,
        "arcs": arcs,
        "blocked": blocked,
        "path": {"no_interior": ["g"] if draw(st.booleans()) else [],
                 "refinements": refinements},
        "reset": {"state": names[0]},
    }
    return parse_spec(data, "<random>")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=random_specs(), refinements=st.booleans())
def test_z3_and_graph_agree_on_random_specs(spec: Spec, refinements: bool):
    oracle = SmtOracle(Encoding(spec))
    assert _disagreements(spec, oracle, [0, 1, 3, 5, 7], refinements) == []
