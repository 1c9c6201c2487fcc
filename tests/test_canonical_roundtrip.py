"""Property tests: events -> canonical text -> events is the identity, and no line crashes.

The strategies build event sequences a canonical trace can hold: devices are declared before
use and device events carry the declared fd. Values range over everything the syntax can
express (unknown, none, odd strings, out-of-range states), not only the tidy cases.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vfio_migcheck.traces.canonical import syntax as canonical
from vfio_migcheck.traces.canonical.reader import read_text
from vfio_migcheck.traces.canonical.syntax import (
    CLOSE_HOWS,
    FEATURES,
    IO_CALLS,
    POLL_CALLS,
    PROCESS_WHATS,
    SEEK_CALLS,
    carried,
)
from vfio_migcheck.traces.events import (
    UNKNOWN,
    DataClose,
    DataFcntl,
    DataIO,
    DataIoctl,
    DataPoll,
    DataSeek,
    DeviceAccess,
    DeviceClose,
    DeviceOpen,
    DeviceReset,
    Event,
    FdAppeared,
    FdDup,
    FeatureCall,
    Origin,
    PrecopyInfo,
    ProcessEvent,
    QemuEvent,
    ReadSummary,
    Unreadable,
)
from vfio_migcheck.traces.writer import write_events

HERE = Origin("gen", 0)
EXAMPLES = Path(__file__).resolve().parent.parent / "vfio_migcheck" / "examples"
STATE_NAMES = ("ERROR", "STOP", "RUNNING", "STOP_COPY", "RESUMING", "RUNNING_P2P", "PRE_COPY",
               "PRE_COPY_P2P")

texts = st.text(max_size=12)
words = st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True)
ints = st.integers(min_value=-(2**40), max_value=2**40)
nonneg = st.integers(min_value=0, max_value=2**31)
errnos = st.sampled_from(["EINVAL", "ENOMSG", "EBADF", "ESPIPE", "ERESTARTSYS", "E2BIG"])
device_names = st.sampled_from(["src", "dst", "0000:3b:00.1", "fd", "a b", "", "x#y", "?"])
states = st.one_of(st.sampled_from(STATE_NAMES), st.integers(min_value=8, max_value=300),
                   st.integers(min_value=-5, max_value=-1))


def maybe(strategy: st.SearchStrategy, *, none: bool = False) -> st.SearchStrategy:
    options = [st.just(UNKNOWN), strategy]
    if none:
        options.append(st.none())
    return st.one_of(*options)


@st.composite
def results(draw) -> dict[str, Any]:
    ret = draw(maybe(ints))
    errno = draw(st.one_of(st.none(), st.just(UNKNOWN), errnos))
    return {"ret": ret, "errno": errno}


@st.composite
def decorations(draw) -> dict[str, Any]:
    floats = st.floats(allow_nan=False, allow_infinity=False, width=64)
    return {
        "ts": draw(st.one_of(st.none(), floats)),
        "pid": draw(st.one_of(st.none(), nonneg)),
        "tid": draw(st.one_of(st.none(), nonneg)),
        "duration": draw(st.one_of(st.none(), floats.map(abs))),
    }


PAYLOAD_VALUES = {
    "target": states, "reply_state": states, "data_fd": ints, "mig_flags": nonneg,
    "data_size": ints,
    "probe_ops": st.sampled_from([(), ("GET",), ("SET",), ("GET", "SET")]),
}


@st.composite
def feature_calls(draw, device: str, fd: Any) -> FeatureCall:
    op = draw(st.sampled_from(["GET", "SET", "PROBE", UNKNOWN]))
    feature = draw(st.sampled_from([*FEATURES, UNKNOWN]))
    payload: dict[str, Any] = {}
    for name, values in PAYLOAD_VALUES.items():
        if name in carried(op, feature):
            payload[name] = draw(maybe(values, none=True))
        else:
            payload[name] = None
    return FeatureCall(HERE, device=device, fd=fd, op=op, feature=feature,
                       argsz=draw(maybe(ints)), raw_flags=draw(maybe(nonneg)),
                       **payload, **draw(results()), **draw(decorations()))


@st.composite
def device_events(draw, device: str, fd: Any) -> Event:
    kind = draw(st.sampled_from(["feature", "feature", "reset", "access", "close"]))
    if kind == "feature":
        return draw(feature_calls(device, fd))
    common = {"device": device, "fd": fd, **draw(results()), **draw(decorations())}
    if kind == "reset":
        return DeviceReset(HERE, **common)
    if kind == "access":
        return DeviceAccess(HERE, call=draw(st.one_of(words, texts)), **common)
    return DeviceClose(HERE, how=draw(st.sampled_from(CLOSE_HOWS)), **common)


origins = st.builds(Origin, texts.filter(bool), nonneg, st.one_of(st.none(), nonneg))


@st.composite
def fd_events(draw, fd: int) -> Event:
    kind = draw(st.sampled_from(["io", "io", "appeared", "seek", "poll", "precopy", "ioctl",
                                 "fcntl", "dup", "close"]))
    deco = draw(decorations())
    if kind == "appeared":
        return FdAppeared(HERE, fd=fd, file="", name=draw(maybe(texts)),
                          after_feature=draw(st.one_of(st.none(), origins)),
                          device_hint=draw(maybe(texts)), **deco)
    if kind == "dup":
        call = draw(st.one_of(st.sampled_from(["dup", "dup2", "dup3"]), words))
        return FdDup(HERE, old_fd=fd, new_fd=draw(nonneg), file="", call=call, **deco)
    common = {"fd": fd, "file": "", **draw(results()), **deco}
    if kind == "io":
        call = draw(st.one_of(st.sampled_from(sorted(IO_CALLS)), words))
        return DataIO(HERE, call=call, direction=draw(st.sampled_from(["read", "write"])),
                      requested=draw(maybe(nonneg)), positioned=draw(st.booleans()), **common)
    if kind == "seek":
        return DataSeek(HERE, call=draw(st.one_of(st.sampled_from(SEEK_CALLS), texts)),
                        **common)
    if kind == "poll":
        return DataPoll(HERE, call=draw(st.one_of(st.sampled_from(POLL_CALLS), texts)),
                        ready=draw(maybe(st.booleans())), **common)
    if kind == "precopy":
        return PrecopyInfo(HERE, argsz=draw(maybe(ints)), initial_bytes=draw(maybe(nonneg)),
                           dirty_bytes=draw(maybe(ints)), **common)
    if kind == "ioctl":
        return DataIoctl(HERE, request=draw(st.one_of(words, texts)), **common)
    if kind == "fcntl":
        return DataFcntl(HERE, cmd=draw(st.one_of(words, texts)), **common)
    return DataClose(HERE, how=draw(st.sampled_from(CLOSE_HOWS)), **common)


qemu_values = st.one_of(ints, texts, st.just(UNKNOWN))
qemu_keys = words.filter(lambda k: k not in (*canonical.QEMU_STATE_KEYS,
                                             *canonical.QEMU_RECOVER_KEYS))


@st.composite
def qemu_events(draw) -> QemuEvent:
    fields = draw(st.dictionaries(qemu_keys, qemu_values, max_size=4))
    state = draw(st.one_of(st.none(), st.sampled_from(STATE_NAMES)))
    recover = draw(st.one_of(st.none(), st.sampled_from(STATE_NAMES)))
    if state is not None:
        fields["new"] = state
    if recover is not None:
        fields["recover"] = recover
    name = draw(words.filter(lambda w: not w.startswith("vfio_")))
    return QemuEvent(HERE, device=draw(st.one_of(device_names, texts)), name=name,
                     state=state, recover=recover, fields=fields, **draw(decorations()))


@st.composite
def process_events(draw) -> ProcessEvent:
    return ProcessEvent(HERE, what=draw(st.sampled_from(PROCESS_WHATS)),
                        child=draw(st.one_of(st.none(), nonneg)),
                        thread=draw(st.one_of(st.none(), st.booleans())),
                        status=draw(maybe(ints)), signal=draw(st.one_of(st.none(), texts)),
                        **draw(decorations()))


@st.composite
def traces(draw) -> list[Event]:
    names = draw(st.lists(device_names, min_size=1, max_size=3, unique=True))
    out: list[Event] = []
    fds: dict[str, Any] = {}
    for name in names:
        fds[name] = draw(maybe(nonneg))
        out.append(DeviceOpen(HERE, device=name, fd=fds[name],
                              path=draw(maybe(texts)),
                              api=draw(maybe(st.sampled_from(["group", "cdev"]))),
                              driver=draw(maybe(texts)), flags=draw(maybe(nonneg)),
                              state=draw(maybe(states)), **draw(decorations())))
    fd_numbers = st.integers(min_value=0, max_value=12)
    body = st.one_of(
        st.sampled_from(names).flatmap(
            lambda n: st.one_of(st.just(fds[n]), maybe(nonneg)).flatmap(
                lambda fd: device_events(n, fd))),
        fd_numbers.flatmap(fd_events),
        qemu_events(),
        process_events(),
    )
    out.extend(draw(st.lists(body, max_size=12)))
    return out


def without_origin(events: list[Event], keep_files: bool = True) -> list[Event]:
    out = []
    for e in events:
        e = dataclasses.replace(e, origin=HERE)
        if not keep_files and hasattr(e, "file"):
            e = dataclasses.replace(e, file="")
        out.append(e)
    return out


def read_back(lines: list[str]) -> tuple[list[Event], ReadSummary]:
    summary = ReadSummary()
    return list(read_text("\n".join(lines) + "\n", summary=summary)), summary


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(traces())
def test_events_survive_text(events: list[Event]) -> None:
    lines = list(write_events(events))
    back, summary = read_back(lines)
    assert summary.unreadable == [], (lines, summary.unreadable)
    # same events apart from origins and the file identities the reader assigns...
    assert without_origin(back, keep_files=False) == without_origin(events, keep_files=False)
    # ...and events read from canonical text survive exactly, identities included
    again, _ = read_back(list(write_events(back)))
    assert without_origin(again) == without_origin(back)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80).map(lambda t: t.replace("\n", " ")))
def test_arbitrary_lines_never_raise(line: str) -> None:
    summary = ReadSummary()
    events = list(read_text("device src fd=5\n" + line + "\n", summary=summary))
    assert summary.lines == 2
    assert summary.lines == summary.events + summary.irrelevant + len(summary.unreadable)
    assert len(events) == summary.events + len(summary.unreadable)
    for ev in events:
        if isinstance(ev, Unreadable):
            assert ev.reason and "\n" not in ev.reason


VOCABULARY = ["device", "fd", "qemu", "process", "src", "GET", "SET", "PROBE", "RESET",
              "access", "close", "STATE", "MIGRATION", "?", "-", "=", "0", "-1", "6", "0x7",
              "EINVAL", "read", "dup2", "appeared", "data_fd=6", "state=", "flags=P2P",
              "how=exit", '"q"', '"', "[1]", "[1/-]", "@1.5", "<0.1>", "# c", "|", "9999",
              "PRE_COPY", "ops=GET", "new=STOP", "after=f:1", "ready=yes", "call=splice",
              "007", "[007]", "@1e999", "<1e999>", "0x", "state=007", "flags=010", "-0x1",
              "target=-", "size=?", "initial=1", "precopy_info", "poll", "ioctl", "fcntl"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(VOCABULARY), max_size=9))
def test_token_soup_never_raises(tokens: list[str]) -> None:
    """Lines made of the format's own words reach deeper into the parser than random text."""
    summary = ReadSummary()
    text = "device src fd=5\n" + " ".join(tokens) + "\n"
    events = list(read_text(text, summary=summary))
    assert summary.lines == summary.events + summary.irrelevant + len(summary.unreadable)
    assert len(events) == summary.events + len(summary.unreadable)


EXAMPLE_LINES = [line for path in sorted(EXAMPLES.glob("*.vmc"))
                 for line in path.read_text().splitlines() if line and not line.startswith("#")]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(EXAMPLE_LINES), st.integers(0, 120), st.integers(0, 6),
       st.text(max_size=3))
def test_damaged_example_lines_never_raise(line: str, at: int, cut: int, insert: str) -> None:
    """Real lines with a few characters cut out or replaced: the near misses people type."""
    at = min(at, len(line))
    damaged = (line[:at] + insert + line[at + cut:]).replace("\n", " ")
    summary = ReadSummary()
    prelude = "device 0000:3b:00.1 fd=31 flags=0x7\ndevice gpu0 fd=3\ndevice gpu1 fd=4\n"
    events = list(read_text(prelude + damaged + "\n", summary=summary))
    assert summary.lines == summary.events + summary.irrelevant + len(summary.unreadable)
    assert len(events) == summary.events + len(summary.unreadable)


FIXTURES = Path(__file__).resolve().parent / "fixtures"
CAPTURES = sorted([*FIXTURES.glob("strace/**/*.strace*"), *FIXTURES.glob("qemu/*.log"),
                   *FIXTURES.glob("mtty-6.12/*/*.strace*")])


def _comparable(events: list[Event]) -> list[Event]:
    return [dataclasses.replace(e, origin=HERE, **({"file": ""} if hasattr(e, "file") else {}))
            for e in events
            if not (isinstance(e, DeviceOpen) and e.text and "declared by the converter" in e.text)]


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_every_fixture_capture_converts_without_loss(path: Path) -> None:
    """Real strace and QEMU readers' events, written as canonical text, read back equal."""
    from vfio_migcheck.traces.reading import open_trace

    reading = open_trace(path)
    events = [e for e in reading.events if not isinstance(e, Unreadable)]
    lines = list(write_events(events))
    back, summary = read_back(lines)
    assert summary.unreadable == []
    assert _comparable(back) == _comparable(events)


anything = st.one_of(ints, texts, st.floats(), st.booleans(), st.none(), st.just(UNKNOWN),
                     st.tuples(texts), st.just(("GET", "SET")))
REQUIRED_TEXT = {"device", "call", "request", "cmd", "what", "name", "direction", "how",
                 "file", "reason"}


@st.composite
def wild_events(draw) -> Event:
    """Any event class with any value in any payload field: what other readers might send."""
    cls = draw(st.sampled_from([c for c in canonical_event_types() if c is not Unreadable]))
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in ("origin", "text", "kind"):
            continue
        if f.name in REQUIRED_TEXT:
            values[f.name] = draw(texts)
        elif f.name in ("fd", "old_fd", "new_fd"):
            values[f.name] = draw(st.one_of(ints, anything))
        elif f.name == "fields":
            values[f.name] = draw(st.dictionaries(texts, anything, max_size=3))
        elif f.name == "after_feature":
            values[f.name] = draw(st.one_of(st.none(), origins))
        else:
            values[f.name] = draw(anything)
    return cls(HERE, **values)


def canonical_event_types() -> list[type]:
    from vfio_migcheck.traces.events import EVENT_TYPES

    return list(EVENT_TYPES.values())


@settings(max_examples=300, deadline=None)
@given(st.lists(wild_events(), max_size=6))
def test_the_writer_always_writes_readable_text(events: list[Event]) -> None:
    """Whatever it is given, the writer emits lines the reader reads without complaint:
    values it cannot express become ``?`` plus a comment, never an unreadable line."""
    lines = list(write_events(events))
    assert all("\n" not in line for line in lines)
    _, summary = read_back(lines)
    assert summary.unreadable == [], (lines, summary.unreadable)
