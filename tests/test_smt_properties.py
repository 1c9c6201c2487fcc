"""P1-P9: what they conclude for the built-in specs, and that each can be refuted."""

from __future__ import annotations

import dataclasses

import pytest

from vfio_migcheck.model.fsm import Answer, Reason, Step
from vfio_migcheck.model.smt import properties as props
from vfio_migcheck.model.smt.context import ProofContext
from vfio_migcheck.model.smt.prove import prove_spec
from vfio_migcheck.model.smt.walk import walk
from vfio_migcheck.model.spec import Spec, load_spec, parse_spec

EXAMPLE = "docs/examples/what-if-stopcopy-to-precopy.toml"


@pytest.fixture(scope="module")
def report_612():
    return prove_spec(load_spec("linux-6.12"))


def small_spec(arcs, states=("A", "B", "C", "D"), optional=(), groups=None, no_interior=(),
               blocked=(), refine=()) -> Spec:
    """A toy spec: flags BASE (mandatory) and OPT; ``optional`` states need OPT."""
    data = {
        "spec": {"name": "toy", "state_limit": len(states) + 1},
        "flags": {"BASE": 1, "OPT": 2},
        "flag_sets": {"mandatory": ["BASE"], "defined": [1, 3]},
        "groups": groups or {},
        "states": {"ERROR": {"value": 0, "error": True}, **{
            s: {"value": i + 1, "requires": ["BASE", "OPT"] if s in optional else ["BASE"]}
            for i, s in enumerate(states)}},
        "arcs": [dict(zip(("from", "to", "session"), arc)) for arc in arcs],
        "blocked": [{"from": a, "to": b} for a, b in blocked],
        "path": {"no_interior": list(no_interior), "refinements": [
            {"id": f"R{i}", "kind": "interior_allowed_within_group", "group": g}
            for i, g in enumerate(refine)]},
        "reset": {"state": states[0]},
    }
    return parse_spec(data, "<toy>")


def by_id(report, pid: str, flags: int | None):
    return next(r for r in report.results if r.id == pid and r.flags == flags)


# --- linux-6.12 ---------------------------------------------------------------------------------
def test_linux_612_only_p3_fails_and_only_under_0x7(report_612):
    refuted = [(r.id, r.flags) for r in report_612.results if r.status == "refuted"]
    assert refuted == [("P3", 0x7)]
    p3 = by_id(report_612, "P3", 0x7)
    assert [(c.src, c.dst, c.path) for c in p3.counterexamples] == [
        ("PRE_COPY", "STOP_COPY", ("PRE_COPY_P2P", "STOP_COPY"))]
    assert p3.known and report_612.ok
    cex = p3.counterexamples[0]
    assert cex.extra["words_path"] == ["RUNNING", "RUNNING_P2P", "STOP", "STOP_COPY"]
    assert cex.extra["words_effects"] == "ends saving, creates saving"
    assert "K1" in p3.explanation


def test_linux_612_statuses_cover_every_defined_flag_set(report_612):
    for pid in ("P1", "P2", "P4", "P6", "P7"):
        assert [r.flags for r in report_612.results if r.id == pid] == [1, 3, 5, 7]
    assert [r.flags for r in report_612.results if r.id == "P5"] == [1, 3, 5, 7, None]
    assert by_id(report_612, "P8", 0x7).status == "not_applicable"
    assert by_id(report_612, "P9", None).status == "proved"
    p6 = by_id(report_612, "P6", 0x7)
    assert len(p6.notes) == 2 and all("is blocked although" in n for n in p6.notes)


def test_unknown_refutation_makes_the_report_fail():
    spec = dataclasses.replace(load_spec("linux-6.12"), known_refutations=())
    report = prove_spec(spec, 0x7)
    assert not report.ok
    assert [r.id for r in report.results if not r.acceptable] == ["P3"]


def test_what_if_spec_breaks_the_single_table_design():
    report = prove_spec(load_spec(EXAMPLE))
    p8 = {r.flags: r for r in report.results if r.id == "P8"}
    assert p8[0x5].status == "refuted"
    assert [(c.src, c.dst, c.path) for c in p8[0x5].counterexamples] == [
        ("STOP_COPY", "PRE_COPY", ("PRE_COPY",))]
    assert {(c.src, c.dst) for c in p8[0x7].counterexamples} == {
        ("STOP_COPY", "PRE_COPY"), ("STOP_COPY", "PRE_COPY_P2P")}
    assert p8[0x1].status == p8[0xD].status == "proved"
    assert not report.ok


# --- each property can fail ---------------------------------------------------------------------
def test_p4_refuted_when_a_session_opens_mid_path():
    spec = small_spec([("A", "B", "creates_resuming"), ("B", "C", "none")])
    result = props.p4_session_once(ProofContext(spec), 0x1)
    assert result.status == "refuted"
    (cex,) = result.counterexamples
    assert (cex.src, cex.dst, cex.path) == ("A", "C", ("B", "C"))
    assert cex.extra["effects"] == ["creates_resuming", "none"]


def test_p4_refuted_when_a_session_ends_late():
    spec = small_spec([("A", "B", "none"), ("B", "C", "ends_saving")])
    result = props.p4_session_once(ProofContext(spec), 0x1)
    assert [(c.src, c.dst) for c in result.counterexamples] == [("A", "C")]


def test_p7_lists_ties():
    spec = small_spec([("A", "B", "none"), ("A", "C", "none"), ("B", "D", "none"),
                       ("C", "D", "none")])
    result = props.p7_unique(ProofContext(spec), 0x1)
    assert result.status == "refuted"
    (cex,) = result.counterexamples
    assert (cex.src, cex.dst) == ("A", "D")
    assert cex.extra["ties"] == [["A", "B", "D"], ["A", "C", "D"]]


def test_p6_refuted_for_an_unreachable_pair_but_not_for_a_blocked_one():
    spec = small_spec([("A", "B", "none"), ("B", "A", "none")], states=("A", "B", "C"),
                      blocked=[("A", "B")])
    result = props.p6_totality(ProofContext(spec), 0x1)
    pairs = {(c.src, c.dst) for c in result.counterexamples}
    assert pairs == {("A", "C"), ("B", "C"), ("C", "A"), ("C", "B")}
    assert result.notes == ["A -> B is blocked although A -> B would abide by the rules"]


def test_p3_refuted_where_a_refinement_lets_the_group_inside():
    arcs = [("A", "B", "none"), ("B", "C", "none"), ("D", "B", "none")]
    groups = {"g": ["A", "B", "C"]}
    spec = small_spec(arcs, groups=groups, no_interior=["g"], refine=["g"])
    result = props.p3_no_interior(ProofContext(spec), 0x1)
    assert result.status == "refuted"
    assert [(c.src, c.dst, c.path) for c in result.counterexamples] == [("A", "C", ("B", "C"))]
    assert result.counterexamples[0].extra["interior"] == ["B"]
    # D -> B -> C leaves the group: the words forbid it and no refinement lifts that.
    unreachable = props.p6_totality(ProofContext(spec), 0x1).counterexamples
    assert ("D", "C") in {(c.src, c.dst) for c in unreachable}
    spec = small_spec(arcs, groups=groups, no_interior=["g"])  # the words alone
    assert props.p3_no_interior(ProofContext(spec), 0x1).status == "proved"


def test_p9_refuted_when_an_optional_state_changes_what_a_base_user_sees():
    # Base path A->B->D->C opens a saving session; with OPT a shortcut A->X->C does not.
    spec = small_spec(
        [("A", "B", "none"), ("B", "D", "none"), ("D", "C", "creates_saving"),
         ("A", "X", "none"), ("X", "C", "none")],
        states=("A", "B", "C", "D", "X"), optional=("X",))
    result = props.p9_optional_invisible(ProofContext(spec))
    assert result.status == "refuted"
    cex = next(c for c in result.counterexamples if (c.src, c.dst) == ("A", "C"))
    assert cex.flags == 0x3 and cex.path == ("X", "C")
    assert cex.extra["outcomes"] == {"0x1": "ends in C, creates saving",
                                     "0x3": "ends in C, no session change"}


def _fake_chosen(ctx: ProofContext, wrong: dict):
    """Make the graph model answer ``wrong[(src, dst)] = path`` for some requests."""
    real = ctx.chosen

    def chosen(flags, src, dst):
        if (src, dst) in wrong:
            states = (src, *wrong[(src, dst)])
            steps = tuple(Step(a, b, "none") for a, b in zip(states, states[1:]))
            return Answer(src, dst, flags, True, Reason.OK, "fake", steps)
        return real(flags, src, dst)

    ctx.chosen = chosen


def test_p1_p2_p5_hold_the_graph_model_to_account():
    spec = load_spec("linux-6.12")
    ctx = ProofContext(spec)
    _fake_chosen(ctx, {
        ("RUNNING", "STOP"): ("STOP",),                          # no such arc under 0x7
        ("STOP", "RUNNING"): ("RUNNING_P2P", "STOP", "RUNNING_P2P", "RUNNING"),  # too long
        ("RESUMING", "RUNNING"): ("STOP", "ERROR", "RUNNING"),   # through ERROR
    })
    p1 = props.p1_arcs_exist(ctx, 0x7)
    assert p1.status == "refuted"
    assert {(c.src, c.dst) for c in p1.counterexamples} == {
        ("RUNNING", "STOP"), ("RESUMING", "RUNNING")}
    p2 = props.p2_no_shorter(ctx, 0x7)
    assert [(c.src, c.dst, c.path) for c in p2.counterexamples] == [
        ("STOP", "RUNNING", ("RUNNING_P2P", "RUNNING"))]
    p5 = props.p5_no_error(ctx, 0x7)
    assert [(c.src, c.dst) for c in p5.counterexamples] == [("RESUMING", "RUNNING")]


def test_p7_catches_a_choice_that_is_not_the_unique_shortest_path():
    ctx = ProofContext(load_spec("linux-6.12"))
    # Same length as the real answer RUNNING -> RUNNING_P2P -> STOP, but through PRE_COPY.
    _fake_chosen(ctx, {("RUNNING", "STOP"): ("PRE_COPY", "STOP")})
    result = props.p7_unique(ctx, 0x7)
    assert [(c.src, c.dst) for c in result.counterexamples] == [("RUNNING", "STOP")]
    assert result.counterexamples[0].extra["ties"] == [["RUNNING", "RUNNING_P2P", "STOP"]]


# --- the walk ---------------------------------------------------------------------------------
def test_walk_skips_unusable_states_and_reports_loops_and_error_cells():
    table = {"A": {"C": "X"}, "X": {"C": "C"}, "Y": {"C": "Z"}, "Z": {"C": "Y"},
             "B": {"C": "Y"}, "D": {"C": None}}
    assert walk(table, {"A", "C"}, "A", "C").path == ("C",)
    assert walk(table, {"A", "X", "C"}, "A", "C").path == ("X", "C")
    looped = walk(table, {"B", "C"}, "B", "C")
    assert not looped.ok and "loops" in looped.problem
    rejected = walk(table, {"D", "C"}, "D", "C")
    assert not rejected.ok and "ERROR cell" in rejected.problem


def test_p5_catches_an_encoding_that_lets_error_be_used():
    """P5 cannot fail for specs the format accepts (no arc may touch ERROR, ERROR is never
    usable), so it guards the encoding itself: break the encoding and P5 must notice."""
    from vfio_migcheck.model.smt.encode import Encoding
    from vfio_migcheck.model.spec import Arc, Condition

    class ErrorUsable(Encoding):
        def usable_term(self, name):
            if self.spec.states[name].error:
                return self.defined
            return super().usable_term(name)

    spec = load_spec("linux-5.18")
    spec = dataclasses.replace(spec, arcs=(*spec.arcs, Arc("STOP", "ERROR", Condition()),
                                           Arc("ERROR", "RUNNING", Condition())))
    ctx = ProofContext(spec, ErrorUsable)
    per_set = props.p5_no_error(ctx, 0x1)
    assert per_set.status == "refuted"
    assert all("ERROR" in c.states for c in per_set.counterexamples)
    any_flags = props.p5_any_flags(ctx)
    assert any_flags.status == "refuted" and any_flags.counterexamples[0].flags & 0x1
    assert props.p5_any_flags(ProofContext(load_spec("linux-5.18"))).status == "proved"
