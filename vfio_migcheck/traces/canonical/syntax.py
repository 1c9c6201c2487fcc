"""Canonical trace syntax (docs/canonical-format.md): one line -> one :class:`Statement`.

The first of the two pure steps per line: lark (grammar/canonical.lark) parses the line's
shape with no trace context, and the word converters here turn words into values. The
second step, statements in context, is :mod:`vfio_migcheck.traces.canonical.reader`. Any
problem raises :class:`LineError` naming the column and what was expected there.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from vfio_migcheck.model.names import NameError_, parse_flags, parse_state
from vfio_migcheck.model.spec import DEFAULT_SPEC, Spec, load_spec
from vfio_migcheck.traces.events import (
    UNKNOWN,
    Origin,
)
from vfio_migcheck.traces.grammars import load_parser
from vfio_migcheck.traces.numbers import NumberTooLong, check_digits

if TYPE_CHECKING:
    from lark import Lark, Token

# lark is imported by the first line that needs the grammar (most take fastline.py's path):
# a decoded trace is checked without importing it (docs/startup.md)

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


class _ToStatement:
    """Inline LALR transformer: the tree of one line -> a :class:`Statement` (no context).

    Its callbacks only; :func:`_parser` mixes in lark's ``Transformer`` when it builds the
    parser, so that importing this module does not import lark."""

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
        from lark import Token  # loaded by now: only the lark parser calls this

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
    from lark import Transformer

    transformer = type("_ToStatementTransformer", (_ToStatement, Transformer), {})()
    return load_parser("canonical", parser="lalr", lexer="contextual",
                       transformer=transformer, propagate_positions=False,
                       maybe_placeholders=False)


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
    from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

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


def word_int(word: Word, what: str, *, allow_none: bool = False) -> Any:
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


def word_known_int(word: Word, what: str) -> int:
    value = word_int(word, what)
    if value is UNKNOWN:
        raise LineError(word.column, f"{what} must be a number, found {word.text!r}")
    return value


def word_nonneg_int(word: Word, what: str) -> int:
    value = word_int(word, what)
    if value is UNKNOWN or value < 0:
        raise LineError(word.column, f"{what} must be a number >= 0, found {word.text!r}")
    return value


def word_state(word: Word, *, allow_none: bool = False) -> Any:
    if not word.quoted and word.text == "?":
        return UNKNOWN
    if allow_none and not word.quoted and word.text == "-":
        return None
    try:
        text = word.text
        return parse_state(number(text) if _INT_RE.match(text) else text, default_spec())
    except NameError_ as exc:
        raise LineError(word.column, str(exc)) from None


def word_flags(word: Word, *, allow_none: bool = False) -> Any:
    if not word.quoted and word.text == "?":
        return UNKNOWN
    if allow_none and not word.quoted and word.text == "-":
        return None
    try:
        text = word.text
        return parse_flags(number(text) if _INT_RE.match(text) else text, default_spec())
    except NameError_ as exc:
        raise LineError(word.column, str(exc)) from None


def word_text(word: Word, *, allow_none: bool = False) -> Any:
    if not word.quoted and word.text == "?":
        return UNKNOWN
    if allow_none and not word.quoted and word.text == "-":
        return None
    return word.text


_YES = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}


def word_bool(word: Word, what: str, *, allow_unknown: bool = True) -> Any:
    if allow_unknown and not word.quoted and word.text == "?":
        return UNKNOWN
    try:
        return _YES[word.text.lower()]
    except KeyError:
        raise LineError(word.column, f"{what} must be yes or no, found {word.text!r}") from None


def word_ops(word: Word) -> Any:
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


def word_origin(word: Word) -> Origin | None:
    if not word.quoted and word.text == "-":
        return None
    m = re.fullmatch(r"(.*):([0-9]+)(?:-([0-9]+))?", word.text, re.S)
    if not m or not m.group(1):
        raise LineError(word.column, f"after= must be FILE:LINE or -, found {word.text!r}")
    last = number(m.group(3), word.column) if m.group(3) else None
    return Origin(m.group(1), number(m.group(2), word.column), last)


#: a feature known only by its number, ``FEATURE_<index>``
NUMBERED_FEATURE = re.compile(r"FEATURE_[0-9]{1,5}")


def feature_name(word: Word) -> Any:
    if not word.quoted and word.text == "?":
        return UNKNOWN
    name = word.text.upper()
    if name.startswith("VFIO_DEVICE_FEATURE_"):
        name = name[len("VFIO_DEVICE_FEATURE_"):]
    name = FEATURE_ALIASES.get(name, name)
    if NUMBERED_FEATURE.fullmatch(name):
        return name   # a feature this tool has no name for, by its number (eBPF captures)
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


def check_keys(stmt: Statement, allowed: Iterable[str], what: str) -> None:
    allowed = tuple(allowed)
    for key in stmt.fields:
        if key not in allowed:
            known = ", ".join(f"{k}=" for k in allowed) if allowed else "no keys"
            raise LineError(stmt.key_columns.get(key),
                            f"{what} has no key {key}= (it takes {known})")


def no_more_words(stmt: Statement, used: int, what: str) -> None:
    if len(stmt.words) > used:
        extra = stmt.words[used]
        raise LineError(extra.column, f"{what} takes no further argument, found {extra.text!r}"
                                      " (use key=value)")


def word_qemu_value(word: Word) -> Any:
    """QEMU event arguments: numbers stay numbers, ``?`` is unknown, the rest is text."""
    if word.quoted:
        return word.text
    if word.text == "?":
        return UNKNOWN
    if _INT_RE.match(word.text) and not _leading_zero(word.text):
        return number(word.text, word.column)
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
