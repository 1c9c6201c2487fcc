"""strace call text → :class:`Call`, with the lark grammar ``grammar/strace.lark``.

Only lines the pre-filter kept reach this module, so clarity beats speed here; still, the
parser is built once (LALR, contextual lexer, inline transformer: no parse tree) and
cached for the life of the process.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from vfio_migcheck.traces.grammars import load_parser
from vfio_migcheck.traces.numbers import (
    MAX_DIGITS,
    NumberTooLong,
    bounded_float,
    significant_digits,
)
from vfio_migcheck.traces.strace.text import decode_decoration

if TYPE_CHECKING:
    from lark import Lark, Token
    from lark.exceptions import LarkError

# lark is imported by the first call off fastcall.py's path: a capture whose calls are all
# flat is read without it (docs/startup.md)

# An argument is a list of items; an item is a tuple (kind, value, decoration):
#   ("n", int|float, decor|None)  number, with its -y decoration (fds)
#   ("w", str, decor|None)        word: a constant, flag, identifier (AT_FDCWD</>), or
#                                 colliding ioctl names joined by " or "
#   ("s", str, None)              string literal with its quotes and escapes (raw)
#   ("...", None, None)           ellipsis (truncated string, struct, array)
#   ("c", str, None)              /* comment */ text without the delimiters
#   ("o", str, None)              operator: | = => * ~ ...
#   ("(", args, None) ("[", args, None) ("{", args, None): bracketed argument lists
Item = tuple[str, Any, Any]
Arg = list[Item]


class SyntaxProblem(ValueError):
    """The text is not a well-formed strace call (the message says where)."""


@dataclass(slots=True)
class Call:
    """One complete system call as strace printed it."""

    name: str
    args: list[Arg]
    ret: int | None                 # None for "= ?"
    ret_decor: str | None = None    # "= 3</dev/vfio/vfio>"
    errno: str | None = None        # "EINVAL" when the result names one
    aux: list[Any] = field(default_factory=list)  # parenthesised extras after the result
    duration: float | None = None   # -T
    unavailable: bool = False       # "= ? <unavailable>"


def duration_value(text: str) -> float:
    """A ``-T`` duration; :class:`SyntaxProblem` for one longer than any time strace prints."""
    try:
        return bounded_float(text, "the -T duration")
    except NumberTooLong as exc:
        raise SyntaxProblem(str(exc)) from None


def number_value(text: str) -> int | float:
    """strace numbers: decimal, ``0x`` hex, C octal (``0644`` file modes), rarely floats.

    Raises :class:`SyntaxProblem` for a number longer than any value strace prints.
    """
    if significant_digits(text) > MAX_DIGITS:
        raise SyntaxProblem(f"a number with {significant_digits(text)} digits is larger than "
                            f"any value strace prints (more than {MAX_DIGITS} digits)")
    try:
        return int(text, 0)
    except ValueError:
        pass
    digits = text.lstrip("-")
    if digits.isdigit():  # leading zero: C octal
        value = int(digits, 8) if all(c in "01234567" for c in digits) else int(digits, 10)
        return -value if text.startswith("-") else value
    return float(text)


def _decor(tok: Token | None) -> str | None:
    return None if tok is None else decode_decoration(str(tok)[1:-1])


class _ToCall:
    """Inline transformer: builds the plain-Python call value straight from the parser.

    Its callbacks only; :func:`_parser` mixes in lark's ``Transformer`` when it builds the
    parser, so that importing this module does not import lark."""

    def call(self, children: list[Any]) -> Call:
        from lark import Token  # loaded by now: only the lark parser calls this

        name, args, ret = children[0], children[1], children[2]
        call = Call(str(name), args, ret[0], ret[1])
        for extra in children[3:]:
            if isinstance(extra, Token) and extra.type == "DURATION":
                call.duration = duration_value(extra[1:-1])
            elif extra[0] == "errno":
                if call.errno is None and extra[1].isupper():
                    call.errno = extra[1]
                else:
                    call.aux.append(extra[1])
            elif extra[0] == "unavailable":
                call.unavailable = True
            else:
                call.aux.append(extra[1])
        return call

    def partial(self, children: list[Any]) -> Call:
        return Call(str(children[0]), children[1], None)

    def ret_number(self, children: list[Any]) -> tuple[int | float, str | None]:
        return number_value(children[0]), _decor(children[1] if len(children) > 1 else None)

    def ret_unknown(self, _children: list[Any]) -> tuple[None, None]:
        return None, None

    def aux_name(self, children: list[Any]) -> tuple[str, str]:
        return "errno", str(children[0])

    def aux_paren(self, children: list[Any]) -> tuple[str, list[Arg]]:
        return "paren", children[0]

    def aux_unavailable(self, _children: list[Any]) -> tuple[str, None]:
        return "unavailable", None

    def seq(self, children: list[Any]) -> list[Arg]:
        from lark import Token

        args: list[Arg] = []
        current: Arg = []
        for child in children:
            if isinstance(child, Token):  # the "," separator
                args.append(current)
                current = []
            else:
                current.append(child)
        if current or args:
            args.append(current)
        return args

    def number(self, children: list[Any]) -> Item:
        return ("n", number_value(children[0]), _decor(children[1] if len(children) > 1 else None))

    def name(self, children: list[Any]) -> Item:
        return ("w", str(children[0]), _decor(children[1] if len(children) > 1 else None))

    def alternatives(self, children: list[Any]) -> Item:
        return ("w", str(children[0]), None)

    def string(self, children: list[Any]) -> Item:
        return ("s", str(children[0]), None)

    def ellipsis(self, _children: list[Any]) -> Item:
        return ("...", None, None)

    def comment(self, children: list[Any]) -> Item:
        return ("c", str(children[0])[2:-2].strip(), None)

    def op(self, children: list[Any]) -> Item:
        return ("o", str(children[0]) if children else "?", None)

    def paren(self, children: list[Any]) -> Item:
        return ("(", children[0], None)

    def bracket(self, children: list[Any]) -> Item:
        return ("[", children[0], None)

    def brace(self, children: list[Any]) -> Item:
        return ("{", children[0], None)


@lru_cache(maxsize=1)
def _parser() -> Lark:
    from lark import Transformer

    transformer = type("_ToCallTransformer", (_ToCall, Transformer), {})()
    return load_parser("strace", parser="lalr", lexer="contextual", start=["call", "partial"],
                transformer=transformer, maybe_placeholders=False)


def parse_call(text: str) -> Call:
    """Parse ``name(args) = result ...``; raise :class:`SyntaxProblem` with the column."""
    check_nesting(text)
    from lark.exceptions import LarkError

    try:
        return _parser().parse(text, start="call")
    except LarkError as exc:
        raise _problem(exc) from None


#: the digits of a -T duration (the only part of repeated calls that always differs)
DURATION_DIGITS = re.compile(r"[0-9]+\.[0-9]+")
_PARSED_SIZE = 1024
_parsed: dict[str, Call] = {}


def parse_call_repeated(text: str) -> Call:
    """:func:`parse_call` for calls that come back word for word but for their duration.

    A QEMU capture repeats the same bracketed calls (QMP ``recvmsg`` passing an fd, ``ppoll``
    sets) thousands of times; the grammar takes about a millisecond for each. The call is
    parsed once without regard to its ``<duration>`` and reused with the new duration (its
    argument lists are shared: the readers never mutate them). Only a first parse whose
    duration is the trailing ``<...>`` is kept, so a reused call is the grammar's reading.
    """
    # the text ends in blanks + "<digits.digits>" (found without a regex search, which
    # would rescan a run of blanks from every start)
    opening = text.rfind("<")
    digits = text[opening + 1:-1]
    if not (text.endswith(">") and opening > 0 and text[opening - 1] in " \t"
            and DURATION_DIGITS.fullmatch(digits)):
        return parse_call(text)
    key = text[:opening].rstrip(" \t")
    found = _parsed.get(key)
    if found is None:
        call = parse_call(text)
        if call.duration == duration_value(digits) and not call.unavailable:
            if len(_parsed) >= _PARSED_SIZE:
                _parsed.clear()
            _parsed[key] = Call(call.name, call.args, call.ret, call.ret_decor, call.errno,
                                list(call.aux))
        return call
    return Call(found.name, found.args, found.ret, found.ret_decor, found.errno,
                list(found.aux), duration_value(digits))


def parse_partial(text: str) -> Call:
    """Parse the first half of an unfinished call (``ret`` is None)."""
    check_nesting(text)
    from lark.exceptions import LarkError

    try:
        return _parser().parse(text, start="partial")
    except LarkError as exc:
        raise _problem(exc) from None


#: strace's deepest real output (structs in arrays in structs) stays under ten levels;
#: everything that walks an argument recurses once per level, so the depth is capped.
MAX_NESTING = 64
_OPENERS = frozenset("([{")
_CLOSERS = frozenset(")]}")


def check_nesting(text: str) -> None:
    """Raise :class:`SyntaxProblem` when brackets outside strings nest beyond MAX_NESTING."""
    if text.count("(") + text.count("[") + text.count("{") <= MAX_NESTING:
        return
    depth = deepest = 0
    in_string = escaped = False
    for char in text:               # a plain scan: a string regex backtracks on cut strings
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in _OPENERS:
            depth += 1
            if depth > deepest:
                deepest = depth
        elif char in _CLOSERS:
            depth -= 1
    if deepest > MAX_NESTING:
        raise SyntaxProblem(f"brackets nested {deepest} levels deep (strace prints at most a "
                            f"few; more than {MAX_NESTING} is not a strace line)")


def _problem(exc: LarkError) -> SyntaxProblem:
    """A lark failure as a SyntaxProblem; a problem raised by a callback is kept as is."""
    cause = exc.__context__
    if isinstance(cause, SyntaxProblem):
        return cause
    orig = getattr(exc, "orig_exc", None)
    if isinstance(orig, SyntaxProblem):
        return orig
    return SyntaxProblem(_describe(exc))


def _describe(exc: LarkError) -> str:
    column = getattr(exc, "column", None)
    token = getattr(exc, "token", None)
    if token is not None and column is not None:
        shown = str(token)[:20] or "end of line"
        return f"unexpected {shown!r} at column {column}"
    if column is not None:
        return f"unexpected character at column {column}"
    return "malformed call"
