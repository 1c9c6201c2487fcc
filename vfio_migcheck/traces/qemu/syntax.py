"""QEMU trace record arguments -> :class:`Record`, with the lark grammar ``grammar/qemu.lark``.

Only the argument *shapes*: which shapes each event name may take and what they mean is
traces/qemu/formats.py; finding records in a line is traces/qemu/lines.py. The parser is
built once and parsed records are cached (logs repeat the same records many times).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from vfio_migcheck.traces.grammars import load_parser
from vfio_migcheck.traces.numbers import NumberTooLong, bounded_int
from vfio_migcheck.traces.qemu.fastrecord import fast_record

if TYPE_CHECKING:
    from lark import Lark, Token, Tree
    from lark.exceptions import LarkError

# lark is imported by the first record off fastrecord.py's path (docs/startup.md)

_VALUE_TOKENS = frozenset({"NUMBER", "VALUE", "IDSTR"})
_PUNCTUATION = frozenset({"(", ")", ","})


class RecordError(ValueError):
    """A trace record whose arguments match none of its event's known formats."""


@dataclass(frozen=True)
class Record:
    """A parsed record before normalisation: argument shape, device, values by field name."""

    shape: str
    device: str
    values: dict[str, Any]


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return load_parser("qemu", parser="lalr", lexer="contextual", keep_all_tokens=True)


def _number(text: str) -> int:
    negative = text.startswith("-")
    digits = text[1:] if negative else text
    value = bounded_int(digits, 16 if digits.startswith("0x") else 10)
    return -value if negative else value


def _tokens(tree: Tree) -> Iterator[Token]:
    from lark import Tree

    for child in tree.children:
        if isinstance(child, Tree):
            yield from _tokens(child)
        else:
            yield child


def _values(args: Tree) -> dict[str, Any]:
    """Name each value by the keywords before it: ``new state X`` -> ``new_state``."""
    values: dict[str, Any] = {}
    words: list[str] = []
    last_key = "value"
    for token in _tokens(args):
        if token.type in _VALUE_TOKENS:
            key = "_".join(words) if words else f"{last_key}_str"
            values[key] = _number(token) if token.type == "NUMBER" else str(token)
            last_key, words = key, []
        elif str(token) not in _PUNCTUATION:
            words.append(str(token).lower())
    return values


@lru_cache(maxsize=4096)
def parse_record(body: str) -> Record:
    """Parse ``event  (device) args``; raise :class:`RecordError` when nothing fits.

    The common shapes take a regex fast path (qemu/fastrecord.py); the grammar reads the
    rest and words every error.
    """
    fast = fast_record(body)
    if fast is not None:
        return Record(*fast)
    return grammar_record(body)


def grammar_record(body: str) -> Record:
    """:func:`parse_record` by the grammar alone (the reference of the fast path)."""
    from lark import Tree
    from lark.exceptions import LarkError

    try:
        tree = _parser().parse(body)
    except LarkError as exc:
        raise RecordError(_lark_reason(exc, body)) from None
    device, args = "", None
    for child in tree.children:
        if isinstance(child, Tree) and child.data == "device":
            device = "".join(str(t) for t in child.children if t.type == "DEVICE_TEXT").strip()
        elif isinstance(child, Tree):
            args = child
    assert args is not None
    try:
        return Record(str(args.data), device, _values(args))
    except NumberTooLong as exc:
        raise RecordError(str(exc)) from None


def _lark_reason(exc: LarkError, body: str) -> str:
    """One short phrase for why a record did not parse (never lark's multi-line dump)."""
    from lark.exceptions import UnexpectedCharacters, UnexpectedToken

    shown = body if len(body) <= 120 else body[:117] + "..."
    if isinstance(exc, UnexpectedToken) and exc.token.type == "$END":
        return f"record ends too early (cut off?): {shown!r}"
    if isinstance(exc, UnexpectedToken):
        return f"unexpected {str(exc.token)!r} at column {exc.column}: {shown!r}"
    if isinstance(exc, UnexpectedCharacters):
        return f"unexpected text at column {exc.column}: {shown!r}"
    return f"{type(exc).__name__}: {shown!r}"
