"""Events -> canonical trace text (docs/canonical-format.md), one line per event.

Any reader's events can be written, so strace captures and QEMU logs convert to the
canonical format with what they could not show written as ``?``. Reading the output back
with :mod:`vfio_migcheck.traces.canonical.reader` gives the same events (apart from origins); a
value the syntax has no place for is written as ``?`` and kept in a trailing comment, so the
output always reads back without unreadable lines and nothing is lost silently.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from vfio_migcheck.model.names import NameError_, parse_state
from vfio_migcheck.traces.canonical.syntax import (
    CLOSE_HOWS,
    FEATURE_SHORT,
    FEATURES,
    HEADER,
    IO_CALLS,
    KEYWORDS,
    NUMBERED_FEATURE,
    OPS,
    PAYLOAD_FIELDS,
    POLL_CALLS,
    PROCESS_WHATS,
    QEMU_RECOVER_KEYS,
    QEMU_STATE_KEYS,
    SEEK_CALLS,
    carried,
    carried_fields,
    default_spec,
    qemu_state,
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
    Unreadable,
)

_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:/\-]*\Z")
_WORD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_ARG_RE = re.compile(r"-?[A-Za-z0-9_][A-Za-z0-9_|+.:\-/]*\Z")
_BARE_RE = re.compile(r"[^\s#\"\\]+\Z")
_ERRNO_RE = re.compile(r"[A-Z][A-Z0-9_]*\Z")
_INT_RE = re.compile(r"-?(0[xX][0-9a-fA-F]+|[0-9]+)\Z")
# FeatureCall payload keys in the order they are written: before '=' (input), after (reply).
_INPUT_KEYS = (("target", "target"), ("probe_ops", "ops"))
_REPLY_KEYS = (("reply_state", "state"), ("data_fd", "data_fd"), ("mig_flags", "flags"),
               ("data_size", "size"))
_DEVICE_EVENTS = (DeviceOpen, FeatureCall, DeviceReset, DeviceAccess, DeviceClose)


class Inexpressible(ValueError):
    """A value the canonical syntax cannot hold; the writer notes it in a comment."""


# --- spelling single values -----------------------------------------------------------------


def quote(text: str) -> str:
    """A double-quoted string the canonical reader unquotes back to ``text``."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def text_value(text: str) -> str:
    """A string value: bare when it reads back as itself, quoted otherwise."""
    if _BARE_RE.match(text) and text not in ("?", "-"):
        return text
    return quote(text)


def name_value(name: str) -> str:
    return name if _NAME_RE.match(name) and name not in KEYWORDS else quote(name)


def one_line(text: str) -> str:
    """Comments must stay on their line: control characters become spaces."""
    return "".join(" " if ord(ch) < 0x20 or ch == "\x7f" else ch for ch in text)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def r_int(value: Any) -> str:
    if not _is_int(value):
        raise Inexpressible(f"number {value!r}")
    return str(value)


def r_text(value: Any) -> str:
    if not isinstance(value, str):
        raise Inexpressible(f"text {value!r}")
    return text_value(value)


def r_state(value: Any) -> str:
    if _is_int(value):
        return str(value)
    if isinstance(value, str):
        try:
            parse_state(value, default_spec())
        except NameError_:
            pass
        else:
            return text_value(value)
    raise Inexpressible(f"state {value!r}")


def r_flags(value: Any) -> str:
    if not _is_int(value) or value < 0:
        raise Inexpressible(f"flags {value!r}")
    spec = default_spec()
    names = [n for n, bit in spec.flags.items() if value & bit]
    if value and names and sum(spec.flags[n] for n in names) == value:
        return "|".join(names)
    return hex(value)


def r_ops(value: Any) -> str:
    if not isinstance(value, tuple) or any(op not in ("GET", "SET") for op in value):
        raise Inexpressible(f"probe ops {value!r}")
    return "|".join(op for op in ("GET", "SET") if op in value) if value else "NONE"


def r_bool(value: Any) -> str:
    if not isinstance(value, bool):
        raise Inexpressible(f"yes/no {value!r}")
    return "yes" if value else "no"


def r_hex(value: Any) -> str:
    return hex(value) if _is_int(value) and value >= 0 else r_int(value)


def _float(value: Any) -> str | None:
    """``repr`` of a finite number (an exact round trip), None for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return repr(float(value)) if math.isfinite(value) else None


def result_text(ret: Any, errno: Any, notes: list[str]) -> str:
    """``= RESULT [ERRNO]``; the parts with no canonical spelling go to ``notes``."""
    if ret is not UNKNOWN and not _is_int(ret):
        notes.append(f"result {ret!r}")
        ret = UNKNOWN
    head = "?" if ret is UNKNOWN else str(ret)
    default = UNKNOWN if ret is UNKNOWN else None
    if errno is default:
        return f"= {head}"
    if errno is UNKNOWN:
        return f"= {head} ?"
    if errno is None:
        return f"= {head} -"
    if isinstance(errno, str) and _ERRNO_RE.match(errno):
        return f"= {head} {errno}"
    notes.append(f"errno {errno!r}")
    return f"= {head} ?"


def origin_text(origin: Origin) -> str:
    if origin.last_line is not None:
        return f"{origin.file}:{origin.line}-{origin.last_line}"
    return f"{origin.file}:{origin.line}"


def qemu_value_text(value: Any) -> str:
    """QEMU arguments: numbers bare, text that looks like a number quoted, ``?`` unknown."""
    if value is UNKNOWN:
        return "?"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    text = value if isinstance(value, str) else str(value)
    if _INT_RE.match(text):
        return quote(text)
    return text_value(text)


# --- one line ---------------------------------------------------------------------------------


class _Line:
    """The words of one statement and the notes about values it could not hold."""

    def __init__(self, *words: str) -> None:
        self.parts = list(words)
        self.notes: list[str] = []

    def value(self, value: Any, render: Callable[[Any], str], *, none: bool = False,
              unknown: bool = True, bad: str = "?") -> str | None:
        """Spell ``value``: ``?`` for UNKNOWN (when ``unknown``), ``-`` for None (when
        ``none``); a value that cannot be spelled is noted and written as ``bad``
        (empty = leave the key out)."""
        if value is UNKNOWN and unknown:
            return "?"
        if value is None and none:
            return "-"
        try:
            if value is None or value is UNKNOWN:
                raise Inexpressible(f"value {value!r}")
            return render(value)
        except Inexpressible as exc:
            self.notes.append(str(exc))
            return bad or None

    def key(self, key: str, value: Any, render: Callable[[Any], str], *, default: Any = UNKNOWN,
            none: bool = False, unknown: bool = True, bad: str = "") -> None:
        """Add ``key=value`` unless ``value`` is what the reader assumes without the key."""
        if _same(value, default):
            return
        text = self.value(value, render, none=none, unknown=unknown, bad=bad)
        if text:
            self.parts.append(f"{key}={text}")

    def add(self, *words: str) -> None:
        self.parts.extend(words)

    def result(self, event: Any) -> None:
        self.parts.append(result_text(event.ret, event.errno, self.notes))

    def done(self) -> tuple[str, list[str]]:
        return " ".join(self.parts), self.notes


def _same(a: Any, b: Any) -> bool:
    if a is UNKNOWN or b is UNKNOWN or a is None or b is None:
        return a is b
    return type(a) is type(b) and bool(a == b)


def _arg(value: Any, notes: list[str]) -> str:
    if not isinstance(value, str):
        notes.append(f"argument {value!r}")
        value = str(value)
    return value if _ARG_RE.match(value) and value != "?" else quote(value)


def _no_statement(event: Event) -> str:
    """A comment line for an event the canonical syntax has no statement for."""
    blob = json.dumps(event.to_json(), default=str)
    return f"# {event.kind} event has no canonical statement: {one_line(blob)}"


def _first_state(fields: dict[str, Any], keys: Iterable[str]) -> str | None:
    for key in keys:
        if key in fields:
            return qemu_state(fields[key])
    return None


class CanonicalWriter:
    """Turns events into lines; remembers declared devices so every line reads back."""

    def __init__(self, origins: bool = False) -> None:
        self.origins = origins
        self.declared: dict[str, Any] = {}

    def lines(self, event: Event) -> Iterator[str]:
        """The line(s) for one event: a declaration first when a device was never opened."""
        device = getattr(event, "device", None)
        if (isinstance(event, _DEVICE_EVENTS) and not isinstance(event, DeviceOpen)
                and isinstance(device, str) and device not in self.declared):
            fd = getattr(event, "fd", UNKNOWN)
            self.declared[device] = fd
            decl = _Line("device", name_value(device))
            decl.key("fd", fd, r_int)
            yield (f"{decl.done()[0]}  # declared by the converter: the trace does not show "
                   "the device's open")
        body, notes = self._body(event)
        yield self._decorate(event, body, notes)

    def _body(self, event: Event) -> tuple[str, list[str]]:
        method = getattr(self, "_" + type(event).__name__, None)
        if method is None or not isinstance(getattr(event, "device", ""), str):
            return _no_statement(event), []
        if not isinstance(event, (*_DEVICE_EVENTS, QemuEvent, ProcessEvent, Unreadable, FdDup)):
            if not _is_int(getattr(event, "fd", None)):
                return _no_statement(event), []
        return method(event)

    def _decorate(self, event: Event, body: str, notes: list[str]) -> str:
        if body.startswith("#"):
            return body
        prefix = []
        if event.ts is not None:
            ts = _float(event.ts)
            if ts is None:
                notes.append(f"ts {event.ts!r}")
            else:
                prefix.append("@" + ts)
        pid = event.pid if event.pid is None or _is_int(event.pid) else None
        tid = event.tid if event.tid is None or _is_int(event.tid) else None
        if (pid, tid) != (event.pid, event.tid):
            notes.append(f"pid/tid {event.pid!r}/{event.tid!r}")
        if pid is not None:
            prefix.append(f"[{pid}/{'-' if tid is None else tid}]")
        elif tid is not None:
            prefix.append(f"[{tid}]")
        line = " ".join([*prefix, body])
        if event.duration is not None:
            dur = _float(event.duration)
            if dur is None or dur.startswith("-"):
                notes.append(f"duration {event.duration!r}")
            else:
                line += f" <{dur}>"
        if self.origins:
            notes.insert(0, f"from {event.origin}")
        if notes:
            line += "  # " + one_line("; ".join(notes))
        return line

    # -- devices --

    def _DeviceOpen(self, e: DeviceOpen) -> tuple[str, list[str]]:
        self.declared[e.device] = e.fd
        line = _Line("device", name_value(e.device))
        line.key("fd", e.fd, r_int)
        line.key("flags", e.flags, r_flags)
        line.key("state", e.state, r_state)
        line.key("path", e.path, r_text)
        if e.api is UNKNOWN or e.api in ("group", "cdev"):
            line.key("api", e.api, r_text)
        else:
            line.notes.append(f"api {e.api!r}")
        line.key("driver", e.driver, r_text)
        return line.done()

    def _device_line(self, e: Any, *words: str) -> _Line:
        line = _Line(name_value(e.device), *words)
        return line

    def _device_fd(self, e: Any, line: _Line) -> None:
        """``fd=N`` when the call used another fd than the declared one (a dup of it)."""
        line.key("fd", e.fd, r_int, default=self.declared.get(e.device, UNKNOWN), bad="?")

    def _FeatureCall(self, e: FeatureCall) -> tuple[str, list[str]]:
        op: Any = e.op if e.op in OPS else UNKNOWN
        feature: Any = (e.feature if e.feature in FEATURES
                        or (isinstance(e.feature, str) and NUMBERED_FEATURE.fullmatch(e.feature))
                        else UNKNOWN)
        line = self._device_line(e, "?" if op is UNKNOWN else op,
                                 "?" if feature is UNKNOWN else FEATURE_SHORT.get(feature,
                                                                                  feature))
        for what, value, written in (("op", e.op, op), ("feature", e.feature, feature)):
            if value is not UNKNOWN and written is UNKNOWN:
                line.notes.append(f"{what} {value!r}")
        defaults = carried_fields(op, feature)
        can = carried(op, feature)
        renders = {"target": r_state, "reply_state": r_state, "data_fd": r_int,
                   "mig_flags": r_flags, "data_size": r_int, "probe_ops": r_ops}
        positional = None
        if op == "SET" and feature == "MIG_DEVICE_STATE" and e.target is not None:
            positional = "target"
            line.add(line.value(e.target, r_state) or "?")
        elif op == "PROBE" and e.probe_ops is not None:
            positional = "probe_ops"
            line.add(line.value(e.probe_ops, r_ops) or "?")
        elif op == "SET" and feature == "MIG_DEVICE_STATE":
            line.add("target=-")
            positional = "target"
        keys: dict[str, str] = {}
        for attr in PAYLOAD_FIELDS:
            value = getattr(e, attr)
            if attr == positional or _same(value, defaults[attr]):
                continue
            if attr not in can:
                line.notes.append(f"{attr}={value!r} does not apply to {op} {feature}")
                continue
            keys[attr] = line.value(value, renders[attr], none=True) or "?"
        for attr, key in _INPUT_KEYS:
            if attr in keys:
                line.add(f"{key}={keys[attr]}")
        self._device_fd(e, line)
        line.key("argsz", e.argsz, r_int, bad="?")
        line.key("rawflags", e.raw_flags, r_hex, bad="?")
        line.result(e)
        for attr, key in _REPLY_KEYS:
            if attr in keys:
                line.add(f"{key}={keys[attr]}")
        if op is UNKNOWN or feature is UNKNOWN:
            line.notes.append("payload not shown by the trace")
        return line.done()

    def _simple_device(self, e: Any, *words: str) -> tuple[str, list[str]]:
        line = self._device_line(e, *words)
        self._device_fd(e, line)
        line.result(e)
        how = getattr(e, "how", "close")
        if how in CLOSE_HOWS:
            line.key("how", how, r_text, default="close")
        else:
            line.notes.append(f"how {how!r}")
        return line.done()

    def _DeviceReset(self, e: DeviceReset) -> tuple[str, list[str]]:
        return self._simple_device(e, "RESET")

    def _DeviceAccess(self, e: DeviceAccess) -> tuple[str, list[str]]:
        notes: list[str] = []
        body, more = self._simple_device(e, "access", _arg(e.call, notes))
        return body, notes + more

    def _DeviceClose(self, e: DeviceClose) -> tuple[str, list[str]]:
        return self._simple_device(e, "close")

    # -- data fds --

    def _fd_line(self, e: Any, verb: str, *args: str) -> _Line:
        return _Line("fd", str(e.fd), verb, *args)

    def _FdAppeared(self, e: FdAppeared) -> tuple[str, list[str]]:
        line = self._fd_line(e, "appeared")
        line.key("name", e.name, r_text)
        if isinstance(e.after_feature, Origin):
            line.add(f"after={text_value(origin_text(e.after_feature))}")
        elif e.after_feature is not None:
            line.notes.append(f"after {e.after_feature!r}")
        line.key("device", e.device_hint, r_text)
        return line.done()

    def _DataIO(self, e: DataIO) -> tuple[str, list[str]]:
        call = e.call if isinstance(e.call, str) else str(e.call)
        direction = e.direction if e.direction in ("read", "write") else "read"
        known = IO_CALLS.get(call)
        verb = call if known is not None and known[0] == direction else direction
        notes = [] if direction == e.direction else [f"direction {e.direction!r}"]
        line = self._fd_line(e, verb)
        line.notes += notes
        line.add(line.value(e.requested, r_int) or "?")
        if verb != call:
            line.add(f"call={text_value(call)}")
        default_positioned = IO_CALLS.get(call, (direction, False))[1]
        line.key("positioned", e.positioned, r_bool, default=default_positioned, unknown=False)
        line.result(e)
        return line.done()

    def _named_call(self, e: Any, known: Iterable[str], base: str) -> _Line:
        call = e.call if isinstance(e.call, str) else str(e.call)
        if call in known:
            return self._fd_line(e, call)
        line = self._fd_line(e, base)
        line.add(f"call={text_value(call)}")
        return line

    def _DataSeek(self, e: DataSeek) -> tuple[str, list[str]]:
        line = self._named_call(e, SEEK_CALLS, "lseek")
        line.result(e)
        return line.done()

    def _DataPoll(self, e: DataPoll) -> tuple[str, list[str]]:
        line = self._named_call(e, POLL_CALLS, "poll")
        line.result(e)
        line.key("ready", e.ready, r_bool)
        return line.done()

    def _PrecopyInfo(self, e: PrecopyInfo) -> tuple[str, list[str]]:
        line = self._fd_line(e, "precopy_info")
        line.key("argsz", e.argsz, r_int)
        line.result(e)
        line.key("initial", e.initial_bytes, r_int)
        line.key("dirty", e.dirty_bytes, r_int)
        return line.done()

    def _DataIoctl(self, e: DataIoctl) -> tuple[str, list[str]]:
        notes: list[str] = []
        line = self._fd_line(e, "ioctl", _arg(e.request, notes))
        line.notes += notes
        line.result(e)
        return line.done()

    def _DataFcntl(self, e: DataFcntl) -> tuple[str, list[str]]:
        notes: list[str] = []
        line = self._fd_line(e, "fcntl", _arg(e.cmd, notes))
        line.notes += notes
        line.result(e)
        return line.done()

    def _FdDup(self, e: FdDup) -> tuple[str, list[str]]:
        if not _is_int(e.old_fd) or not _is_int(e.new_fd) or e.new_fd < 0:
            return _no_statement(e), []
        line = _Line("fd", str(e.old_fd))
        if e.call in ("dup2", "dup3"):
            line.add(e.call, str(e.new_fd))
        else:
            line.add("dup")
            if e.call != "dup":
                line.key("call", e.call, r_text)
        line.add(f"= {e.new_fd}")
        return line.done()

    def _DataClose(self, e: DataClose) -> tuple[str, list[str]]:
        line = self._fd_line(e, "close")
        line.result(e)
        if e.how in CLOSE_HOWS:
            line.key("how", e.how, r_text, default="close")
        else:
            line.notes.append(f"how {e.how!r}")
        return line.done()

    # -- everything else --

    def _QemuEvent(self, e: QemuEvent) -> tuple[str, list[str]]:
        name = e.name if isinstance(e.name, str) else str(e.name)
        notes: list[str] = []
        if not _WORD_RE.match(name) or name.startswith("vfio_"):
            notes.append(f"event name {name!r}")
            name = "unnamed"
        line = _Line("qemu", name_value(e.device), name)
        line.notes += notes
        fields = dict(e.fields) if isinstance(e.fields, dict) else {}
        if not isinstance(e.fields, dict):
            line.notes.append(f"fields {e.fields!r}")
        if e.state is not None and _first_state(fields, QEMU_STATE_KEYS) != e.state \
                and "state" not in fields:
            fields["state"] = e.state
        for key, value in fields.items():
            if not isinstance(key, str) or not _WORD_RE.match(key):
                line.notes.append(f"field {key!r}={value!r}")
                continue
            line.add(f"{key}={qemu_value_text(value)}")
        if e.recover is not None and _first_state(fields, QEMU_RECOVER_KEYS) != e.recover:
            line.notes.append(f"recover {e.recover!r}")
        return line.done()

    def _ProcessEvent(self, e: ProcessEvent) -> tuple[str, list[str]]:
        if e.what not in PROCESS_WHATS:
            return _no_statement(e), []
        line = _Line("process", e.what)
        line.key("child", e.child, r_int, default=None, unknown=False)
        line.key("thread", e.thread, r_bool, default=None, unknown=False)
        line.key("status", e.status, r_int)
        line.key("signal", e.signal, r_text, default=None, unknown=False)
        return line.done()

    def _Unreadable(self, e: Unreadable) -> tuple[str, list[str]]:
        return one_line(f"# unreadable: {e.origin}: {e.reason}"), []


def write_events(events: Iterable[Event], origins: bool = False) -> Iterator[str]:
    """Stream canonical lines for ``events`` (no header; see :func:`header`)."""
    writer = CanonicalWriter(origins=origins)
    for event in events:
        yield from writer.lines(event)


def header() -> str:
    return HEADER
