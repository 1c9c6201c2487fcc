"""Reader for the canonical trace format (docs/canonical-format.md): one statement per line.

Reading is two pure steps per line: lark parses the line's shape into a :class:`Statement`
(no trace context), then :class:`CanonicalTrace` turns the statement into one event using
what earlier lines declared (devices, data fds and their identities). Any problem with a
line becomes an :class:`Unreadable` event naming the column and what was expected there.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from vfio_migcheck.model.names import NameError_, parse_flags, parse_state
from vfio_migcheck.model.spec import DEFAULT_SPEC, Spec, load_spec
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
from vfio_migcheck.traces.lines import BadLine, Line, iter_lines
from vfio_migcheck.traces.numbers import NumberTooLong, check_digits

# --- vocabulary shared with the writer -----------------------------------------------------

HEADER = "# vmc-trace 1"
KEYWORDS = frozenset({"device", "fd", "qemu", "process"})

FEATURES = (
    "MIGRATION", "MIG_DEVICE_STATE", "MIG_DATA_SIZE",
    "DMA_LOGGING_START", "DMA_LOGGING_STOP", "DMA_LOGGING_REPORT",
    "PCI_VF_TOKEN", "LOW_POWER_ENTRY", "LOW_POWER_ENTRY_WITH_WAKEUP", "LOW_POWER_EXIT",
    "BUS_MASTER",
)
FEATURE_ALIASES = {"STATE": "MIG_DEVICE_STATE", "DEVICE_STATE": "MIG_DEVICE_STATE",
                   "DATA_SIZE": "MIG_DATA_SIZE"}
FEATURE_SHORT = {"MIG_DEVICE_STATE": "STATE"}
OPS = ("GET", "SET", "PROBE")
PAYLOAD_FIELDS = ("target", "reply_state", "data_fd", "mig_flags", "data_size", "probe_ops")

# Which payload fields a (op, feature) statement carries; the rest are None (not applicable).
_CARRIES: dict[tuple[str, str], tuple[str, ...]] = {
    ("GET", "MIGRATION"): ("mig_flags",),
    ("GET", "MIG_DEVICE_STATE"): ("reply_state", "data_fd"),
    ("SET", "MIG_DEVICE_STATE"): ("target", "reply_state", "data_fd"),
    ("GET", "MIG_DATA_SIZE"): ("data_size",),
}

# Key written in the text -> FeatureCall attribute.
FEATURE_KEYS = {"target": "target", "state": "reply_state", "data_fd": "data_fd",
                "flags": "mig_flags", "size": "data_size", "ops": "probe_ops",
                "argsz": "argsz", "rawflags": "raw_flags"}

# fd operations: call -> (direction, positioned) for data I/O.
IO_CALLS: dict[str, tuple[str, bool]] = {
    "read": ("read", False), "readv": ("read", False), "pread64": ("read", True),
    "preadv": ("read", True), "preadv2": ("read", True),
    "write": ("write", False), "writev": ("write", False), "pwrite64": ("write", True),
    "pwritev": ("write", True), "pwritev2": ("write", True),
}
POLL_CALLS = ("poll", "ppoll", "select", "pselect6", "epoll_wait", "epoll_pwait",
              "epoll_pwait2")
SEEK_CALLS = ("lseek", "_llseek", "llseek")
DUP_CALLS = ("dup", "dup2", "dup3")
CLOSE_HOWS = ("close", "close_range", "exec", "exit")
PROCESS_WHATS = ("clone", "exec", "exit", "killed", "signal", "attach", "detach")
FD_VERBS = (*IO_CALLS, "precopy_info", *POLL_CALLS, *SEEK_CALLS, "fcntl", "ioctl",
            *DUP_CALLS, "close")

# How QEMU's set_state-like events name their states (normalised into state/recover).
QEMU_STATE_KEYS = ("state", "new", "new_state", "device_state")
QEMU_RECOVER_KEYS = ("recover", "recover_state")

_INT_RE = re.compile(r"-?(0[xX][0-9a-fA-F]+|[0-9]+)\Z")


class LineError(ValueError):
    """A line that does not read: the column (1-based) and what is wrong there."""

    def __init__(self, column: int | None, message: str) -> None:
        self.column, self.message = column, message
        super().__init__(f"column {column}: {message}" if column else message)


@lru_cache(maxsize=1)
def default_spec() -> Spec:
    return load_spec(DEFAULT_SPEC)


# --- step 1: the shape of a line ------------------------------------------------------------


@dataclass(frozen=True)
class Word:
    """A token's text (unquoted) and where it was."""

    text: str
    column: int
    quoted: bool = False


@dataclass(frozen=True)
class Result:
    ret: Any
    errno: Any
    column: int


@dataclass
class Statement:
    """One parsed line before trace context: kind, positional words, key=value fields."""

    kind: str
    words: list[Word]
    fields: dict[str, Word]
    key_columns: dict[str, int]
    result: Result | None = None
    ts: float | None = None
    pid: int | None = None
    tid: int | None = None
    duration: float | None = None


_ESCAPE_RE = re.compile(r"\\(x[0-9a-fA-F]{2}|.)")
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}


def unquote(text: str) -> str:
    """Undo the writer's quoting: ``\\"``, ``\\\\``, ``\\n``, ``\\t``, ``\\r``, ``\\xHH``."""
    body = text[1:-1]

    def repl(m: re.Match[str]) -> str:
        esc = m.group(1)
        if esc[0] == "x" and len(esc) == 3:
            return chr(int(esc[1:], 16))
        return _SIMPLE_ESCAPES.get(esc, esc)

    return _ESCAPE_RE.sub(repl, body)


def number(text: str, column: int | None = None) -> int:
    """``0x1f``, ``-1``, ``42``; leading zeros mean decimal (``007`` is 7), not octal.

    A number longer than any value a trace holds is a :class:`LineError`, not a crash.
    """
    try:
        check_digits(text)
    except NumberTooLong as exc:
        raise LineError(column, str(exc)) from None
    if _leading_zero(text):
        return int(text, 10)
    return int(text, 0)


def _finite(tok: Token, text: str, what: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise LineError(tok.column, f"{what} {str(tok)!r} is not a finite number")
    return value


def _word(tok: Token) -> Word:
    text = str(tok)
    if text.startswith('"') and len(text) >= 2 and text.endswith('"'):
        return Word(unquote(text), tok.column or 0, quoted=True)
    return Word(text, tok.column or 0)


class _ToStatement(Transformer):
    """Inline LALR transformer: the tree of one line -> a :class:`Statement` (no context)."""

    def stamp(self, c: list[Token]) -> tuple[str, float]:
        return ("ts", _finite(c[0], c[0][1:], "timestamp"))

    def thread_tid(self, c: list[Token]) -> tuple[str, tuple[int | None, int | None]]:
        return ("thread", (None, number(c[0], c[0].column)))

    def thread_pid_tid(self, c: list[Token]) -> tuple[str, tuple[int | None, int | None]]:
        tid = None if c[1].type == "DASH" else number(c[1], c[1].column)
        return ("thread", (number(c[0], c[0].column), tid))

    def duration(self, c: list[Token]) -> tuple[str, float]:
        return ("duration", _finite(c[0], c[0][1:-1], "duration"))

    def field(self, c: list[Token]) -> tuple[Word, Word]:
        key = Word(str(c[0])[:-1], c[0].column or 0)
        return key, _word(c[1])

    def result(self, c: list[Any]) -> Result:
        raw = str(c[1])
        ret: Any = UNKNOWN if raw == "?" else number(raw)
        if len(c) > 2:
            errno: Any = c[2]
        else:
            errno = UNKNOWN if ret is UNKNOWN else None
        return Result(ret, errno, c[0].column or 0)

    def errno(self, c: list[Token]) -> Any:
        tok = c[0]
        if tok.type == "QMARK":
            return UNKNOWN
        if tok.type == "DASH":
            return None
        return str(tok)

    def _one(self, c: list[Token]) -> Word:
        return _word(c[0])

    decl_name = dev = qemu_dev = feature = arg = _one

    def _statement(self, kind: str, children: list[Any]) -> Statement:
        words: list[Word] = []
        fields: dict[str, Word] = {}
        key_columns: dict[str, int] = {}
        result = None
        for child in children:
            if isinstance(child, Result):
                result = child
            elif isinstance(child, tuple):
                key, value = child
                if key.text in fields:
                    raise LineError(key.column, f"key {key.text}= is given twice")
                fields[key.text] = value
                key_columns[key.text] = key.column
            elif isinstance(child, Token):
                words.append(_word(child))
            else:
                words.append(child)
        return Statement(kind, words, fields, key_columns, result)

    def declare(self, c: list[Any]) -> Statement:
        return self._statement("declare", c)

    def device_call(self, c: list[Any]) -> Statement:
        return self._statement("device_call", c)

    def device_reset(self, c: list[Any]) -> Statement:
        return self._statement("device_reset", c)

    def device_access(self, c: list[Any]) -> Statement:
        return self._statement("device_access", c)

    def device_close(self, c: list[Any]) -> Statement:
        return self._statement("device_close", c)

    def fd_appeared(self, c: list[Any]) -> Statement:
        return self._statement("fd_appeared", c)

    def fd_call(self, c: list[Any]) -> Statement:
        return self._statement("fd_call", c)

    def qemu_event(self, c: list[Any]) -> Statement:
        return self._statement("qemu_event", c)

    def process_event(self, c: list[Any]) -> Statement:
        return self._statement("process_event", c)

    def start(self, c: list[Any]) -> Statement:
        stmt = next(x for x in c if isinstance(x, Statement))
        for item in c:
            if isinstance(item, tuple):
                name, value = item
                if name == "ts":
                    stmt.ts = value
                elif name == "duration":
                    stmt.duration = value
                else:
                    stmt.pid, stmt.tid = value
        return stmt


@lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = resources.files("vfio_migcheck.grammar").joinpath("canonical.lark").read_text()
    return Lark(grammar, parser="lalr", lexer="contextual", transformer=_ToStatement(),
                propagate_positions=False, maybe_placeholders=False)


_TERMINALS = {
    "OP": "GET, SET or PROBE", "RESET": "RESET", "ACCESS": "access", "CLOSE": "close",
    "QMARK": "?", "DASH": "-", "INT": "a number", "RESULT_VALUE": "a result (a number or ?)",
    "ERRNO": "an errno name such as EINVAL", "TIMESTAMP": "@timestamp",
    "DURATION": "<duration>", "STRING": "a quoted string", "NAME": "a device name",
    "WORD": "a name", "VERB": "an fd operation (read, write, close, ...)",
    "ARG": "an argument", "KEY": "key=value", "VALUE": "a value after key=",
    "EQ": "'= RESULT'", "LSQB": "'['", "RSQB": "']'", "SLASH": "'/'",
    "APPEARED": "appeared", "$END": "the end of the line",
}
_STATEMENT_START = {"DEVICE", "FD", "QEMU", "PROCESS"}


def _expected(names: Iterable[str]) -> str:
    names = set(names)
    if names & _STATEMENT_START or {"TIMESTAMP", "NAME"} <= names:
        return ("a statement (device, fd, qemu, process or a declared device name, "
                "optionally after @timestamp and [tid])")
    texts = sorted({_TERMINALS.get(n, n.lower()) for n in names if n != "COMMENT"})
    if len(texts) == 1:
        return texts[0]
    return ", ".join(texts[:-1]) + " or " + texts[-1]


def _found(text: str, column: int) -> str:
    rest = text[column - 1:]
    word = rest.split(None, 1)[0] if rest.strip() else ""
    if not word:
        return "the end of the line"
    return repr(word if len(word) <= 30 else word[:27] + "...")


def parse_statement(text: str) -> Statement:
    """Parse one non-blank line; raise :class:`LineError` naming column and expectation."""
    try:
        return _parser().parse(text)
    except UnexpectedCharacters as exc:
        raise LineError(exc.column, f"expected {_expected(exc.allowed or ())}, "
                                    f"found {_found(text, exc.column)}") from None
    except UnexpectedToken as exc:
        tok = exc.token
        if tok.type == "$END":
            column = len(text.rstrip()) + 1
            found = "the end of the line"
        else:
            column = tok.column or 0
            found = _found(text, column)
        raise LineError(column, f"expected {_expected(exc.expected)}, found {found}") from None
    except UnexpectedInput as exc:
        raise LineError(getattr(exc, "column", None), f"cannot read this line: {exc}") from None
    except LineError:
        raise
    except LarkError as exc:
        cause = exc.__context__ if isinstance(exc.__context__, LineError) else None
        if cause is not None:
            raise cause from None
        raise LineError(None, f"cannot read this line: {exc}") from None


# --- values ---------------------------------------------------------------------------------


def _int(word: Word, what: str, *, allow_none: bool = False) -> Any:
    if not word.quoted:
        if word.text == "?":
            return UNKNOWN
        if allow_none and word.text == "-":
            return None
        if _INT_RE.match(word.text):
            return number(word.text, word.column)
    raise LineError(word.column, f"{what} must be a number or ?, found {word.text!r}")


def _leading_zero(text: str) -> bool:
    digits = text.lstrip("-")
    return len(digits) > 1 and digits[0] == "0" and digits[1] not in "xX"


def _known_int(word: Word, what: str) -> int:
    value = _int(word, what)
    if value is UNKNOWN:
        raise LineError(word.column, f"{what} must be a number, found {word.text!r}")
    return value


def _nonneg_int(word: Word, what: str) -> int:
    value = _int(word, what)
    if value is UNKNOWN or value < 0:
        raise LineError(word.column, f"{what} must be a number >= 0, found {word.text!r}")
    return value


def _state(word: Word, *, allow_none: bool = False) -> Any:
    if not word.quoted and word.text == "?":
        return UNKNOWN
    if allow_none and not word.quoted and word.text == "-":
        return None
    try:
        text = word.text
        return parse_state(number(text) if _INT_RE.match(text) else text, default_spec())
    except NameError_ as exc:
        raise LineError(word.column, str(exc)) from None


def _flags(word: Word, *, allow_none: bool = False) -> Any:
    if not word.quoted and word.text == "?":
        return UNKNOWN
    if allow_none and not word.quoted and word.text == "-":
        return None
    try:
        text = word.text
        return parse_flags(number(text) if _INT_RE.match(text) else text, default_spec())
    except NameError_ as exc:
        raise LineError(word.column, str(exc)) from None


def _text(word: Word, *, allow_none: bool = False) -> Any:
    if not word.quoted and word.text == "?":
        return UNKNOWN
    if allow_none and not word.quoted and word.text == "-":
        return None
    return word.text


_YES = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}


def _bool(word: Word, what: str, *, allow_unknown: bool = True) -> Any:
    if allow_unknown and not word.quoted and word.text == "?":
        return UNKNOWN
    try:
        return _YES[word.text.lower()]
    except KeyError:
        raise LineError(word.column, f"{what} must be yes or no, found {word.text!r}") from None


def _ops(word: Word) -> Any:
    if not word.quoted and word.text == "?":
        return UNKNOWN
    if not word.quoted and word.text == "-":
        return None
    parts = [p.strip().upper() for p in word.text.replace(",", "|").split("|") if p.strip()]
    if parts == ["NONE"]:
        return ()
    bad = [p for p in parts if p not in ("GET", "SET")]
    if bad or not parts:
        raise LineError(word.column, f"PROBE ops must be GET, SET, GET|SET, NONE or ?, "
                                     f"found {word.text!r}")
    return tuple(op for op in ("GET", "SET") if op in parts)


def _origin(word: Word) -> Origin | None:
    if not word.quoted and word.text == "-":
        return None
    m = re.fullmatch(r"(.*):([0-9]+)(?:-([0-9]+))?", word.text, re.S)
    if not m or not m.group(1):
        raise LineError(word.column, f"after= must be FILE:LINE or -, found {word.text!r}")
    last = number(m.group(3), word.column) if m.group(3) else None
    return Origin(m.group(1), number(m.group(2), word.column), last)


def feature_name(word: Word) -> Any:
    if not word.quoted and word.text == "?":
        return UNKNOWN
    name = word.text.upper()
    if name.startswith("VFIO_DEVICE_FEATURE_"):
        name = name[len("VFIO_DEVICE_FEATURE_"):]
    name = FEATURE_ALIASES.get(name, name)
    if name not in FEATURES:
        others = ", ".join(f for f in FEATURES if f != "MIG_DEVICE_STATE")
        raise LineError(word.column, f"unknown feature {word.text!r} (known: STATE, {others})")
    return name


def carried(op: Any, feature: Any) -> set[str]:
    """The payload fields a (op, feature) statement can carry; ``?`` means any op/feature."""
    ops = OPS if op is UNKNOWN else (op,)
    features = FEATURES if feature is UNKNOWN else (feature,)
    out: set[str] = set()
    for o in ops:
        for f in features:
            out.update(("probe_ops",) if o == "PROBE" else _CARRIES.get((o, f), ()))
    return out


def carried_fields(op: Any, feature: Any) -> dict[str, Any]:
    """Payload fields of a FeatureCall before its keys are read: None where the statement
    does not carry the field, UNKNOWN where the op or feature is ``?`` and it might."""
    unknown = op is UNKNOWN or feature is UNKNOWN
    fields = carried(op, feature)
    return {name: (UNKNOWN if unknown and name in fields else None) for name in PAYLOAD_FIELDS}


def _check_keys(stmt: Statement, allowed: Iterable[str], what: str) -> None:
    allowed = tuple(allowed)
    for key in stmt.fields:
        if key not in allowed:
            known = ", ".join(f"{k}=" for k in allowed) if allowed else "no keys"
            raise LineError(stmt.key_columns.get(key),
                            f"{what} has no key {key}= (it takes {known})")


def _no_more_words(stmt: Statement, used: int, what: str) -> None:
    if len(stmt.words) > used:
        extra = stmt.words[used]
        raise LineError(extra.column, f"{what} takes no further argument, found {extra.text!r}"
                                      " (use key=value)")


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
        _check_keys(stmt, ("fd", "flags", "path", "api", "driver", "state"), "device")
        f = stmt.fields
        fd = _int(f["fd"], "fd") if "fd" in f else UNKNOWN
        api = _text(f["api"]) if "api" in f else UNKNOWN
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
            path=_text(f["path"]) if "path" in f else UNKNOWN,
            api=api,
            driver=_text(f["driver"]) if "driver" in f else UNKNOWN,
            flags=_flags(f["flags"]) if "flags" in f else UNKNOWN,
            state=_state(f["state"]) if "state" in f else UNKNOWN,
            **common,
        )

    def _device_fd(self, stmt: Statement, device: str) -> Any:
        """The fd a device statement used: ``fd=`` (e.g. a dup of the device fd) or the
        declared one."""
        word = stmt.fields.get("fd")
        return self.devices[device].fd if word is None else _int(word, "fd")

    def _result(self, stmt: Statement) -> dict[str, Any]:
        assert stmt.result is not None
        return {"ret": stmt.result.ret, "errno": stmt.result.errno}

    def _device_call(self, stmt: Statement, origin: Origin, common: dict) -> Event:
        dev_word, op_word, feat_word = stmt.words[0], stmt.words[1], stmt.words[2]
        device = self._device(dev_word)
        op = UNKNOWN if op_word.text == "?" else op_word.text
        feature = feature_name(feat_word)
        what = f"{op_word.text} {feat_word.text}"
        can_carry = carried(op, feature)
        _check_keys(stmt, ["fd", *(k for k, a in FEATURE_KEYS.items()
                                   if a in can_carry or a in ("argsz", "raw_flags"))], what)
        values = carried_fields(op, feature)
        if len(stmt.words) > 3:
            arg = stmt.words[3]
            if op == "SET" and feature == "MIG_DEVICE_STATE":
                values["target"] = _state(arg)
            elif op == "PROBE":
                values["probe_ops"] = _ops(arg)
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
        f = stmt.fields
        decoders = {
            "target": lambda w: _state(w, allow_none=True),
            "state": lambda w: _state(w, allow_none=True),
            "data_fd": lambda w: _int(w, "data_fd", allow_none=True),
            "flags": lambda w: _flags(w, allow_none=True),
            "size": lambda w: _int(w, "size", allow_none=True),
            "ops": _ops,
            "argsz": lambda w: _int(w, "argsz"),
            "rawflags": lambda w: _int(w, "rawflags"),
        }
        extra: dict[str, Any] = {"argsz": UNKNOWN, "raw_flags": UNKNOWN}
        for key, word in f.items():
            if key == "fd":
                continue
            attr = FEATURE_KEYS[key]
            value = decoders[key](word)
            if attr in values:
                values[attr] = value
            else:
                extra[attr] = value
        result = self._result(stmt)
        data_fd = values["data_fd"]
        if (isinstance(data_fd, int) and data_fd >= 0 and op in ("SET", UNKNOWN)
                and feature in ("MIG_DEVICE_STATE", UNKNOWN)):
            ret = result["ret"]
            if isinstance(ret, int) and ret < 0:
                self.summary.notes.append(f"{origin}: data_fd={data_fd} in the reply of a "
                                          "failed SET; no data fd was created")
            else:
                self._new_file(data_fd, device, True, origin)
        return FeatureCall(origin, device=device, fd=self._device_fd(stmt, device), op=op,
                           feature=feature, **result, **values, **extra, **common)

    def _device_reset(self, stmt: Statement, origin: Origin, common: dict) -> Event:
        device = self._device(stmt.words[0])
        _check_keys(stmt, ("fd",), "RESET")
        return DeviceReset(origin, device=device, fd=self._device_fd(stmt, device),
                           **self._result(stmt), **common)

    def _device_access(self, stmt: Statement, origin: Origin, common: dict) -> Event:
        device = self._device(stmt.words[0])
        _check_keys(stmt, ("fd",), "access")
        call = stmt.words[1]
        _no_more_words(stmt, 2, "access")
        return DeviceAccess(origin, device=device, fd=self._device_fd(stmt, device), call=call.text,
                            **self._result(stmt), **common)

    def _device_close(self, stmt: Statement, origin: Origin, common: dict) -> Event:
        device = self._device(stmt.words[0])
        _check_keys(stmt, ("how", "fd"), "close")
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
        fd = _known_int(stmt.words[0], "the fd")
        _check_keys(stmt, ("name", "after", "device"), "fd appeared")
        f = stmt.fields
        hint = _text(f["device"]) if "device" in f else UNKNOWN
        ident = self._new_file(fd, hint if isinstance(hint, str) else None, True, origin)
        return FdAppeared(
            origin, fd=fd, file=ident,
            name=_text(f["name"]) if "name" in f else UNKNOWN,
            after_feature=_origin(f["after"]) if "after" in f else None,
            device_hint=hint, **common,
        )

    def _fd_call(self, stmt: Statement, origin: Origin, common: dict) -> Event:
        fd = _known_int(stmt.words[0], "the fd")
        verb = stmt.words[1] = Word(stmt.words[1].text.lower(), stmt.words[1].column)
        args = stmt.words[2:]
        call = verb.text
        f = stmt.fields
        result = self._result(stmt)
        if call == "close":
            _check_keys(stmt, ("how",), "fd close")
            _no_more_words(stmt, 2, "close")
            how = self._how(stmt)
            ident = self._file_of(fd, origin)
            self.fds.pop(fd, None)
            return DataClose(origin, fd=fd, file=ident, how=how, **result, **common)
        if call in DUP_CALLS:
            return self._dup(stmt, fd, origin, common)
        if call == "precopy_info":
            _check_keys(stmt, ("argsz", "initial", "dirty"), "precopy_info")
            _no_more_words(stmt, 2, "precopy_info")
            return PrecopyInfo(
                origin, fd=fd, file=self._file_of(fd, origin), **result,
                argsz=_int(f["argsz"], "argsz") if "argsz" in f else UNKNOWN,
                initial_bytes=_int(f["initial"], "initial") if "initial" in f else UNKNOWN,
                dirty_bytes=_int(f["dirty"], "dirty") if "dirty" in f else UNKNOWN, **common)
        if call in POLL_CALLS:
            _check_keys(stmt, ("ready", "call"), call)
            _no_more_words(stmt, 2, call)
            return DataPoll(origin, fd=fd, file=self._file_of(fd, origin),
                            call=f["call"].text if "call" in f else call,
                            ready=_bool(f["ready"], "ready") if "ready" in f else UNKNOWN,
                            **result, **common)
        if call in SEEK_CALLS:
            _check_keys(stmt, ("call",), call)
            _no_more_words(stmt, 2, call)
            return DataSeek(origin, fd=fd, file=self._file_of(fd, origin),
                            call=f["call"].text if "call" in f else call, **result, **common)
        if call in ("fcntl", "ioctl"):
            _check_keys(stmt, (), call)
            if not args:
                column = stmt.result.column if stmt.result else verb.column
                what = "command (F_GETFL, ...)" if call == "fcntl" else "request name or number"
                raise LineError(column, f"{call} needs its {what} before '='")
            _no_more_words(stmt, 3, call)
            ident = self._file_of(fd, origin)
            if call == "fcntl":
                return DataFcntl(origin, fd=fd, file=ident, cmd=args[0].text, **result, **common)
            return DataIoctl(origin, fd=fd, file=ident, request=args[0].text, **result, **common)
        return self._io(stmt, fd, origin, common)

    def _io(self, stmt: Statement, fd: int, origin: Origin, common: dict) -> Event:
        verb = stmt.words[1]
        call = verb.text
        f = stmt.fields
        _check_keys(stmt, ("call", "positioned"), call)
        if call not in IO_CALLS:
            raise LineError(verb.column, f"unknown fd operation {call!r} (expected one of "
                                         f"{', '.join(FD_VERBS)}, or appeared)")
        direction, positioned = IO_CALLS[call]
        if len(stmt.words) < 3:
            column = stmt.result.column if stmt.result else verb.column
            raise LineError(column, f"{call} needs the requested byte count (or ?) before '='")
        _no_more_words(stmt, 3, call)
        requested = _int(stmt.words[2], "the requested byte count")
        name = call
        if "call" in f:
            name = f["call"].text
            positioned = IO_CALLS.get(name, (direction, False))[1]
        if "positioned" in f:
            positioned = _bool(f["positioned"], "positioned", allow_unknown=False)
        return DataIO(origin, fd=fd, file=self._file_of(fd, origin), call=name,
                      direction=direction, requested=requested, positioned=positioned,
                      **self._result(stmt), **common)

    def _dup(self, stmt: Statement, fd: int, origin: Origin, common: dict) -> Event:
        verb = stmt.words[1]
        _check_keys(stmt, ("call",), verb.text)
        assert stmt.result is not None
        new_fd = stmt.result.ret
        if not isinstance(new_fd, int) or new_fd < 0 or stmt.result.errno is not None:
            raise LineError(stmt.result.column, f"{verb.text} must show the new fd as its "
                                                "result; a failed dup creates nothing to "
                                                "record (write it as a comment)")
        _no_more_words(stmt, 3, verb.text)
        if len(stmt.words) > 2:
            target = _nonneg_int(stmt.words[2], "the target fd")
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
        fields = {key: _qemu_value(word) for key, word in stmt.fields.items()}
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
        _check_keys(stmt, ("child", "thread", "status", "signal"), f"process {what.text}")
        f = stmt.fields
        return ProcessEvent(
            origin, what=what.text,
            child=_known_int(f["child"], "child") if "child" in f else None,
            thread=_bool(f["thread"], "thread", allow_unknown=False) if "thread" in f else None,
            status=_int(f["status"], "status") if "status" in f else UNKNOWN,
            signal=f["signal"].text if "signal" in f else None,
            **common,
        )


def _qemu_value(word: Word) -> Any:
    """QEMU event arguments: numbers stay numbers, ``?`` is unknown, the rest is text."""
    if word.quoted:
        return word.text
    if word.text == "?":
        return UNKNOWN
    if _INT_RE.match(word.text) and not _leading_zero(word.text):
        return number(word.text)
    return word.text


def qemu_state(value: Any) -> str | None:
    """A v2 state name from a QEMU argument; numbers (v1 era) and junk stay in ``fields``."""
    if not isinstance(value, str):
        return None
    try:
        state = parse_state(value, default_spec())
    except NameError_:
        return None
    return state if isinstance(state, str) and not _INT_RE.match(value.strip()) else None


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
    for path in paths:
        yield from read_lines(str(path), iter_lines(path), trace)


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
            event = trace.event(parse_statement(text), origin, text)
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
    numbered = (Line(n, t) for n, t in enumerate(texts, start=1))
    yield from read_lines(file, numbered, CanonicalTrace(summary))
