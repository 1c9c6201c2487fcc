"""The shape of one line of vfio-mig.bt output, parsed by ``grammar/bpftrace.lark``.

Parsing knows nothing of the trace: it turns a line into a :class:`Record` (a call with its
times and ``key=value`` fields), a :class:`Header`, a :class:`Lost` report, or says the line
is bpftrace's own start-up chatter. What each call means is the reader's job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from vfio_migcheck.traces.bpftrace.sniff import MAGIC  # noqa: F401 - the header's word
from vfio_migcheck.traces.grammars import load_parser
from vfio_migcheck.traces.numbers import NumberTooLong, check_digits

if TYPE_CHECKING:
    from lark import Lark, Token, Tree

# lark is imported by the first line parsed, not by importing this module (docs/startup.md)

VERSION = 1


class SyntaxProblem(ValueError):
    """A line that is not vfio-mig.bt output; ``column`` is 1-based when known."""

    def __init__(self, column: int | None, message: str) -> None:
        super().__init__(f"column {column}: {message}" if column else message)
        self.column = column
        self.message = message


@dataclass(frozen=True)
class Record:
    """``TS PID TID DUR CALL key=value...``: one finished call (times in nanoseconds)."""

    ts_ns: int
    pid: int
    tid: int
    dur_ns: int
    call: str
    fields: dict[str, str] = field(default_factory=dict)
    columns: dict[str, int] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Header:
    """``vfio-mig-bt VERSION WHAT key=value...``: ``attached`` (BEGIN) or ``end`` (END)."""

    version: int
    what: str
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Lost:
    """bpftrace's ``Lost N events``: output records dropped because a buffer was full."""

    count: int


@dataclass(frozen=True)
class Chatter:
    """bpftrace's ``Attaching N probes...``: no call."""


Parsed = Record | Header | Lost | Chatter


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return load_parser("bpftrace", parser="lalr", lexer="contextual", propagate_positions=False)


def _fields(tokens: list[Tree]) -> tuple[dict[str, str], dict[str, int]]:
    from lark import Token

    values: dict[str, str] = {}
    columns: dict[str, int] = {}
    for node in tokens:
        tok = node.children[0]
        assert isinstance(tok, Token)
        key, _, value = str(tok).partition("=")
        if key in values:
            raise SyntaxProblem(tok.column, f"key {key}= appears twice")
        values[key] = value
        columns[key] = tok.column or 0
    return values, columns


def _int(tok: Token, what: str) -> int:
    try:
        check_digits(str(tok), what)
    except NumberTooLong as exc:
        raise SyntaxProblem(tok.column, str(exc)) from None
    try:
        return int(str(tok))
    except ValueError:  # pragma: no cover - the grammar only lets digits through
        raise SyntaxProblem(tok.column, f"{what} must be a number, found {tok!s}") from None


def parse_line(text: str) -> Parsed:
    """Parse one line (without its newline) or raise :class:`SyntaxProblem`."""
    from lark import Tree
    from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

    try:
        tree = _parser().parse(text)
    except UnexpectedCharacters as exc:
        raise SyntaxProblem(exc.column, f"unexpected {text[exc.pos_in_stream:][:20]!r}; "
                            "expected 'TS PID TID DUR CALL key=value...'") from None
    except UnexpectedToken as exc:
        found = "the end of the line" if exc.token.type == "$END" else repr(str(exc.token))
        raise SyntaxProblem(exc.column if exc.column != -1 else None,
                            f"unexpected {found}; expected 'TS PID TID DUR CALL "
                            "key=value...'") from None
    except UnexpectedInput as exc:  # pragma: no cover - the two above cover LALR errors
        raise SyntaxProblem(getattr(exc, "column", None), "not a vfio-mig.bt line") from None
    node = tree.children[0]
    assert isinstance(node, Tree)
    kind = node.data
    kids = node.children
    if kind == "record":
        ts, pid, tid, dur, call = kids[:5]
        values, columns = _fields(kids[5:])
        numbers = [_int(t, w) for t, w in ((ts, "TS"), (pid, "PID"), (tid, "TID"),
                                            (dur, "DUR"))]
        for tok, value, what in zip((ts, pid, tid, dur), numbers, ("TS", "PID", "TID", "DUR")):
            if value < 0:
                raise SyntaxProblem(tok.column, f"{what} must not be negative, found {value}")
        return Record(*numbers, call=str(call), fields=values, columns=columns)
    if kind == "header":
        version = _int(kids[1], "the version")
        values, _ = _fields(kids[3:])
        return Header(version, str(kids[2]), values)
    if kind == "lost":
        return Lost(_int(kids[0], "the count"))
    return Chatter()


def format_record(record: Record) -> str:
    """The line vfio-mig.bt prints for ``record`` (tests and the documentation use it)."""
    head = f"{record.ts_ns} {record.pid} {record.tid} {record.dur_ns} {record.call}"
    tail = "".join(f" {k}={v}" for k, v in record.fields.items())
    return head + tail
