"""The model, computed from the spec's rules, must equal the kernel's algorithm everywhere."""

from __future__ import annotations

import pytest

from tests.support import kernel_oracle as K
from vfio_migcheck.model.fsm import Reason, model_for
from vfio_migcheck.model.spec import load_spec

SPEC = load_spec("linux-6.12")
PAIRS = [(a, b) for a in K.STATES for b in K.STATES]


@pytest.mark.parametrize("flags", K.DEFINED_FLAG_SETS, ids=hex)
def test_every_pair_matches_the_kernel(flags: int) -> None:
    model = model_for(SPEC, flags)
    mismatches = []
    for src, dst in PAIRS:
        expected = K.kernel_path(src, dst, flags)
        answer = model.request(src, dst)
        if answer.path != expected:
            mismatches.append((src, dst, expected, answer.path, answer.reason))
        if expected is None:
            assert answer.errno == "EINVAL"
    assert mismatches == []
    assert len(PAIRS) == 64


@pytest.mark.parametrize("flags", K.DEFINED_FLAG_SETS, ids=hex)
def test_required_arcs_match(flags: int) -> None:
    arcs = sorted([s.src, s.dst] for s in model_for(SPEC, flags).single_arcs())
    assert arcs == sorted(K.KERNEL["required_arcs"][hex(flags)])


def test_session_effects_match_the_table_of_session_arcs() -> None:
    effects = {(s.src, s.dst): s.session for s in model_for(SPEC, 0x7).single_arcs()}
    effects |= {(s.src, s.dst): s.session for s in model_for(SPEC, 0x5).single_arcs()}
    for effect, arcs in K.KERNEL["session_arcs"].items():
        for src, dst in arcs:
            assert effects[(src, dst)] == effect, (src, dst)
    listed = {tuple(a) for arcs in K.KERNEL["session_arcs"].values() for a in arcs}
    for arc, effect in effects.items():
        if arc not in listed:
            assert effect == "none", arc


def test_blocked_requests_are_refused_with_their_reason() -> None:
    model = model_for(SPEC, 0x7)
    for src, dst in K.KERNEL["blocked"]:
        answer = model.request(src, dst)
        assert (answer.ok, answer.reason, answer.errno) == (False, Reason.BLOCKED, "EINVAL")


def test_error_handling_and_noop() -> None:
    model = model_for(SPEC, 0x7)
    assert model.request("ERROR", "STOP").reason is Reason.CURRENT_ERROR
    assert model.request("STOP", "ERROR").reason is Reason.TARGET_ERROR
    assert model.request("STOP", 8).reason is Reason.TARGET_OUT_OF_RANGE
    noop = model.request("STOP_COPY", "STOP_COPY")
    assert noop.ok and noop.path == [] and noop.creates is None
    assert model_for(SPEC, 0x1).request("RUNNING", "PRE_COPY").reason is Reason.TARGET_UNSUPPORTED
    assert model_for(SPEC, 0x1).request("PRE_COPY", "STOP").reason is Reason.CURRENT_UNSUPPORTED


@pytest.mark.parametrize("flags", [0x0, 0x2, 0x4, 0x6])
def test_undefined_flag_sets_are_reported_as_undefined(flags: int) -> None:
    model = model_for(SPEC, flags)
    assert model.status == "undefined" and not model.usable
    answers = model.all_requests()
    assert all(a.reason is Reason.UNDEFINED_FLAGS and a.errno == "EINVAL" for a in answers)


def test_failed_set_may_leave_any_prefix_or_error() -> None:
    model = model_for(SPEC, 0x7)
    outcomes = model.failure_outcomes("PRE_COPY", "RESUMING")
    states = [o.state for o in outcomes]
    assert states == ["PRE_COPY", "RUNNING", "RUNNING_P2P", "STOP", "RESUMING", "ERROR"]
    # stopping at STOP keeps the effect of the first arc: the saving session has ended
    stop = outcomes[3]
    assert [s.session for s in stop.steps_done][0] == "ends_saving"
    # a request rejected up front changes nothing
    assert [o.state for o in model.failure_outcomes("STOP_COPY", "PRE_COPY")] == ["STOP_COPY"]


def test_reset_gives_running_and_ends_sessions() -> None:
    assert model_for(SPEC, 0x7).reset() == ("RUNNING", True)


def test_the_uapi_words_alone_differ_from_the_kernel_exactly_where_k1_says() -> None:
    words = model_for(SPEC, 0x7, refinements=False)
    refined = model_for(SPEC, 0x7)
    differ = [(a, b) for a, b in PAIRS if words.request(a, b).path != refined.request(a, b).path]
    assert differ == [("PRE_COPY", "STOP_COPY")]
    assert words.request("PRE_COPY", "STOP_COPY").path == [
        "RUNNING", "RUNNING_P2P", "STOP", "STOP_COPY"]


def test_linux_5_18_has_no_precopy() -> None:
    spec = load_spec("linux-5.18")
    model = model_for(spec, 0x3)
    assert "PRE_COPY" not in spec.states
    assert model.request("RUNNING", "STOP_COPY").path == ["RUNNING_P2P", "STOP", "STOP_COPY"]
    assert model.request("RUNNING", 6).reason is Reason.TARGET_OUT_OF_RANGE
    # where 5.18 and 6.12 both define a request, they agree
    new = model_for(SPEC, 0x3)
    for a in spec.states:
        for b in spec.states:
            assert model.request(a, b).path == new.request(a, b).path
