"""Arc and request coverage on hand-made results with known true counts."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_audit_builders import device, obs, req, result
from vfio_migcheck.audit.coverage import arc_coverage, device_flags
from vfio_migcheck.model.fsm import model_for
from vfio_migcheck.model.spec import load_spec

SPEC = load_spec("linux-6.12")


def test_single_and_combination_requests_count_their_arcs():
    dev = device(requests=[
        req(5, "RUNNING", "PRE_COPY"),                                  # single arc
        req(9, "PRE_COPY", "STOP_COPY"),                                # single arc (0x7: P2P)
        req(12, "STOP_COPY", "RUNNING", path=("STOP", "RUNNING_P2P", "RUNNING")),
        req(15, "RUNNING", "STOP", ok=True, path=None),                 # model gives the path
        req(18, "STOP_COPY", "PRE_COPY", ok=False),                     # refused
        req(20, None, "STOP"),                                          # source undetermined
        req(22, "STOP", "STOP"),                                        # no-op
    ])
    cov = arc_coverage([result("a", devices=[dev])], SPEC)
    (fc,) = cov.flag_sets
    assert fc.flags == 0x7 and fc.devices == 1
    counts = {(a.src, a.dst): a.count for a in fc.arcs}
    model = model_for(SPEC, 0x7)
    expected = {(a.src, a.dst): 0 for a in model.single_arcs()}
    # RUNNING->PRE_COPY; PRE_COPY->STOP_COPY is a combination under 0x7 (via PRE_COPY_P2P)
    for a, b in [("RUNNING", "PRE_COPY"), ("STOP_COPY", "STOP"), ("STOP", "RUNNING_P2P"),
                 ("RUNNING_P2P", "RUNNING"), ("RUNNING", "RUNNING_P2P"),
                 ("RUNNING_P2P", "STOP")]:
        expected[(a, b)] += 1
    for a, b in zip(("PRE_COPY", *model.request("PRE_COPY", "STOP_COPY").path),
                    model.request("PRE_COPY", "STOP_COPY").path):
        expected[(a, b)] += 1
    assert counts == expected
    reqs = {(r.src, r.dst): r for r in fc.requests}
    assert reqs[("STOP_COPY", "PRE_COPY")].expected == "refused"
    assert reqs[("STOP_COPY", "PRE_COPY")].failed == 1
    assert reqs[("STOP_COPY", "RUNNING")].expected == "combination"
    assert reqs[("RUNNING", "PRE_COPY")].expected == "single"
    assert fc.requests_covered == 5
    assert fc.other_requests == 1          # the no-op
    assert fc.hidden_requests == 1         # the SET whose source the trace hides
    assert fc.silent_devices == 0
    assert len(fc.requests) == 6 * 7       # ordered pairs of 7 usable states


def test_states_seen_only_when_determined():
    dev = device(states=[obs(1, None, "RUNNING"), obs(2, None, "STOP", "RUNNING_P2P"),
                         obs(3, None, "RESUMING")])
    (fc,) = arc_coverage([result("a", devices=[dev])], SPEC).flag_sets
    assert fc.states_seen == ("RUNNING", "RESUMING")
    assert fc.silent_devices == 1          # no request at all


def test_flag_sets_are_kept_apart_and_unknown_flags_reported():
    a = device("a", flags="0x1", requests=[req(1, "RUNNING", "STOP")])
    b = device("b", flags="0x7", requests=[req(1, "RUNNING", "PRE_COPY")])
    c = device("c", flags="?")
    cov = arc_coverage([result("x", devices=[a, b, c])], SPEC)
    assert [f.flags for f in cov.flag_sets] == [0x1, 0x7]
    stop_copy_only = cov.flag_sets[0]
    assert stop_copy_only.arcs_covered == 1 and len(stop_copy_only.arcs) == 6
    assert set(stop_copy_only.missing_arcs) == {
        ("STOP", "RUNNING"), ("STOP", "STOP_COPY"), ("STOP_COPY", "STOP"),
        ("STOP", "RESUMING"), ("RESUMING", "STOP")}
    assert cov.flag_sets[1].arcs_covered == 1
    assert cov.unknown_flags == (("x", "c"),)


def test_flags_from_single_candidate_or_default():
    assert device_flags(device(flags="?", candidates=("0x3",)), None) == 0x3
    assert device_flags(device(flags="?", candidates=("0x3", "0x7")), None) is None
    assert device_flags(device(flags="?", candidates=("0x3", "0x7")), 0x5) == 0x5


def test_default_flags_listed_even_without_devices():
    cov = arc_coverage([], SPEC, default_flags=0x5)
    assert [f.flags for f in cov.flag_sets] == [0x5]
    assert cov.flag_sets[0].arcs_covered == 0


STATES7 = [s for s in model_for(SPEC, 0x7).all_states() if s != "ERROR"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(STATES7), st.sampled_from(STATES7)), max_size=30))
def test_coverage_counts_are_additive_over_captures(pairs):
    """Splitting the same requests over two captures changes no count."""
    model = model_for(SPEC, 0x7)
    reqs = [req(i, a, b, ok=model.request(a, b).ok) for i, (a, b) in enumerate(pairs)]
    half = len(reqs) // 2
    one = arc_coverage([result("a", devices=[device(requests=reqs)])], SPEC)
    two = arc_coverage([result("a", devices=[device(requests=reqs[:half])]),
                        result("b", devices=[device(requests=reqs[half:])])], SPEC)
    assert one.flag_sets[0].arcs == two.flag_sets[0].arcs
    assert one.flag_sets[0].requests == two.flag_sets[0].requests
    # every exercised arc lies on the model path of some exercised successful request
    hit = {(a.src, a.dst) for a in one.flag_sets[0].arcs if a.count}
    on_paths = set()
    for a, b in pairs:
        answer = model.request(a, b)
        if answer.ok and a != b:
            on_paths |= {(s.src, s.dst) for s in answer.steps}
    assert hit == on_paths
