"""A regex fast path for the common canonical lines: the same :class:`Statement` as lark.

Decoded captures are hundreds of thousands of lines of a few shapes (``fd N read ...``,
``DEV SET STATE ...``), and the LALR parse of each cost more than everything else the
reader does. :func:`fast_statement` reads a line made of plain words separated by blanks
(no quoted string, no escape, nothing but ASCII) and of the statement kinds below; for
anything else, or anything doubtful, it returns None and grammar/canonical.lark decides
(including every error message). tests/test_canonical_fastline.py holds the two against
each other with hypothesis.
"""

from __future__ import annotations

import re

from vfio_migcheck.traces.canonical.syntax import LineError, Result, Statement, Word, number
from vfio_migcheck.traces.events import UNKNOWN

_CHUNK = re.compile(r"[^ \t]+")
# ASCII whitespace other than the blanks the grammar ignores (str.isspace, re's \s)
_ODD_SPACE = re.compile(r"[\n\x0b\x0c\r\x1c-\x1f]")
_TIMESTAMP = re.compile(r"@(-?[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?)")
_DURATION = re.compile(r"<([0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?)>")
_INT = r"-?(?:0[xX][0-9a-fA-F]+|[0-9]+)"
_THREAD = re.compile(rf"\[({_INT})(?:/({_INT}|-))?\]")
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:/\-]*")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INT_ONLY = re.compile(_INT)
_ARG = re.compile(r"-?[A-Za-z0-9_][A-Za-z0-9_|+.:\-/]*")
_FIELD = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=([^\s#\"]+)")
_RESULT_VALUE = re.compile(rf"{_INT}|\?")
_ERRNO = re.compile(r"[A-Z][A-Z0-9_]*|\?|-")
_OPS = frozenset({"GET", "SET", "PROBE", "?"})
_KEYWORDS = frozenset({"device", "fd", "qemu", "process"})
# words that are keywords of another statement where they stand
_NOT_A_DEVICE_VERB = frozenset({"RESET", "access", "close"})


def _number(text: str) -> int:
    """:func:`syntax.number` for the common short decimals (``int`` reads leading zeros as
    decimal too); anything longer or in hex goes through it, with its length check."""
    digits = text[1:] if text[:1] == "-" else text
    if 0 < len(digits) < 19 and digits.isdigit():
        return int(text)
    return number(text)


class _Bail(Exception):
    """This line is not one the fast path reads: lark decides."""


def fast_statement(text: str) -> Statement | None:
    """The statement lark would build for ``text``, or None to let lark parse it."""
    if '"' in text or "\\" in text or not text.isascii():
        return None
    cut = text.find("#")
    body = text if cut < 0 else text[:cut]
    if _ODD_SPACE.search(body):
        return None
    chunks = [(m.group(), m.start() + 1) for m in _CHUNK.finditer(body)]
    try:
        return _statement(chunks)
    except (_Bail, LineError, ValueError, OverflowError):
        return None


def _statement(chunks: list[tuple[str, int]]) -> Statement:
    at = 0
    ts = duration = None
    pid = tid = None
    if chunks and chunks[0][0].startswith("@"):
        m = _full(_TIMESTAMP, chunks[0][0])
        ts = _finite(m.group(1))
        at = 1
    if at < len(chunks) and chunks[at][0].startswith("["):
        m = _full(_THREAD, chunks[at][0])
        if m.group(2) is None:
            tid = _number(m.group(1))
        else:
            pid = _number(m.group(1))
            tid = None if m.group(2) == "-" else _number(m.group(2))
        at += 1
    end = len(chunks)
    if end > at and chunks[-1][0].startswith("<"):
        duration = _finite(_full(_DURATION, chunks[-1][0]).group(1))
        end -= 1
    parts = chunks[at:end]
    if not parts:
        raise _Bail
    first = parts[0][0]
    if first == "fd":
        stmt = _fd_call(parts)
    elif first == "device":
        stmt = _simple("declare", parts, _NAME)
    elif first == "qemu":
        stmt = _simple("qemu_event", parts, _NAME, _WORD)
    elif first == "process":
        stmt = _simple("process_event", parts, _WORD)
    else:
        stmt = _device_call(parts)
    stmt.ts, stmt.duration, stmt.pid, stmt.tid = ts, duration, pid, tid
    return stmt


def _full(pattern: re.Pattern[str], text: str) -> re.Match[str]:
    m = pattern.fullmatch(text)
    if m is None:
        raise _Bail
    return m


def _finite(text: str) -> float:
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise _Bail  # lark reports it
    return value


def _word(chunk: tuple[str, int], pattern: re.Pattern[str]) -> Word:
    _full(pattern, chunk[0])
    return Word(chunk[0], chunk[1])


def _word_or_hidden(chunk: tuple[str, int], pattern: re.Pattern[str]) -> Word:
    """A word of ``pattern``, or ``?`` (a value the capture could not see)."""
    return Word(chunk[0], chunk[1]) if chunk[0] == "?" else _word(chunk, pattern)


def _device_call(parts: list[tuple[str, int]]) -> Statement:
    # NAME OP FEATURE [ARG] key=value... = RESULT [ERRNO] key=value...
    if len(parts) < 3 or parts[0][0] in _KEYWORDS or parts[1][0] not in _OPS:
        raise _Bail
    words = [_word(parts[0], _NAME), Word(parts[1][0], parts[1][1])]
    words.append(_word_or_hidden(parts[2], _WORD))
    at = 3
    if at < len(parts) and "=" not in parts[at][0]:
        words.append(_word_or_hidden(parts[at], _ARG))
        at += 1
    return _rest("device_call", words, parts, at, True)


def _fd_call(parts: list[tuple[str, int]]) -> Statement:
    # fd N VERB [ARG|?]... key=value... = RESULT [ERRNO] key=value...
    if len(parts) < 3 or parts[2][0] == "appeared":
        raise _Bail
    words = [_word(parts[1], _INT_ONLY), _word(parts[2], _WORD)]
    at = 3
    while at < len(parts) and "=" not in parts[at][0]:
        words.append(_word_or_hidden(parts[at], _ARG))
        at += 1
    return _rest("fd_call", words, parts, at, True)


def _simple(kind: str, parts: list[tuple[str, int]], *shapes: re.Pattern[str]) -> Statement:
    # KEYWORD WORD... key=value... (no result)
    if len(parts) < 1 + len(shapes):
        raise _Bail
    words = [_word(part, shape) for part, shape in zip(parts[1:], shapes)]
    if words[0].text in _KEYWORDS or words[0].text in _NOT_A_DEVICE_VERB:
        raise _Bail
    return _rest(kind, words, parts, 1 + len(shapes), False)


def _rest(kind: str, words: list[Word], parts: list[tuple[str, int]], at: int,
          needs_result: bool) -> Statement:
    fields: dict[str, Word] = {}
    columns: dict[str, int] = {}
    result = None
    while at < len(parts):
        text, column = parts[at]
        if text == "=" and needs_result and result is None:
            if at + 1 >= len(parts):
                raise _Bail
            raw = _full(_RESULT_VALUE, parts[at + 1][0]).group()
            ret = UNKNOWN if raw == "?" else _number(raw)
            at += 2
            errno = UNKNOWN if ret is UNKNOWN else None
            if at < len(parts) and "=" not in parts[at][0]:
                token = _full(_ERRNO, parts[at][0]).group()
                errno = UNKNOWN if token == "?" else None if token == "-" else token
                at += 1
            result = Result(ret, errno, column)
            continue
        m = _full(_FIELD, text)
        key = m.group(1)
        if key in fields:
            raise _Bail  # lark reports it
        fields[key] = Word(m.group(2), column + len(key) + 1)
        columns[key] = column
        at += 1
    if needs_result and result is None:
        raise _Bail
    return Statement(kind, words, fields, columns, result)
