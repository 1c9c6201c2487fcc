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

from vfio_migcheck.traces.canonical import (
    CLOSE_HOWS,
    FEATURE_SHORT,
    HEADER,
    IO_CALLS,
    KEYWORDS,
    PAYLOAD_FIELDS,
    POLL_CALLS,
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


def _maybe(value: Any, render) -> str:
    if value is UNKNOWN:
        return "?"
    if value is None:
        return "-"
    return render(value)


def state_text(value: Any) -> str:
    return _maybe(value, lambda v: str(v) if isinstance(v, int) else text_value(v))


def flags_text(value: Any) -> str:
    def render(flags: int) -> str:
        spec = default_spec()
        names = [n for n, bit in spec.flags.items() if flags & bit]
        if flags and names and sum(spec.flags[n] for n in names) == flags:
            return "|".join(names)
        return hex(flags)

    return _maybe(value, render)


def int_text(value: Any) -> str:
    return _maybe(value, str)


def ops_text(value: Any) -> str:
    return _maybe(value, lambda ops: "|".join(ops) if ops else "NONE")


def _float(value: float) -> str | None:
    return repr(float(value)) if math.isfinite(value) else None


def result_text(ret: Any, errno: Any) -> tuple[str, str | None]:
    """``= RESULT [ERRNO]`` and a note when the errno has no canonical spelling."""
    note = None
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
        if isinstance(event, Unreadable):
            return body
        prefix = []
        if event.ts is not None:
            ts = _float(event.ts)
            if ts is None:
                notes.append(f"ts {event.ts!r}")
            else:
                prefix.append("@" + ts)
        if event.pid is not None:
            prefix.append(f"[{event.pid}/{'-' if event.tid is None else event.tid}]")
        elif event.tid is not None:
            prefix.append(f"[{event.tid}]")
        line = " ".join([*prefix, body])
        if event.duration is not None:
            dur = _float(event.duration)
            if dur is None or event.duration < 0:
                notes.append(f"duration {event.duration!r}")
            else:
                line += f" <{dur}>"
        if self.origins:
            notes.insert(0, f"from {event.origin}")
        if notes:
            line += "  # " + "; ".join(n.replace("\n", " ") for n in notes)
        return line

    def _body(self, event: Event) -> tuple[str, list[str]]:
        method = getattr(self, "_" + type(event).__name__, None)
        if method is None:
            blob = json.dumps(event.to_json(), default=str)
            return f"# {event.kind} event has no canonical statement: {blob}", []
        return method(event)

    # -- devices --

    def _DeviceOpen(self, e: DeviceOpen) -> tuple[str, list[str]]:
        self.declared[e.device] = e.fd
        parts = ["device", name_value(e.device)]
        if e.fd is not UNKNOWN:
            parts.append(f"fd={e.fd}")
        if e.flags is not UNKNOWN:
            parts.append(f"flags={flags_text(e.flags)}")
        if e.state is not UNKNOWN:
            parts.append(f"state={state_text(e.state)}")
        notes = []
        for key in ("path", "api", "driver"):
            value = getattr(e, key)
            if value is UNKNOWN:
                continue
            if key == "api" and value not in ("group", "cdev"):
                notes.append(f"api {value!r}")
                continue
            parts.append(f"{key}={text_value(value)}")
        return " ".join(parts), notes

    def _device_prefix(self, e: Any) -> str:
        return name_value(e.device)

    def _device_fd(self, e: Any) -> list[str]:
        """``fd=N`` when the call used another fd than the declared one (a dup of it)."""
        declared = self.declared.get(e.device, UNKNOWN)
        return [] if _same(declared, e.fd) else [f"fd={int_text(e.fd)}"]

    def _FeatureCall(self, e: FeatureCall) -> tuple[str, list[str]]:
        notes: list[str] = []
        op = "?" if e.op is UNKNOWN else e.op
        feature = "?" if e.feature is UNKNOWN else FEATURE_SHORT.get(e.feature, e.feature)
        parts = [self._device_prefix(e), op, feature]
        defaults = carried_fields(e.op, e.feature)
        can = carried(e.op, e.feature)
        positional = None
        if e.op == "SET" and e.feature == "MIG_DEVICE_STATE":
            positional = "target"
            if e.target is None:
                parts.append("target=-")
            else:
                parts.append(state_text(e.target))
        elif e.op == "PROBE" and e.probe_ops is not None:
            positional = "probe_ops"
            parts.append(ops_text(e.probe_ops))
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
            pending[attr] = renders[attr](value)
        for attr, key in _INPUT_KEYS:
            if attr in pending:
                parts.append(f"{key}={pending[attr]}")
        parts += self._device_fd(e)
        if e.argsz is not UNKNOWN:
            parts.append(f"argsz={e.argsz}")
        if e.raw_flags is not UNKNOWN:
            parts.append(f"rawflags={hex(e.raw_flags) if e.raw_flags >= 0 else e.raw_flags}")
        result, note = result_text(e.ret, e.errno)
        parts.append(result)
        for attr, key in _REPLY_KEYS:
            if attr in pending:
                parts.append(f"{key}={pending[attr]}")
        if note:
            notes.append(note)
        if e.op is UNKNOWN or e.feature is UNKNOWN:
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
        parts = ["process", e.what if _WORD_RE.match(e.what) else "signal"]
        notes = [] if parts[1] == e.what else [f"process event {e.what!r}"]
        if e.child is not None:
            parts.append(f"child={e.child}")
        if e.thread is not None:
            parts.append(f"thread={'yes' if e.thread else 'no'}")
        if e.status is not UNKNOWN:
            parts.append(f"status={e.status}")
        if e.signal is not None:
            parts.append(f"signal={text_value(e.signal)}")
        return " ".join(parts), notes

    def _Unreadable(self, e: Unreadable) -> tuple[str, list[str]]:
        return f"# unreadable: {e.origin}: {e.reason}".replace("\n", " "), []


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
