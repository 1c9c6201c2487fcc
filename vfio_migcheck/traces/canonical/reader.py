"""Reader for the canonical trace format (docs/canonical-format.md): statements in context.

Reading is two pure steps per line: :mod:`vfio_migcheck.traces.canonical.syntax` parses the
line's shape into a :class:`Statement` (no trace context), then :class:`CanonicalTrace`
turns the statement into one event using what earlier lines declared (devices, data fds and
their identities). Any problem with a line becomes an :class:`Unreadable` event naming the
column and what was expected there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import accumulate, islice, repeat
from operator import add
from pathlib import Path
from typing import Any

from vfio_migcheck.traces.blocks import iter_line_blocks
from vfio_migcheck.traces.canonical.fastline import fast_statement
from vfio_migcheck.traces.canonical.hotline import (
    CLOSE_LINE,
    HOT_LINE,
    SHAPE_GROUPS,
    HotMember,
    hot_event,
    hot_event_on,
    run_patterns,
)
from vfio_migcheck.traces.canonical.syntax import (
    CLOSE_HOWS,
    DUP_CALLS,
    FD_VERBS,
    FEATURE_KEYS,
    HEADER,
    IO_CALLS,
    KEYWORDS,
    POLL_CALLS,
    PROCESS_WHATS,
    QEMU_RECOVER_KEYS,
    QEMU_STATE_KEYS,
    SEEK_CALLS,
    LineError,
    Statement,
    Word,
    carried,
    carried_fields,
    check_keys,
    feature_name,
    no_more_words,
    parse_statement,
    qemu_state,
    word_bool,
    word_flags,
    word_int,
    word_known_int,
    word_nonneg_int,
    word_ops,
    word_origin,
    word_qemu_value,
    word_state,
    word_text,
)
from vfio_migcheck.traces.events import (
    COLLAPSE_RUNS,
    UNKNOWN,
    CallRun,
    DataClose,
    DataFcntl,
    DataIO,
    DataIoctl,
    DataPoll,
    DataRun,
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
    built,
    origin_at,
)
from vfio_migcheck.traces.lines import BadLine, Line

# --- step 2: statements in context ----------------------------------------------------------


@dataclass
class _OpenFd:
    file: str
    accounted: bool          # created by a SET reply, a dup or an 'appeared' line
    device: str | None


@dataclass
class _Device:
    fd: Any
    line: int
    open: bool = True


@dataclass
class CanonicalTrace:
    """What earlier lines of one trace established: declared devices and open data fds."""

    summary: ReadSummary
    devices: dict[str, _Device] = field(default_factory=dict)
    fds: dict[int, _OpenFd] = field(default_factory=dict)
    generations: dict[int, int] = field(default_factory=dict)
    # device-call payloads by statement text (DEVICE_LINE), and the text of the line being
    # read the general way, whose payload is to be remembered (None: not to be)
    payloads: dict[str, tuple[str, dict[str, Any], Any, dict[str, Any], bool | str]] = \
        field(default_factory=dict)
    remember: str | None = None
    # a remembered device call's event fields but its provenance, by statement text, as made
    # for the device fd in them (cached_device_call copies it rather than merging payloads)
    protos: dict[str, dict[str, Any]] = field(default_factory=dict)

    # -- identities of open files --

    def _new_file(self, fd: int, device: str | None, accounted: bool, where: Origin) -> str:
        if fd in self.fds and accounted:
            old = self.fds[fd]
            self.summary.notes.append(
                f"{where}: fd {fd} is created again while it is still open as {old.file}"
            )
        gen = self.generations.get(fd, 0) + 1
        self.generations[fd] = gen
        ident = f"{device}:fd{fd}#{gen}" if device else f"fd{fd}#{gen}"
        self.fds[fd] = _OpenFd(ident, accounted, device)
        return ident

    def _file_of(self, fd: int, where: Origin) -> str:
        if fd in self.fds:
            return self.fds[fd].file
        ident = self._new_file(fd, None, False, where)
        self.summary.notes.append(
            f"{where}: fd {fd} is used but no SET STATE reply, dup or 'appeared' line "
            f"created it; read as {ident}"
        )
        return ident

    def _device(self, word: Word) -> str:
        if word.text not in self.devices:
            raise LineError(word.column, f"device {word.text!r} is used before its declaration "
                                         f"(write 'device {word.text} ...' first)")
        return word.text

    # -- one statement -> one event --

    def event(self, stmt: Statement, origin: Origin, text: str) -> Event:
        common = {"pid": stmt.pid, "tid": stmt.tid, "ts": stmt.ts,
                  "duration": stmt.duration, "text": text}
        builder = getattr(self, "_" + stmt.kind)
        return builder(stmt, origin, common)

    def _declare(self, stmt: Statement, origin: Origin, common: dict) -> Event:
        name = stmt.words[0]
        if name.text in KEYWORDS and not name.quoted:
            raise LineError(name.column, f"{name.text!r} is a keyword; quote it "
                                         f"(\"{name.text}\") to use it as a device name")
        check_keys(stmt, ("fd", "flags", "path", "api", "driver", "state"), "device")
        f = stmt.fields
        fd = word_int(f["fd"], "fd") if "fd" in f else UNKNOWN
        api = word_text(f["api"]) if "api" in f else UNKNOWN
        if api is not UNKNOWN and api not in ("group", "cdev"):
            raise LineError(f["api"].column, f"api= must be group, cdev or ?, found {api!r}")
        previous = self.devices.get(name.text)
        if previous is not None and previous.open:
            self.summary.notes.append(f"{origin}: device {name.text!r} is declared again while "
                                      f"still open (declared at line {previous.line})")
        self.devices[name.text] = _Device(fd, origin.line)
        if isinstance(fd, int) and fd >= 0:
            # fd statements on the device fd name the device, as the strace reader does
            self.fds[fd] = _OpenFd(name.text, True, name.text)
        return DeviceOpen(
            origin, device=name.text, fd=fd,
            path=word_text(f["path"]) if "path" in f else UNKNOWN,
            api=api,
            driver=word_text(f["driver"]) if "driver" in f else UNKNOWN,
            flags=word_flags(f["flags"]) if "flags" in f else UNKNOWN,
            state=word_state(f["state"]) if "state" in f else UNKNOWN,
            **common,
        )

    def _device_fd(self, stmt: Statement, device: str) -> Any:
        """The fd a device statement used: ``fd=`` (e.g. a dup of the device fd) or the
        declared one."""
        word = stmt.fields.get("fd")
        return self.devices[device].fd if word is None else word_int(word, "fd")

    def _result(self, stmt: Statement) -> dict[str, Any]:
        assert stmt.result is not None
        return {"ret": stmt.result.ret, "errno": stmt.result.errno}

    def _device_call(self, stmt: Statement, origin: Origin, common: dict) -> Event:
        device = self._device(stmt.words[0])
        payload = _feature_payload(stmt)
        event = self._feature_event(device, payload, origin, common)
        # the event was made: the statement is sound, its payload can be reused
        fd_word = stmt.fields.get("fd")
        fd = _DECLARED_FD if fd_word is None else word_int(fd_word, "fd")
        if self.remember is not None:
            if len(self.payloads) >= MAX_REMEMBERED:
                self.payloads.clear()
            self.payloads[self.remember] = (device, payload, fd, _event_values(payload),
                                            _creates_data_fd(payload))
        return event

    def _feature_event(self, device: str, payload: dict[str, Any], origin: Origin,
                       common: dict, fd: Any = None,
                       values: dict[str, Any] | None = None) -> FeatureCall:
        """The FeatureCall of a device call's payload in this trace's context: the data
        fd its reply creates, the device fd. ``fd``: the fd the statement named, else
        None (then its ``fd=`` word, or the declared fd)."""
        data_fd = payload["data_fd"]
        op, feature = payload["op"], payload["feature"]
        if (isinstance(data_fd, int) and data_fd >= 0 and op in ("SET", UNKNOWN)
                and feature in ("MIG_DEVICE_STATE", UNKNOWN)):
            ret = payload["ret"]
            if isinstance(ret, int) and ret < 0:
                self.summary.notes.append(f"{origin}: data_fd={data_fd} in the reply of a "
                                          "failed SET; no data fd was created")
            else:
                self._new_file(data_fd, device, True, origin)
        if fd is None:
            fd = self._device_fd(payload["stmt"], device)
        elif fd is _DECLARED_FD:
            fd = self.devices[device].fd
        if values is None:
            values = _event_values(payload)
        return built(FeatureCall, {"origin": origin, "device": device, "fd": fd, **values,
                                   **common})

    def cached_device_call(self, m: re.Match[str], file: str, number: int,
                           text: str) -> Event | None:
        """The event of a device call whose statement text (after the time and thread) was
        read before, from its remembered payload; None when it was not (or its device is
        no longer declared: the general path says so). :meth:`_feature_event` for a
        remembered payload, the tests on its data fd made once when it was remembered."""
        statement = m.group(4)
        found = self.payloads.get(statement)
        if found is None:
            return None
        device, payload, fd, values, creates = found
        declared = self.devices.get(device)
        if declared is None:
            return None
        ts, first, second, duration = m.group(1, 2, 3, 5)
        if second is None:
            pid, tid = None, None if first is None else int(first)
        else:
            pid, tid = int(first), int(second)
        origin = origin_at(file, number)
        if creates:
            if creates is _FAILED_SET:
                self.summary.notes.append(f"{origin}: data_fd={payload['data_fd']} in the "
                                          "reply of a failed SET; no data fd was created")
            else:
                self._new_file(payload["data_fd"], device, True, origin)
        if fd is _DECLARED_FD:
            fd = declared.fd
        proto = self.protos.get(statement)
        if proto is None or proto["fd"] != fd:
            if len(self.protos) >= MAX_REMEMBERED:
                self.protos.clear()
            # the fields in the order the event always had them (origin to text)
            proto = self.protos[statement] = {
                "origin": None, "device": device, "fd": fd, **values,
                "pid": None, "tid": None, "ts": None, "duration": None, "text": None}
        fields = proto.copy()
        fields["origin"] = origin
        fields["pid"] = pid
        fields["tid"] = tid
        fields["ts"] = None if ts is None else float(ts)
        fields["duration"] = None if duration is None else float(duration)
        fields["text"] = text
        return built(FeatureCall, fields)

    def hot_close(self, m: re.Match[str], file: str, number: int, text: str) -> Event | None:
        """The event of a line :data:`CLOSE_LINE` matched in full, as :meth:`_fd_call`
        makes it; None when its fd is not open (the general path notes that)."""
        ts, first, second, fd_text, ret, errno = m.groups()
        fd = int(fd_text)
        open_fd = self.fds.pop(fd, None)
        if open_fd is None:
            return None
        if second is None:
            pid, tid = None, None if first is None else int(first)
        else:
            pid, tid = int(first), int(second)
        return built(DataClose, {"origin": origin_at(file, number), "pid": pid, "tid": tid,
                                 "ts": None if ts is None else float(ts), "duration": None,
                                 "text": text, "fd": fd, "file": open_fd.file,
                                 "ret": int(ret), "errno": errno, "how": "close"})

    def _device_reset(self, stmt: Statement, origin: Origin, common: dict) -> Event:
        device = self._device(stmt.words[0])
        check_keys(stmt, ("fd",), "RESET")
        return DeviceReset(origin, device=device, fd=self._device_fd(stmt, device),
                           **self._result(stmt), **common)

    def _device_access(self, stmt: Statement, origin: Origin, common: dict) -> Event:
        device = self._device(stmt.words[0])
        check_keys(stmt, ("fd",), "access")
        call = stmt.words[1]
        no_more_words(stmt, 2, "access")
        return DeviceAccess(origin, device=device, fd=self._device_fd(stmt, device), call=call.text,
                            **self._result(stmt), **common)

    def _device_close(self, stmt: Statement, origin: Origin, common: dict) -> Event:
        device = self._device(stmt.words[0])
        check_keys(stmt, ("how", "fd"), "close")
        how = self._how(stmt)
        fd = self._device_fd(stmt, device)
        self.devices[device].open = False
        if isinstance(fd, int) and fd in self.fds and self.fds[fd].file == device:
            del self.fds[fd]
        return DeviceClose(origin, device=device, fd=fd, how=how,
                           **self._result(stmt), **common)

    @staticmethod
    def _how(stmt: Statement) -> str:
        word = stmt.fields.get("how")
        if word is None:
            return "close"
        if word.text not in CLOSE_HOWS:
            raise LineError(word.column, f"how= must be one of {', '.join(CLOSE_HOWS)}, "
                                         f"found {word.text!r}")
        return word.text

    def _fd_appeared(self, stmt: Statement, origin: Origin, common: dict) -> Event:
        fd = word_known_int(stmt.words[0], "the fd")
        check_keys(stmt, ("name", "after", "device"), "fd appeared")
        f = stmt.fields
        hint = word_text(f["device"]) if "device" in f else UNKNOWN
        ident = self._new_file(fd, hint if isinstance(hint, str) else None, True, origin)
        return FdAppeared(
            origin, fd=fd, file=ident,
            name=word_text(f["name"]) if "name" in f else UNKNOWN,
            after_feature=word_origin(f["after"]) if "after" in f else None,
            device_hint=hint, **common,
        )

    def _fd_call(self, stmt: Statement, origin: Origin, common: dict) -> Event:
        fd = word_known_int(stmt.words[0], "the fd")
        verb = stmt.words[1] = Word(stmt.words[1].text.lower(), stmt.words[1].column)
        args = stmt.words[2:]
        call = verb.text
        f = stmt.fields
        result = self._result(stmt)
        if call == "close":
            check_keys(stmt, ("how",), "fd close")
            no_more_words(stmt, 2, "close")
            how = self._how(stmt)
            ident = self._file_of(fd, origin)
            self.fds.pop(fd, None)
            return DataClose(origin, fd=fd, file=ident, how=how, **result, **common)
        if call in DUP_CALLS:
            return self._dup(stmt, fd, origin, common)
        if call == "precopy_info":
            check_keys(stmt, ("argsz", "initial", "dirty"), "precopy_info")
            no_more_words(stmt, 2, "precopy_info")
            return PrecopyInfo(
                origin, fd=fd, file=self._file_of(fd, origin), **result,
                argsz=word_int(f["argsz"], "argsz") if "argsz" in f else UNKNOWN,
                initial_bytes=word_int(f["initial"], "initial") if "initial" in f else UNKNOWN,
                dirty_bytes=word_int(f["dirty"], "dirty") if "dirty" in f else UNKNOWN, **common)
        if call in POLL_CALLS:
            check_keys(stmt, ("ready", "call"), call)
            no_more_words(stmt, 2, call)
            return DataPoll(origin, fd=fd, file=self._file_of(fd, origin),
                            call=f["call"].text if "call" in f else call,
                            ready=word_bool(f["ready"], "ready") if "ready" in f else UNKNOWN,
                            **result, **common)
        if call in SEEK_CALLS:
            check_keys(stmt, ("call",), call)
            no_more_words(stmt, 2, call)
            return DataSeek(origin, fd=fd, file=self._file_of(fd, origin),
                            call=f["call"].text if "call" in f else call, **result, **common)
        if call in ("fcntl", "ioctl"):
            check_keys(stmt, (), call)
            if not args:
                column = stmt.result.column if stmt.result else verb.column
                what = "command (F_GETFL, ...)" if call == "fcntl" else "request name or number"
                raise LineError(column, f"{call} needs its {what} before '='")
            no_more_words(stmt, 3, call)
            ident = self._file_of(fd, origin)
            if call == "fcntl":
                return DataFcntl(origin, fd=fd, file=ident, cmd=args[0].text, **result, **common)
            return DataIoctl(origin, fd=fd, file=ident, request=args[0].text, **result, **common)
        return self._io(stmt, fd, origin, common)

    def _io(self, stmt: Statement, fd: int, origin: Origin, common: dict) -> Event:
        verb = stmt.words[1]
        call = verb.text
        f = stmt.fields
        check_keys(stmt, ("call", "positioned"), call)
        if call not in IO_CALLS:
            raise LineError(verb.column, f"unknown fd operation {call!r} (expected one of "
                                         f"{', '.join(FD_VERBS)}, or appeared)")
        direction, positioned = IO_CALLS[call]
        if len(stmt.words) < 3:
            column = stmt.result.column if stmt.result else verb.column
            raise LineError(column, f"{call} needs the requested byte count (or ?) before '='")
        no_more_words(stmt, 3, call)
        requested = word_int(stmt.words[2], "the requested byte count")
        name = call
        if "call" in f:
            name = f["call"].text
            positioned = IO_CALLS.get(name, (direction, False))[1]
        if "positioned" in f:
            positioned = word_bool(f["positioned"], "positioned", allow_unknown=False)
        return DataIO(origin, fd=fd, file=self._file_of(fd, origin), call=name,
                      direction=direction, requested=requested, positioned=positioned,
                      **self._result(stmt), **common)

    def _dup(self, stmt: Statement, fd: int, origin: Origin, common: dict) -> Event:
        verb = stmt.words[1]
        check_keys(stmt, ("call",), verb.text)
        assert stmt.result is not None
        new_fd = stmt.result.ret
        if not isinstance(new_fd, int) or new_fd < 0 or stmt.result.errno is not None:
            raise LineError(stmt.result.column, f"{verb.text} must show the new fd as its "
                                                "result; a failed dup creates nothing to "
                                                "record (write it as a comment)")
        no_more_words(stmt, 3, verb.text)
        if len(stmt.words) > 2:
            target = word_nonneg_int(stmt.words[2], "the target fd")
            if target != new_fd:
                raise LineError(stmt.words[2].column, f"{verb.text} to fd {target} returned "
                                                      f"{new_fd}; they must be equal")
        ident = self._file_of(fd, origin)
        source = self.fds[fd]
        self.fds[new_fd] = _OpenFd(ident, True, source.device)
        call = stmt.fields["call"].text if "call" in stmt.fields else verb.text
        return FdDup(origin, old_fd=fd, new_fd=new_fd, file=ident, call=call, **common)

    def _qemu_event(self, stmt: Statement, origin: Origin, common: dict) -> Event:
        device, name = stmt.words[0].text, stmt.words[1].text
        if name.startswith("vfio_"):
            name = name[len("vfio_"):]
        fields = {key: word_qemu_value(word) for key, word in stmt.fields.items()}
        state = recover = None
        for key in QEMU_STATE_KEYS:
            if key in stmt.fields:
                state = qemu_state(fields[key])
                break
        for key in QEMU_RECOVER_KEYS:
            if key in stmt.fields:
                recover = qemu_state(fields[key])
                break
        return QemuEvent(origin, device=device, name=name, state=state, recover=recover,
                         fields=fields, **common)

    def _process_event(self, stmt: Statement, origin: Origin, common: dict) -> Event:
        what = stmt.words[0]
        if what.text not in PROCESS_WHATS:
            raise LineError(what.column, f"unknown process event {what.text!r} (expected one "
                                         f"of {', '.join(PROCESS_WHATS)})")
        check_keys(stmt, ("child", "thread", "status", "signal"), f"process {what.text}")
        f = stmt.fields
        return ProcessEvent(
            origin, what=what.text,
            child=word_known_int(f["child"], "child") if "child" in f else None,
            thread=word_bool(f["thread"], "thread", allow_unknown=False) if "thread" in f else None,
            status=word_int(f["status"], "status") if "status" in f else UNKNOWN,
            signal=f["signal"].text if "signal" in f else None,
            **common,
        )


#: a device call's fd is the declared one (its statement has no ``fd=``)
_DECLARED_FD = object()
#: remembered device-call payloads per trace (a capture repeats a few dozen of them)
MAX_REMEMBERED = 4096
# A device call in its common spelling: [@TS ][[TID] or [PID/TID] ]STATEMENT[ <DURATION>],
# decimal numbers, no quote, comment or escape in the statement (group 4): the key under
# which CanonicalTrace remembers the payload the general path read from that statement.
DEVICE_LINE = re.compile(
    r"(?:@([0-9]{1,18}\.[0-9]{1,18}) |)"
    r"(?:\[([0-9]{1,18})(?:/([0-9]{1,18})|)\] |)"
    r"((?!(?:fd|device|qemu|process) )[A-Za-z0-9_][A-Za-z0-9_.:/|=+?\- ]*[A-Za-z0-9_.:/|=+?\-])"
    r"(?: <([0-9]{1,18}\.[0-9]{1,18})>|)")     # ("X|)": hotline.py says why


#: a remembered SET's reply names a data fd although the call failed (a note, no fd)
_FAILED_SET = "failed"


def _creates_data_fd(payload: dict[str, Any]) -> bool | str:
    """What a device call's reply does to the data fds (as :meth:`CanonicalTrace.
    _feature_event` decides it): True when it creates its ``data_fd``, _FAILED_SET when it
    names one in the reply of a failed SET, False otherwise."""
    data_fd = payload["data_fd"]
    if not (isinstance(data_fd, int) and data_fd >= 0 and payload["op"] in ("SET", UNKNOWN)
            and payload["feature"] in ("MIG_DEVICE_STATE", UNKNOWN)):
        return False
    ret = payload["ret"]
    return _FAILED_SET if isinstance(ret, int) and ret < 0 else True


def _event_values(payload: dict[str, Any]) -> dict[str, Any]:
    """The FeatureCall fields a payload holds (all of it but the statement)."""
    return {key: value for key, value in payload.items() if key != "stmt"}


def _feature_payload(stmt: Statement) -> dict[str, Any]:
    """Everything a device call's FeatureCall holds that its statement alone decides (no
    trace context): op, feature, payload fields, result. Raises LineError as the reader
    reports it. ``stmt`` is kept for the device fd (its ``fd=`` word)."""
    op_word, feat_word = stmt.words[1], stmt.words[2]
    op = UNKNOWN if op_word.text == "?" else op_word.text
    feature = feature_name(feat_word)
    what = f"{op_word.text} {feat_word.text}"
    can_carry = carried(op, feature)
    check_keys(stmt, ["fd", *(k for k, a in FEATURE_KEYS.items()
                               if a in can_carry or a in ("argsz", "raw_flags"))], what)
    values = carried_fields(op, feature)
    if len(stmt.words) > 3:
        arg = stmt.words[3]
        if op == "SET" and feature == "MIG_DEVICE_STATE":
            values["target"] = word_state(arg)
        elif op == "PROBE":
            values["probe_ops"] = word_ops(arg)
        else:
            raise LineError(arg.column, f"{what} takes no argument, found {arg.text!r} "
                                        "(only SET STATE takes a target and PROBE its ops; "
                                        "other values are key=value)")
        if "target" in stmt.fields and op == "SET" or "ops" in stmt.fields and op == "PROBE":
            raise LineError(arg.column, f"{what}: give the argument or the key, not both")
    elif op == "SET" and feature == "MIG_DEVICE_STATE" and "target" not in stmt.fields:
        column = stmt.result.column if stmt.result else None
        raise LineError(column, "SET STATE needs the target state before '=' "
                                "(a state name, a number or ?)")
    extra: dict[str, Any] = {"argsz": UNKNOWN, "raw_flags": UNKNOWN}
    for key, word in stmt.fields.items():
        if key == "fd":
            continue
        attr = FEATURE_KEYS[key]
        value = _DECODERS[key](word)
        if attr in values:
            values[attr] = value
        else:
            extra[attr] = value
    assert stmt.result is not None
    return {"op": op, "feature": feature, "ret": stmt.result.ret, "errno": stmt.result.errno,
            **values, **extra, "stmt": stmt}


_DECODERS: dict[str, Callable[[Word], Any]] = {
    "target": lambda w: word_state(w, allow_none=True),
    "state": lambda w: word_state(w, allow_none=True),
    "data_fd": lambda w: word_int(w, "data_fd", allow_none=True),
    "flags": lambda w: word_flags(w, allow_none=True),
    "size": lambda w: word_int(w, "size", allow_none=True),
    "ops": word_ops,
    "argsz": lambda w: word_int(w, "argsz"),
    "rawflags": lambda w: word_int(w, "rawflags"),
}


# --- the reader interface (traces/reading.py) -----------------------------------------------


def is_irrelevant(text: str) -> bool:
    stripped = text.strip()
    return not stripped or stripped.startswith("#")


def sniff(lines: list[str]) -> float:
    """Confidence that ``lines`` are canonical: the header, else the share that parse."""
    statements = [t for t in lines if not is_irrelevant(t)]
    if lines and lines[0].strip().startswith(HEADER):
        return 1.0
    if not statements:
        return 0.05 if lines else 0.0
    parsed = 0
    for text in statements:
        try:
            parse_statement(text)
        except LineError:
            continue
        parsed += 1
    return 0.95 * parsed / len(statements)


def read(paths: list[Path], summary: ReadSummary) -> Iterator[Event]:
    """Yield one event per statement line of ``paths`` (read as one trace, in order)."""
    trace = CanonicalTrace(summary)
    blocks_reader = read_runs if COLLAPSE_RUNS.get() else read_blocks
    for path in paths:
        yield from blocks_reader(str(path), iter_line_blocks(path), trace)


def read_blocks(file: str, blocks: Iterable[list[Any]], trace: CanonicalTrace
                ) -> Iterator[Event]:
    """:func:`read_lines` over blocks of lines (blocks.py): the data-fd lines of the hot
    shapes (hotline.py) go straight to their events, every other line as in
    :func:`read_lines`. Kept free of calls per line where it can: this loop is most of the
    time of checking a decoded capture."""
    summary = trace.summary
    hot = HOT_LINE.fullmatch
    device_line = DEVICE_LINE.fullmatch
    number = 0
    for block in blocks:
        for item in block:
            number += 1
            if item.__class__ is str:
                m = hot(item)
                if m is not None:
                    event = hot_event(m, trace.fds, file, number, item)
                    if event is not None:
                        summary.lines += 1
                        summary.events += 1
                        yield event
                        continue
                m = device_line(item)
                if m is not None:
                    event = _read_before(trace, m, file, number, item)
                    if event is not None:
                        yield event
                        continue
                else:
                    event = _closed(trace, item, file, number)
                    if event is not None:
                        yield event
                        continue
                item = Line(number, item)
            yield from read_lines(file, (item,), trace)
            trace.remember = None


def _closed(trace: CanonicalTrace, text: str, file: str, number: int) -> Event | None:
    """The event of a data fd's close in its plain spelling (counted in the summary), or
    None for the general path."""
    m = CLOSE_LINE.fullmatch(text)
    if m is None:
        return None
    event = trace.hot_close(m, file, number, text)
    if event is not None:
        trace.summary.lines += 1
        trace.summary.events += 1
    return event


def _read_before(trace: CanonicalTrace, m: re.Match[str], file: str, number: int,
                 text: str) -> Event | None:
    """The event of a device call whose text was read before (counted in the summary), or
    None with the call remembered for the general path, which reads it in full."""
    event = trace.cached_device_call(m, file, number, text)
    if event is None:
        trace.remember = m.group(4)
        return None
    trace.summary.lines += 1
    trace.summary.events += 1
    return event


#: shortest run of hot lines handed over as one DataRun (shorter ones: one event a line)
MIN_RUN = 4


def read_runs(file: str, blocks: Iterable[list[Any]], trace: CanonicalTrace
              ) -> Iterator[Event]:
    """:func:`read_blocks` for the checker (``COLLAPSE_RUNS``): consecutive hot lines on one
    open fd come as one :class:`DataRun` (at least :data:`MIN_RUN` of them), consecutive
    device calls read before on one device as one :class:`CallRun` (one or more; see
    :func:`_call_events`), every other line as :func:`read_blocks` gives it. A data run's
    lines change nothing in the trace's context (no fd is created or closed), so its events
    are those :func:`read_blocks` would have made, one by one (``DataRun.expand``); a call
    run's events are made as their lines are read."""
    summary = trace.summary
    hot = HOT_LINE.fullmatch
    device_line = DEVICE_LINE.fullmatch
    cached_call = trace.cached_device_call
    fds = trace.fds
    first, second = SHAPE_GROUPS
    run_fd: str | None = None       # the fd's text in the pending run's lines
    texts: list[str] = []
    matches: list[re.Match[str]] = []   # each line's match (HotMember)
    shapes: list[str] = []
    start = 0
    ident = ""
    calls: list[Event] = []         # the pending run of device calls
    call_texts: list[str] = []
    call_keys: list[tuple[str, Any]] = []
    number = 0
    for block in blocks:
        base = number                   # the number of the line before the block's first
        lines = iter(block)
        # the block's lines joined ("" when they are not all text) and where each starts
        joined: str | None = None
        starts: list[int] = []
        for item in lines:
            number += 1
            if item.__class__ is str:
                # (a hot line holds "fd ", a device call never: "data_fd=" is no "fd ")
                m = hot(item) if "fd " in item else None
                if m is not None:
                    fd_text, shape, other = m.group(4, first, second)
                    if fd_text != run_fd:
                        if calls:
                            yield from _call_events(file, calls, call_texts, call_keys)
                            calls, call_texts, call_keys = [], [], []
                        if texts:
                            yield from _run_events(file, start, texts, matches, shapes, ident,
                                                   run_fd, summary)
                            texts, run_fd = [], None
                        open_fd = fds.get(int(fd_text))
                        if open_fd is not None:     # a new run starts with this line
                            run_fd, start, ident = fd_text, number, open_fd.file
                            texts, matches, shapes = [], [], []
                    if fd_text == run_fd:
                        texts.append(item)
                        matches.append(m)
                        shapes.append(shape or other)
                        # ... and its next lines in this block, at once
                        if joined is None:
                            joined, starts = _joined(block)
                        if joined:
                            taken = _take_run(joined, starts, number - base, fd_text, block,
                                              texts, matches, shapes)
                            if taken:
                                number += taken
                                next(islice(lines, taken - 1, None), None)
                        continue
                if texts:
                    yield from _run_events(file, start, texts, matches, shapes, ident, run_fd,
                                           summary)
                    texts, run_fd = [], None
                m = device_line(item)
                if m is not None:
                    # _read_before, inlined (a quarter of a capture's lines are device calls)
                    event = cached_call(m, file, number, item)
                    if event is not None:
                        summary.lines += 1
                        summary.events += 1
                        if calls:
                            # a run is one device's calls, with a time stamp on all or on
                            # none (its ``ts`` is its first call's, as the engine reads it)
                            head = calls[0]
                            if event.device != head.device or (  # type: ignore[attr-defined]
                                    (event.ts is None) != (head.ts is None)):
                                yield from _call_events(file, calls, call_texts, call_keys)
                                calls, call_texts, call_keys = [], [], []
                        calls.append(event)
                        call_texts.append(item)
                        # the statement decides the payload; the device fd, the rest
                        call_keys.append((m.group(4), event.fd))  # type: ignore[attr-defined]
                        continue
                    trace.remember = m.group(4)
                else:
                    event = _closed(trace, item, file, number)
                    if event is not None:
                        if calls:
                            yield from _call_events(file, calls, call_texts, call_keys)
                            calls, call_texts, call_keys = [], [], []
                        yield event
                        continue
                item = Line(number, item)
            elif texts:
                yield from _run_events(file, start, texts, matches, shapes, ident, run_fd, summary)
                texts, run_fd = [], None
            if calls:
                yield from _call_events(file, calls, call_texts, call_keys)
                calls, call_texts, call_keys = [], [], []
            yield from read_lines(file, (item,), trace)
            trace.remember = None
    if calls:
        yield from _call_events(file, calls, call_texts, call_keys)
    if texts:
        yield from _run_events(file, start, texts, matches, shapes, ident, run_fd, summary)


def _joined(block: list[Any]) -> tuple[str, list[int]]:
    """A block's lines joined, each ended by a newline, and where each line starts in
    that text ("" and no starts when a line is no text, a ``BadLine`` or a last line, or
    holds a newline, which no block of iter_line_blocks has)."""
    try:
        joined = "\n".join(block)
    except TypeError:
        return "", []
    if joined.count("\n") != len(block) - 1:
        return "", []
    # (each line's length and its newline, summed without a call a line)
    starts = list(accumulate(map(add, map(len, block), repeat(1)), initial=0))
    return joined + "\n", starts


def _take_run(joined: str, starts: list[int], index: int, fd_text: str, block: list[str],
              texts: list[str], matches: list[Any], shapes: list[str]) -> int:
    """Take the block's lines from ``index`` on (0: its first) that a pending run of hot
    lines on the fd ``fd_text`` would take one by one (:func:`read_runs`), as many as
    follow: their texts, no matches (HotMember matches them if asked), their shapes.
    Returns how many were taken."""
    at = starts[index]
    lines, shape_of = run_patterns(fd_text)
    found = lines.match(joined, at)
    if found is None:
        return 0
    end = found.end()
    taken = joined.count("\n", at, end)
    texts += block[index:index + taken]
    matches += [None] * taken
    shapes += shape_of.findall(joined, at, end)
    return taken


def _call_events(file: str, calls: list[Event], texts: list[str],
                 keys: list[tuple[str, Any]]) -> Iterator[Event]:
    """The pending run of device calls as one CallRun, a lone call too: the engine
    remembers a whole run's step by its keys (Engine._calls_step), which costs less than a
    lone call's look-up by its payload. A call's key is its statement text (the remembered
    payload's) and its device fd."""
    head = calls[0]
    yield built(CallRun, {"origin": head.origin, "pid": None, "tid": None, "ts": head.ts,
                          "duration": None, "text": None, "texts": texts, "build": None,
                          "device": head.device, "calls": tuple(calls),
                          "keys": tuple(keys)})


#: a read or write shape -> (call, requested, ret) as a DataRun's ``io`` holds it: a capture
#: repeats a few (started afresh past MAX_REMEMBERED)
_IO_SHAPES: dict[str, tuple[str, int, int]] = {}


def _run_events(file: str, start: int, texts: list[str], matches: list[re.Match[str]],
                shapes: list[str], ident: str, fd_text: str | None, summary: ReadSummary
                ) -> Iterator[Event]:
    """The events of a pending run of hot lines: one DataRun, or each line's event
    (``matches``: each line's, as the reader matched it)."""
    count = len(texts)
    summary.lines += count
    summary.events += count
    if count < MIN_RUN:
        for index, text in enumerate(texts):
            m = matches[index]
            if m is None:               # (a line _take_run took)
                m = HOT_LINE.fullmatch(text)
                assert m is not None, text
            yield hot_event_on(m, ident, file, start + index, text)
        return
    member = HotMember(ident, matches, start)
    samples = {shape: shapes.index(shape) for shape in dict.fromkeys(shapes)}
    io: dict[str, tuple[str, int, int]] = {}
    for shape in samples:
        if shape[0] != "p":             # "read|write REQUESTED = RET[ ERRNO]"
            found = _IO_SHAPES.get(shape)
            if found is None:
                if len(_IO_SHAPES) >= MAX_REMEMBERED:
                    _IO_SHAPES.clear()
                call, requested, _, ret = shape.split(" ", 4)[:4]
                found = _IO_SHAPES[shape] = (call, int(requested), int(ret))
            io[shape] = found
    ts = None
    for text in texts:                  # the first time stamp ("@TS " starts the line)
        if text[0] == "@":
            ts = float(text[1:text.index(" ")])
            break
    yield built(DataRun, {"origin": origin_at(file, start), "pid": None, "tid": None,
                          "ts": ts, "duration": None, "text": None, "texts": texts,
                          "build": member, "fd": int(fd_text),  # type: ignore[arg-type]
                          "file": ident, "shapes": shapes, "samples": samples, "io": io})


def read_lines(file: str, lines: Iterable[Any], trace: CanonicalTrace) -> Iterator[Event]:
    """The per-line loop, separate from file access so tests can feed text directly."""
    summary = trace.summary
    for item in lines:
        summary.lines += 1
        origin = Origin(file, item.number)
        if isinstance(item, BadLine):
            summary.unreadable.append((item.number, item.reason))
            yield Unreadable(origin, reason=item.reason)
            continue
        text = item.text
        if is_irrelevant(text):
            summary.irrelevant += 1
            continue
        try:
            # plain common lines by regex, the rest (and every error) by the grammar
            stmt = fast_statement(text) or parse_statement(text)
            event = trace.event(stmt, origin, text)
        except LineError as exc:
            reason = str(exc)
            summary.unreadable.append((item.number, reason))
            yield Unreadable(origin, reason=reason, text=text)
            continue
        summary.events += 1
        yield event


def read_text(text: str, file: str = "<text>",
              summary: ReadSummary | None = None) -> Iterator[Event]:
    """Read canonical statements from a string (tests, docs examples, the writer's checks)."""
    summary = summary if summary is not None else ReadSummary(format="canonical")
    texts = text.split("\n")
    if texts and texts[-1] == "":
        texts.pop()
    yield from read_blocks(file, (texts,), CanonicalTrace(summary))
