"""Engine semantics on hand-built event lists: hidden payloads, narrowing, failures, resets,
overlapping calls, bounding."""

from __future__ import annotations

import pytest

from tests.support.build import Trace
from vfio_migcheck.checker import engine as engine_mod
from vfio_migcheck.checker.api import check_events
from vfio_migcheck.traces.events import UNKNOWN, DataIO, FeatureCall, Origin


def check(t: Trace, **kw):
    return check_events(t.events, spec="linux-6.12", **kw)


def rule_ids(result) -> list[str]:
    return [f.rule for f in result.findings]


def states(result, dev: str = "d0") -> tuple[str, ...]:
    return next(d for d in result.devices if d.name == dev).final_states


def test_failed_set_may_stop_anywhere_on_the_path_then_get_narrows() -> None:
    t = Trace()
    t.open()
    t.query()
    t.set("STOP_COPY", ret=-1, errno="EIO")
    r = check(t)
    assert set(states(r)) == {"ERROR", "RUNNING", "RUNNING_P2P", "STOP", "STOP_COPY"}
    t.get("STOP")
    r = check(t)
    assert states(r) == ("STOP",) and rule_ids(r) == []


def test_get_disagreeing_with_every_reading_is_a_driver_error_and_resyncs() -> None:
    t = Trace()
    t.open()
    t.query()
    t.set("STOP")
    t.get("RUNNING")
    t.set("STOP")
    r = check(t)
    assert rule_ids(r) == ["K002"]
    (f,) = r.findings
    assert f.line == 4 and f.allowed == "STOP" and f.continuing == "RUNNING"
    assert states(r) == ("STOP",)


def test_reset_gives_running_and_kills_sessions() -> None:
    t = Trace()
    t.open()
    t.query()
    t.set("PRE_COPY", data_fd=6)
    t.read(24)
    t.reset()
    t.read(-1, errno="ENODEV")
    t.close()
    r = check(t)
    assert rule_ids(r) == ["U007"] and states(r) == ("RUNNING",)


def test_early_reset_rejection_changes_nothing_but_other_failures_may_reset() -> None:
    t = Trace()
    t.open()
    t.query()
    t.set("STOP")
    t.reset(ret=-1, errno="EAGAIN")
    assert states(check(t)) == ("STOP",)
    t2 = Trace()
    t2.open()
    t2.query()
    t2.set("STOP")
    t2.reset(ret=-1, errno="EIO")
    assert set(states(check(t2))) == {"STOP", "RUNNING"}


def test_noop_set_creates_no_session() -> None:
    t = Trace()
    t.open()
    t.query()
    t.set("STOP_COPY", data_fd=6)
    t.set("STOP_COPY")
    t.read(96)
    t.read(0)
    t.set("STOP")
    t.close()
    assert rule_ids(check(t)) == []


def test_closing_the_fd_does_not_end_the_session() -> None:
    t = Trace()
    t.open()
    t.query()
    t.set("RESUMING", data_fd=6)
    t.write(64)
    t.close()
    t.set("STOP")
    r = check(t)
    assert rule_ids(r) == [] and states(r) == ("STOP",)


def test_hidden_set_bound_by_the_fd_that_appears_and_its_direction() -> None:
    t = Trace()
    t.open()
    t.query()
    t.hidden()
    t.appeared(6)
    t.write(64)
    r = check(t)
    assert states(r) == ("RESUMING",)      # a write that succeeds: a resuming session
    t2 = Trace()
    t2.open()
    t2.query()
    t2.hidden()
    t2.appeared(6)
    t2.info()
    assert set(states(check(t2))) == {"PRE_COPY", "PRE_COPY_P2P"}


def test_hidden_calls_never_produce_request_findings_but_leave_them_undecided() -> None:
    t = Trace()
    t.open()
    t.query()
    t.hidden()
    t.hidden()
    r = check(t)
    assert rule_ids(r) == []
    (device,) = r.devices
    assert device.verdict == "inconclusive"
    assert any("U011" in reason for reason in device.inconclusive_reasons)


def test_flags_come_from_the_trace_or_every_defined_set() -> None:
    t = Trace()
    t.open()
    t.set("STOP")
    (device,) = check(t).devices
    assert device.flags == "?" and device.flags_candidates == ("0x1", "0x3", "0x5", "0x7")
    t.query(flags=0x5)
    (device,) = check(t).devices
    assert device.flags == "0x5"
    t3 = Trace()
    t3.open()
    t3.set("STOP")
    assert check(t3, flags="0x3").devices[0].flags == "0x3"


def test_undefined_flag_set_reported() -> None:
    t = Trace()
    t.open()
    t.query(flags=0x4)
    assert "K012" in rule_ids(check(t))


def test_set_to_unsupported_state_depends_on_the_flags() -> None:
    t = Trace()
    t.open()
    t.query(flags=0x1)
    t.set("RUNNING_P2P", ret=-1, errno="EINVAL")
    assert rule_ids(check(t)) == ["U002"]
    t2 = Trace()
    t2.open()
    t2.set("RUNNING_P2P", ret=-1, errno="EINVAL")
    # flags unknown: 0x3/0x7 support RUNNING_P2P, so the failure is not the VMM's fault
    assert "U002" not in rule_ids(check(t2))


def test_overlapping_calls_are_tried_in_both_orders() -> None:
    """A read that started before the SET that ends its session returned data."""
    o = Origin
    events = [
        *_setup(),
        FeatureCall(o("t", 10, 12), device="d0", fd=5, op="SET", feature="MIG_DEVICE_STATE",
                    ret=0, errno=None, target="STOP", data_fd=-1, tid=1),
        DataIO(o("t", 11, 13), fd=6, file="f6", call="read", direction="read",
               requested=64, ret=8, errno=None, tid=2),
    ]
    r = check_events(events, spec="linux-6.12")
    assert [f.rule for f in r.findings if f.severity == "error"] == []
    sequential = [*events[:-2],
                  FeatureCall(o("t", 10), device="d0", fd=5, op="SET",
                              feature="MIG_DEVICE_STATE", ret=0, errno=None, target="STOP",
                              data_fd=-1, tid=1),
                  DataIO(o("t", 13), fd=6, file="f6", call="read", direction="read",
                         requested=64, ret=8, errno=None, tid=2)]
    assert "K007" in [f.rule for f in check_events(sequential, spec="linux-6.12").findings]


def _setup():
    t = Trace()
    t.open()
    t.query()
    t.set("STOP_COPY", data_fd=6)
    return t.events


def test_two_devices_keep_separate_sets() -> None:
    t = Trace()
    t.open("a")
    t.query("a")
    t.open("b")
    t.query("b")
    t.set("STOP", dev="a")
    t.set("RESUMING", data_fd=7, dev="b")
    t.write(16, fd=7)
    r = check(t)
    assert states(r, "a") == ("STOP",) and states(r, "b") == ("RESUMING",)
    assert r.devices[1].sessions[0].bytes_written == 16


def test_bounded_set_reports_t002(monkeypatch) -> None:
    monkeypatch.setattr(engine_mod, "MAX_CONFIGS", 3)
    t = Trace()
    t.open()
    t.hidden()
    t.hidden()
    r = check(t)
    assert "T002" in rule_ids(r)
    assert any("dropped" in reason for reason in r.devices[0].inconclusive_reasons)


def test_select_and_ignore() -> None:
    t = Trace()
    t.open()
    t.query()
    t.set("ERROR", ret=-1, errno="EINVAL")
    assert rule_ids(check(t)) == ["U003"]
    assert rule_ids(check(t, ignore=["U003"])) == []
    assert rule_ids(check(t, select=["K"])) == []


def test_unknown_ret_accepts_success_and_failure() -> None:
    t = Trace()
    t.open()
    t.query()
    t.set("STOP", ret=UNKNOWN, data_fd=UNKNOWN)
    assert set(states(check(t))) == {"RUNNING", "RUNNING_P2P", "STOP", "ERROR"}


@pytest.mark.parametrize("how", ["exit", "exec"])
def test_fd_closed_only_by_exit_is_a_note(how: str) -> None:
    t = Trace()
    t.open()
    t.query()
    t.set("PRE_COPY", data_fd=6)
    t.read(8)
    t.set("RUNNING")
    t.close(how=how)
    r = check(t)
    assert [(f.rule, f.severity) for f in r.findings] == [("U013", "note")]
