"""Hypothesis properties of the engine: it never raises, model walks are clean, and hiding
the payloads of a legal trace never produces an error (soundness)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vfio_migcheck.checker.api import check_events
from vfio_migcheck.model.fsm import model_for
from vfio_migcheck.model.spec import load_spec
from vfio_migcheck.traces.events import (
    UNKNOWN,
    DataClose,
    DataIO,
    DeviceClose,
    DeviceOpen,
    DeviceReset,
    FdAppeared,
    FeatureCall,
    Origin,
    PrecopyInfo,
    QemuEvent,
)

SPEC = load_spec("linux-6.12")
STATES = sorted(SPEC.states)
ERRNOS = [None, "EINVAL", "ENODEV", "ENOMSG", "EBADF", "ESPIPE", "EIO", UNKNOWN]
RETS = st.one_of(st.just(UNKNOWN), st.integers(min_value=-1, max_value=64))
maybe = st.one_of(st.just(UNKNOWN), st.none())


@st.composite
def any_event(draw, line: int):
    o = Origin("p", line, draw(st.sampled_from([None, line, line + 1])))
    dev = draw(st.sampled_from(["a", "b"]))
    fd = draw(st.integers(min_value=3, max_value=8))
    file = f"f{fd}#{draw(st.integers(0, 2))}"
    tid = draw(st.sampled_from([None, 1, 2]))
    ret = draw(RETS)
    errno = draw(st.sampled_from(ERRNOS))
    kind = draw(st.integers(0, 9))
    common = {"tid": tid, "pid": 1}
    if kind == 0:
        return DeviceOpen(o, device=dev, fd=5, flags=draw(st.sampled_from([UNKNOWN, 1, 3, 4, 7])),
                          **common)
    if kind == 1:
        return FeatureCall(
            o, device=dev, fd=5, op=draw(st.sampled_from(["GET", "SET", "PROBE", UNKNOWN])),
            feature=draw(st.sampled_from(["MIGRATION", "MIG_DEVICE_STATE", "DMA_LOGGING_START",
                                          "DMA_LOGGING_REPORT", UNKNOWN])),
            ret=ret, errno=errno,
            target=draw(st.one_of(st.sampled_from(STATES), st.integers(0, 12), maybe)),
            reply_state=draw(st.one_of(st.sampled_from(STATES), maybe)),
            data_fd=draw(st.one_of(st.integers(-1, 8), maybe)),
            mig_flags=draw(st.one_of(st.integers(0, 15), maybe)),
            raw_flags=draw(st.one_of(st.just(UNKNOWN), st.integers(0, 0x80010))),
            argsz=draw(st.one_of(st.just(UNKNOWN), st.integers(0, 40))), **common)
    if kind == 2:
        return DeviceReset(o, device=dev, fd=5, ret=ret, errno=errno, **common)
    if kind == 3:
        return FdAppeared(o, fd=fd, file=file, after_feature=draw(st.sampled_from(
            [None, Origin("p", max(line - 1, 1))])), device_hint=draw(st.sampled_from(
                [UNKNOWN, "a", "b"])), **common)
    if kind in (4, 5):
        return DataIO(o, fd=fd, file=file, call="read" if kind == 4 else "write",
                      direction="read" if kind == 4 else "write",
                      requested=draw(st.one_of(st.just(UNKNOWN), st.integers(0, 64))),
                      ret=ret, errno=errno, positioned=draw(st.booleans()), **common)
    if kind == 6:
        return PrecopyInfo(o, fd=fd, file=file, ret=ret, errno=errno,
                           argsz=draw(st.one_of(st.just(UNKNOWN), st.integers(0, 32))), **common)
    if kind == 7:
        return DataClose(o, fd=fd, file=file, ret=0, errno=None,
                         how=draw(st.sampled_from(["close", "exit"])), **common)
    if kind == 8:
        return DeviceClose(o, device=dev, fd=5, ret=ret, errno=errno, **common)
    return QemuEvent(o, device=dev, name=draw(st.sampled_from(
        ["migration_set_state", "migration_set_device_state", "migration_init"])),
        state=draw(st.sampled_from([None, *STATES])), recover=draw(st.sampled_from(
            [None, "ERROR", "RUNNING"])), fields={"mig_flags": draw(st.integers(0, 7))},
        **common)


@st.composite
def event_lists(draw):
    n = draw(st.integers(0, 25))
    return [draw(any_event(i + 1)) for i in range(n)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event_lists())
def test_engine_never_raises(events) -> None:
    result = check_events(events, spec=SPEC)
    for device in result.devices:
        assert device.verdict in ("pass", "fail", "inconclusive", "unchecked")
        if device.verdict == "unchecked":   # nothing checked is never a pass, and says why
            assert device.inconclusive_reasons[0].startswith(("nothing to check",
                                                              "not applicable"))
    for f in result.findings:
        assert f.severity in ("error", "warning", "note") and f.rule


# --- walks over the model produce legal traces ------------------------------------------------


class Walk:
    """Builds a legal single-device trace by following the model's answers."""

    def __repr__(self) -> str:
        return "Walk(" + "; ".join(type(e).__name__ + str(
            {k: v for k, v in vars(e).items() if k in ("target", "ret", "errno", "direction",
                                                       "data_fd")}) for e in self.events) + ")"

    def __init__(self, flags: int) -> None:
        self.flags, self.model = flags, model_for(SPEC, flags)
        self.events: list = []
        self.state, self.fd, self.kind, self.next_fd = "RUNNING", None, None, 6
        self.eof = False
        self.add(DeviceOpen, device="d", fd=5, flags=UNKNOWN)
        self.add(FeatureCall, device="d", fd=5, op="GET", feature="MIGRATION", ret=0,
                 errno=None, mig_flags=flags)

    def add(self, cls, **kw):
        self.events.append(cls(Origin("walk", len(self.events) + 1), pid=1, **kw))

    def io(self, direction: str, ret, errno=None, requested=64):
        self.add(DataIO, fd=self.fd, file=f"f{self.fd}", call=direction, direction=direction,
                 requested=requested, ret=ret, errno=errno)

    def finish_session(self) -> None:
        """Do what a careful VMM does before leaving the session's state."""
        if self.kind == "saving" and self.state == "STOP_COPY" and not self.eof:
            self.io("read", 0)
            self.eof = True
        if self.kind == "resuming":
            self.io("write", 32)

    def set(self, target: str) -> None:
        answer = self.model.request(self.state, target)
        if not answer.ok:
            return
        leaves = self.fd is not None and answer.ends is not None
        if leaves or answer.creates:
            self.finish_session()
        data_fd = -1
        if answer.creates:
            data_fd, self.next_fd = self.next_fd, self.next_fd + 1
        self.add(FeatureCall, device="d", fd=5, op="SET", feature="MIG_DEVICE_STATE", ret=0,
                 errno=None, target=target, data_fd=data_fd)
        if answer.ends or answer.creates:
            if self.fd is not None:
                self.add(DataClose, fd=self.fd, file=f"f{self.fd}", ret=0, errno=None)
            self.fd, self.kind, self.eof = None, None, False
        if answer.creates:
            self.fd, self.kind = data_fd, answer.creates
        self.state = target

    def data(self, amount: int) -> None:
        if self.fd is None:
            return
        if self.kind == "resuming":
            self.io("write", amount)
        elif self.state in ("PRE_COPY", "PRE_COPY_P2P"):
            self.add(PrecopyInfo, fd=self.fd, file=f"f{self.fd}", ret=0, errno=None, argsz=24)
            if amount:
                self.io("read", amount)
            else:
                self.io("read", -1, "ENOMSG")
        elif self.state == "STOP_COPY":
            if self.eof or amount == 0:
                self.io("read", 0)
                self.eof = True
            else:
                self.io("read", amount)

    def end(self) -> None:
        """Finish the flow: no live session, the device RUNNING or STOP."""
        if self.state not in ("RUNNING", "STOP"):
            self.set("RUNNING")
        if self.fd is not None:
            self.add(DataClose, fd=self.fd, file=f"f{self.fd}", ret=0, errno=None)


@st.composite
def walks(draw) -> Walk:
    walk = Walk(draw(st.sampled_from(SPEC.defined_flag_sets)))
    for _ in range(draw(st.integers(1, 10))):
        if draw(st.booleans()):
            usable = sorted(walk.model.usable)
            walk.set(draw(st.sampled_from(usable)))
        else:
            walk.data(draw(st.integers(0, 64)))
    walk.end()
    return walk


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(walks())
def test_model_walks_are_clean(walk: Walk) -> None:
    result = check_events(walk.events, spec=SPEC)
    assert result.findings == (), [(f.line, f.rule, f.message) for f in result.findings]
    (device,) = result.devices
    requested = any(isinstance(e, FeatureCall) and e.feature == "MIG_DEVICE_STATE"
                    for e in walk.events)
    if not requested:                # open + flags query only: no state was ever checked
        assert device.verdict == "unchecked", device
        return
    assert device.final_states == (walk.state,)
    assert device.verdict == "pass", device.inconclusive_reasons


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(walks())
def test_hiding_payloads_never_creates_an_error(walk: Walk) -> None:
    hidden = []
    for e in walk.events:
        if isinstance(e, FeatureCall) and e.feature == "MIG_DEVICE_STATE":
            e = replace(e, op=UNKNOWN, feature=UNKNOWN, target=UNKNOWN, data_fd=UNKNOWN)
        elif isinstance(e, FeatureCall):
            e = replace(e, op=UNKNOWN, feature=UNKNOWN, mig_flags=UNKNOWN)
        hidden.append(e)
    result = check_events(hidden, spec=SPEC)
    assert [f for f in result.findings if f.severity == "error"] == []
