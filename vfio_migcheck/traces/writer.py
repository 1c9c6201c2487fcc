"""Events -> canonical trace text (docs/canonical-format.md), one line per event.

Any reader's events can be written, so strace captures and QEMU logs convert to the
canonical format with what they could not show written as ``?``. Reading the output back
with :mod:`vfio_migcheck.traces.canonical` gives the same events (apart from origins); the
few values the syntax has no place for are kept in a trailing comment instead of being lost.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator
from typing import Any

from vfio_migcheck.model.names import NameError_, parse_state
from vfio_migcheck.traces.canonical import (
    CLOSE_HOWS,
    FEATURE_SHORT,
    FEATURES,
    HEADER,
    IO_CALLS,
    KEYWORDS,
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
# Keys of payload fields, in the order they are written: before '=' (input), after (reply).
_INPUT_KEYS = (("target", "target"), ("probe_ops", "ops"))
_REPLY_KEYS = (("reply_state", "state"), ("data_fd", "data_fd"), ("mig_flags", "flags"),
               ("data_size", "size"))


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


class Inexpressible(ValueError):
    """A value the canonical syntax cannot hold; the writer puts ``?`` and a note instead."""


def _maybe(value: Any, render) -> str:
    if value is UNKNOWN:
        return "?"
    if value is None:
        return "-"
    return render(value)


def _int_only(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Inexpressible(f"{what} {value!r}")
    return value


def state_text(value: Any) -> str:
    def render(state: Any) -> str:
        if isinstance(state, int) and not isinstance(state, bool):
            return str(state)
        if isinstance(state, str):
            try:
                parse_state(state, default_spec())
            except NameError_:
                pass
            else:
                return text_value(state)
        raise Inexpressible(f"state {state!r}")

    return _maybe(value, render)


def flags_text(value: Any) -> str:
    def render(flags: Any) -> str:
        if _int_only(flags, "flags") < 0:
            raise Inexpressible(f"flags {flags!r}")
        spec = default_spec()
        names = [n for n, bit in spec.flags.items() if flags & bit]
        if flags and names and sum(spec.flags[n] for n in names) == flags:
            return "|".join(names)
        return hex(flags)

    return _maybe(value, render)


def int_text(value: Any) -> str:
    return _maybe(value, lambda v: str(_int_only(v, "number")))


def ops_text(value: Any) -> str:
    def render(ops: Any) -> str:
        if not isinstance(ops, tuple) or any(op not in ("GET", "SET") for op in ops):
            raise Inexpressible(f"probe ops {ops!r}")
        return "|".join(op for op in ("GET", "SET") if op in ops) if ops else "NONE"

    return _maybe(value, render)


def _or_unknown(render, value: Any, notes: list[str]) -> str:
    """``render(value)``, or ``?`` with the value kept in ``notes``."""
    try:
        return render(value)
    except Inexpressible as exc:
        notes.append(str(exc))
        return "?"


def _float(value: Any) -> str | None:
    """``repr`` of a finite float (exact round trip), None for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return repr(float(value)) if math.isfinite(value) else None


def result_text(ret: Any, errno: Any) -> tuple[str, str | None]:
    """``= RESULT [ERRNO]`` and a note when the errno has no canonical spelling."""
    note = None
    if ret is not UNKNOWN and (isinstance(ret, bool) or not isinstance(ret, int)):
        return f"= ? {errno if isinstance(errno, str) and _ERRNO_RE.match(errno) else '?'}", \
            f"result {ret!r}"
    head = "?" if ret is UNKNOWN else str(ret)
    default = UNKNOWN if ret is UNKNOWN else None
    if errno is default:
        return f"= {head}", None
    if errno is UNKNOWN:
        return f"= {head} ?", None
    if errno is None:
        return f"= {head} -", None
    if isinstance(errno, str) and _ERRNO_RE.match(errno):
        return f"= {head} {errno}", None
    note = f"errno {errno!r}"
    return f"= {head} ?", note


class CanonicalWriter:
    """Turns events into lines; remembers declared devices so every line reads back."""

    def __init__(self, origins: bool = False) -> None:
        self.origins = origins
        self.declared: dict[str, Any] = {}

    def lines(self, event: Event) -> Iterator[str]:
        """The line(s) for one event: a declaration first when a device was never opened."""
        device = getattr(event, "device", None)
        if (isinstance(device, str) and not isinstance(event, (DeviceOpen, QemuEvent))
                and device not in self.declared):
            self.declared[device] = event.fd  # type: ignore[attr-defined]
            yield (f"device {name_value(device)} fd={int_text(event.fd)}"  # type: ignore
                   "  # declared by the converter: the trace does not show the device's open")
        body, notes = self._body(event)
        yield self._decorate(event, body, notes)

    def _decorate(self, event: Event, body: str, notes: list[str]) -> str:
        if isinstance(event, Unreadable) or body.startswith("#"):
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

    def _body(self, event: Event) -> tuple[str, list[str]]:
        method = getattr(self, "_" + type(event).__name__, None)
        fd = getattr(event, "fd", 0)
        if method is None or not isinstance(event, (DeviceOpen, FeatureCall, DeviceReset,
                                                    DeviceAccess, DeviceClose)) and not (
                _is_int(fd)):
            return _no_statement(event), []
        return method(event)

    # -- devices --

    def _DeviceOpen(self, e: DeviceOpen) -> tuple[str, list[str]]:
        self.declared[e.device] = e.fd
        parts = ["device", name_value(e.device)]
        notes: list[str] = []
        for key, value, render in (("fd", e.fd, int_text), ("flags", e.flags, flags_text),
                                   ("state", e.state, state_text)):
            if value is not UNKNOWN:
                text = _or_unknown(render, value, notes)
                if text != "?":
                    parts.append(f"{key}={text}")
        for key in ("path", "api", "driver"):
            value = getattr(e, key)
            if value is UNKNOWN:
                continue
            if not isinstance(value, str) or key == "api" and value not in ("group", "cdev"):
                notes.append(f"{key} {value!r}")
                continue
            parts.append(f"{key}={text_value(value)}")
        return " ".join(parts), notes

    def _device_prefix(self, e: Any) -> str:
        return name_value(e.device)

    def _device_fd(self, e: Any) -> list[str]:
        """``fd=N`` when the call used another fd than the declared one (a dup of it)."""
        declared = self.declared.get(e.device, UNKNOWN)
        if _same(declared, e.fd):
            return []
        notes: list[str] = []
        return [f"fd={_or_unknown(int_text, e.fd, notes)}"]

    def _FeatureCall(self, e: FeatureCall) -> tuple[str, list[str]]:
        notes: list[str] = []
        w_op: Any = e.op if e.op in OPS else UNKNOWN
        w_feature: Any = e.feature if e.feature in FEATURES else UNKNOWN
        for what, value, written in (("op", e.op, w_op), ("feature", e.feature, w_feature)):
            if value is not UNKNOWN and written is UNKNOWN:
                notes.append(f"{what} {value!r}")
        op = "?" if w_op is UNKNOWN else w_op
        feature = "?" if w_feature is UNKNOWN else FEATURE_SHORT.get(w_feature, w_feature)
        parts = [self._device_prefix(e), op, feature]
        defaults = carried_fields(w_op, w_feature)
        can = carried(w_op, w_feature)
        positional = None
        if w_op == "SET" and w_feature == "MIG_DEVICE_STATE":
            positional = "target"
            if e.target is None:
                parts.append("target=-")
            else:
                parts.append(_or_unknown(state_text, e.target, notes))
        elif w_op == "PROBE" and e.probe_ops is not None:
            positional = "probe_ops"
            parts.append(_or_unknown(ops_text, e.probe_ops, notes))
        renders = {"target": state_text, "reply_state": state_text, "data_fd": int_text,
                   "mig_flags": flags_text, "data_size": int_text, "probe_ops": ops_text}
        pending: dict[str, str] = {}
        for attr in PAYLOAD_FIELDS:
            value = getattr(e, attr)
            if attr == positional or _same(value, defaults[attr]):
                continue
            if attr not in can:
                notes.append(f"{attr}={value!r} does not apply to {op} {feature}")
                continue
            pending[attr] = _or_unknown(renders[attr], value, notes)
        for attr, key in _INPUT_KEYS:
            if attr in pending:
                parts.append(f"{key}={pending[attr]}")
        parts += self._device_fd(e)
        if e.argsz is not UNKNOWN:
            parts.append(f"argsz={_or_unknown(int_text, e.argsz, notes)}")
        if e.raw_flags is not UNKNOWN:
            raw = _or_unknown(int_text, e.raw_flags, notes)
            if raw != "?" and e.raw_flags >= 0:
                raw = hex(e.raw_flags)
            parts.append(f"rawflags={raw}")
        result, note = result_text(e.ret, e.errno)
        parts.append(result)
        for attr, key in _REPLY_KEYS:
            if attr in pending:
                parts.append(f"{key}={pending[attr]}")
        if note:
            notes.append(note)
        if w_op is UNKNOWN or w_feature is UNKNOWN:
            notes.append("payload not shown by the trace")
        return " ".join(parts), notes

    def _simple_device(self, e: Any, verb: str, extra: str = "") -> tuple[str, list[str]]:
        notes: list[str] = []
        parts = [self._device_prefix(e), verb]
        if extra:
            parts.append(extra)
        parts += self._device_fd(e)
        result, note = result_text(e.ret, e.errno)
        parts.append(result)
        how = getattr(e, "how", "close")
        if how != "close":
            if how in CLOSE_HOWS:
                parts.append(f"how={how}")
            else:
                notes.append(f"how {how!r}")
        if note:
            notes.append(note)
        return " ".join(parts), notes

    def _DeviceReset(self, e: DeviceReset) -> tuple[str, list[str]]:
        return self._simple_device(e, "RESET")

    def _DeviceAccess(self, e: DeviceAccess) -> tuple[str, list[str]]:
        call = e.call if _ARG_RE.match(e.call) else quote(e.call)
        return self._simple_device(e, "access", call)

    def _DeviceClose(self, e: DeviceClose) -> tuple[str, list[str]]:
        return self._simple_device(e, "close")

    # -- data fds --

    def _fd_line(self, e: Any, verb: str, args: Iterable[str], inputs: Iterable[str] = (),
                 replies: Iterable[str] = ()) -> tuple[str, list[str]]:
        result, note = result_text(e.ret, e.errno)
        parts = ["fd", str(e.fd), verb, *args, *inputs, result, *replies]
        return " ".join(parts), [note] if note else []

    def _FdAppeared(self, e: FdAppeared) -> tuple[str, list[str]]:
        parts = ["fd", str(e.fd), "appeared"]
        if e.name is not UNKNOWN:
            parts.append(f"name={text_value(e.name)}")
        if e.after_feature is not None:
            parts.append(f"after={text_value(origin_text(e.after_feature))}")
        if e.device_hint is not UNKNOWN:
            parts.append(f"device={text_value(e.device_hint)}")
        return " ".join(parts), []

    def _DataIO(self, e: DataIO) -> tuple[str, list[str]]:
        verb, inputs = e.call, []
        known = IO_CALLS.get(e.call)
        if known is None or known[0] != e.direction:
            verb = e.direction if e.direction in ("read", "write") else "read"
            inputs.append(f"call={text_value(e.call)}")
        default_positioned = IO_CALLS.get(e.call, (e.direction, False))[1]
        if e.positioned != default_positioned:
            inputs.append(f"positioned={'yes' if e.positioned else 'no'}")
        line, notes = self._fd_line(e, verb, [int_text(e.requested)], inputs)
        if e.direction not in ("read", "write"):
            notes.append(f"direction {e.direction!r}")
        return line, notes

    def _DataSeek(self, e: DataSeek) -> tuple[str, list[str]]:
        if e.call in SEEK_CALLS:
            return self._fd_line(e, e.call, [])
        return self._fd_line(e, "lseek", [], [f"call={text_value(e.call)}"])

    def _DataPoll(self, e: DataPoll) -> tuple[str, list[str]]:
        replies = [] if e.ready is UNKNOWN else [f"ready={'yes' if e.ready else 'no'}"]
        if e.call in POLL_CALLS:
            return self._fd_line(e, e.call, [], [], replies)
        return self._fd_line(e, "poll", [], [f"call={text_value(e.call)}"], replies)

    def _PrecopyInfo(self, e: PrecopyInfo) -> tuple[str, list[str]]:
        inputs = [] if e.argsz is UNKNOWN else [f"argsz={e.argsz}"]
        replies = []
        if e.initial_bytes is not UNKNOWN:
            replies.append(f"initial={e.initial_bytes}")
        if e.dirty_bytes is not UNKNOWN:
            replies.append(f"dirty={e.dirty_bytes}")
        return self._fd_line(e, "precopy_info", [], inputs, replies)

    def _DataIoctl(self, e: DataIoctl) -> tuple[str, list[str]]:
        return self._fd_line(e, "ioctl", [_arg(e.request)])

    def _DataFcntl(self, e: DataFcntl) -> tuple[str, list[str]]:
        return self._fd_line(e, "fcntl", [_arg(e.cmd)])

    def _FdDup(self, e: FdDup) -> tuple[str, list[str]]:
        if not _is_int(e.old_fd) or not _is_int(e.new_fd) or e.new_fd < 0:
            return _no_statement(e), []
        parts = ["fd", str(e.old_fd)]
        if e.call in ("dup2", "dup3"):
            parts += [e.call, str(e.new_fd)]
        elif e.call == "dup":
            parts.append("dup")
        else:
            parts += ["dup", f"call={text_value(e.call)}"]
        parts.append(f"= {e.new_fd}")
        return " ".join(parts), []

    def _DataClose(self, e: DataClose) -> tuple[str, list[str]]:
        replies, notes = [], []
        if e.how != "close":
            if e.how in CLOSE_HOWS:
                replies.append(f"how={e.how}")
            else:
                notes.append(f"how {e.how!r}")
        line, more = self._fd_line(e, "close", [], [], replies)
        return line, notes + more

    # -- everything else --

    def _QemuEvent(self, e: QemuEvent) -> tuple[str, list[str]]:
        notes: list[str] = []
        name = e.name
        if not _WORD_RE.match(name) or name.startswith("vfio_"):
            notes.append(f"event name {name!r}")
            name = "unnamed"
        parts = ["qemu", name_value(e.device), name]
        fields = dict(e.fields)
        derived_state = _first(fields, QEMU_STATE_KEYS)
        if e.state is not None and derived_state != e.state and "state" not in fields:
            fields["state"] = e.state
        for key, value in fields.items():
            if not isinstance(key, str) or not _WORD_RE.match(key):
                notes.append(f"field {key!r}={value!r}")
                continue
            parts.append(f"{key}={qemu_value_text(value)}")
        if e.recover is not None and _first(fields, QEMU_RECOVER_KEYS) != e.recover:
            notes.append(f"recover {e.recover!r}")
        return " ".join(parts), notes

    def _ProcessEvent(self, e: ProcessEvent) -> tuple[str, list[str]]:
        if e.what not in PROCESS_WHATS:
            return _no_statement(e), []
        parts, notes = ["process", e.what], []
        if e.child is not None:
            parts.append(f"child={_or_unknown(int_text, e.child, notes)}")
        if e.thread is not None:
            parts.append(f"thread={'yes' if e.thread else 'no'}")
        if e.status is not UNKNOWN:
            parts.append(f"status={_or_unknown(int_text, e.status, notes)}")
        if e.signal is not None:
            parts.append(f"signal={text_value(str(e.signal))}")
        return " ".join(parts), notes

    def _Unreadable(self, e: Unreadable) -> tuple[str, list[str]]:
        return one_line(f"# unreadable: {e.origin}: {e.reason}"), []


def one_line(text: str) -> str:
    """Comments must stay on their line: control characters become spaces."""
    return "".join(" " if ord(ch) < 0x20 or ch == "\x7f" else ch for ch in text)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _no_statement(event: Event) -> str:
    """A comment line for an event the canonical syntax has no statement for."""
    blob = json.dumps(event.to_json(), default=str)
    return f"# {event.kind} event has no canonical statement: {blob}"


def _same(a: Any, b: Any) -> bool:
    if a is UNKNOWN or b is UNKNOWN or a is None or b is None:
        return a is b
    return bool(a == b) and type(a) is type(b)


def _arg(text: str) -> str:
    return text if _ARG_RE.match(text) else quote(text)


def _first(fields: dict[str, Any], keys: Iterable[str]) -> str | None:
    for key in keys:
        if key in fields:
            return qemu_state(fields[key])
    return None


def qemu_value_text(value: Any) -> str:
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


def origin_text(origin: Origin) -> str:
    if origin.last_line is not None:
        return f"{origin.file}:{origin.line}-{origin.last_line}"
    return f"{origin.file}:{origin.line}"


def write_events(events: Iterable[Event], origins: bool = False) -> Iterator[str]:
    """Stream canonical lines for ``events`` (no header; see :func:`header`)."""
    writer = CanonicalWriter(origins=origins)
    for event in events:
        yield from writer.lines(event)


def header(source: str | None = None, fmt: str | None = None) -> str:
    if source is None:
        return HEADER
    return f"{HEADER}  # converted from {source}" + (f" ({fmt})" if fmt else "")
