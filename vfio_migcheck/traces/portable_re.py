"""Patterns with possessive quantifiers and atomic groups on every supported Python.

The readers' hot patterns use ``X*+``, ``X{1,20}+`` and ``(?>X)``: the regex engine may
then never give back what such a part took, which keeps a failing line linear (no
backtracking) and makes some patterns mean what a lexer means ("the longest integer").
CPython's ``re`` knows that syntax from 3.11 on; 3.10, which the project supports, rejects
it ("multiple repeat"). :func:`compile` compiles a pattern as written where ``re`` reads
it, and otherwise the same pattern with each atomic part spelled the classic way: a
look-ahead that captures what the part would take, then a back-reference to it
(``(?=(?P<_aN>X))(?P=_aN)``), which the engine cannot backtrack into either. The two
spellings match the same text with the same named groups (tests/test_portable_re.py); the
classic one adds groups named ``_a1``, ``_a2``, ... so patterns compiled here are read by
group *name* or span, never by group number. A possessive quantifier is accepted only
after a character, an escape or a set: after a group, CPython's own possessive repeat
gives up sooner than the atomic group its documentation equates it with, so such a
pattern is refused and its author writes the atomic group meant.
"""

from __future__ import annotations

import re
import sys

#: ``re`` reads possessive quantifiers and atomic groups itself (Python 3.11 and later)
NATIVE = sys.version_info >= (3, 11)

_QUANTIFIER = re.compile(r"[*+?]|\{(?!\})[0-9]*(?:,[0-9]*)?\}")
_ESCAPE_LENGTH = {"x": 2, "u": 4, "U": 8}


def compile(source: str, flags: int = 0) -> re.Pattern[str]:
    """``re.compile(source, flags)``, possessive and atomic parts spelled so that this
    Python's ``re`` reads them (:func:`classic`)."""
    return re.compile(source if NATIVE else classic(source, flags), flags)


def classic(source: str, flags: int = 0) -> str:
    """``source`` with every possessive quantifier and atomic group written as a
    capturing look-ahead and a back-reference: the same matches for any ``re``."""
    if flags & re.VERBOSE:
        raise ValueError("portable_re: verbose patterns are not supported")
    return _Rewriter(source).rewrite()


class _Rewriter:
    """A recursive reading of a pattern's syntax, just fine enough to find where each
    atom (a literal, an escape, a set, a group) begins and ends."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.pos = 0
        self.groups = 0

    def rewrite(self) -> str:
        text = self._sequence()
        if self.pos != len(self.source):
            raise ValueError(f"portable_re: unbalanced ')' at {self.pos} in {self.source!r}")
        return text

    def _atomic(self, body: str) -> str:
        self.groups += 1
        name = f"_a{self.groups}"
        return f"(?:(?=(?P<{name}>{body}))(?P={name}))"

    def _sequence(self) -> str:
        """Items up to a closing ``)`` (not consumed) or the end."""
        items: list[str] = []
        last_is_atom = False
        last_is_single = False      # a character, an escape or a set
        source = self.source
        while self.pos < len(source):
            char = source[self.pos]
            if char == ")":
                break
            if last_is_atom:
                quantifier = _QUANTIFIER.match(source, self.pos)
                if quantifier is not None:
                    self.pos = quantifier.end()
                    suffix = quantifier.group()
                    if source.startswith("?", self.pos):      # lazy
                        self.pos += 1
                        suffix += "?"
                        items[-1] += suffix
                    elif source.startswith("+", self.pos):    # possessive
                        if not last_is_single:
                            # (CPython's own possessive repeat of a group backtracks less
                            # than the atomic group of its documentation: no one spelling
                            # matches both, so a pattern says which it means)
                            raise ValueError(f"portable_re: a possessive quantifier after a "
                                             f"group at {self.pos} in {source!r}: write "
                                             f"the atomic group (?>...) meant")
                        self.pos += 1
                        items[-1] = self._atomic(items[-1] + suffix)
                    else:
                        items[-1] += suffix
                    last_is_atom = last_is_single = False
                    continue
            if char == "|":
                items.append(char)
                self.pos += 1
                last_is_atom = last_is_single = False
            elif char == "(":
                item, last_is_atom = self._group()
                items.append(item)
                last_is_single = False
            else:
                items.append(self._single())
                last_is_atom = last_is_single = True
        return "".join(items)

    def _single(self) -> str:
        """A literal character, an escape or a set."""
        source, start = self.source, self.pos
        char = source[start]
        if char == "\\":
            self.pos = _escape_end(source, start)
        elif char == "[":
            self.pos = _set_end(source, start)
        else:
            self.pos = start + 1
        return source[start:self.pos]

    def _group(self) -> tuple[str, bool]:
        """A parenthesised item and whether a quantifier may follow it."""
        source, start = self.source, self.pos
        if source.startswith("(?#", start):
            end = source.index(")", start) + 1
            self.pos = end
            return source[start:end], False
        if source.startswith("(?P=", start):
            end = source.index(")", start) + 1
            self.pos = end
            return source[start:end], True
        if source.startswith("(?>", start):
            self.pos = start + 3
            body = self._sequence()
            self._close(start)
            return self._atomic(body), True
        head = _group_head(source, start)
        self.pos = start + len(head)
        if head.endswith(")") and not head.startswith("(?("):   # inline flags alone: "(?i)"
            return head, False
        body = self._sequence()
        self._close(start)
        return f"{head}{body})", True

    def _close(self, start: int) -> None:
        if not self.source.startswith(")", self.pos):
            raise ValueError(f"portable_re: unclosed group at {start} in {self.source!r}")
        self.pos += 1


_GROUP_HEAD = re.compile(
    r"\((?!\?)|\(\?(?:P<[^>]*>|:|=|!|<=|<!|\([^)]*\)|[aiLmsux]*(?:-[imsx]+)?[:)])")


def _group_head(source: str, start: int) -> str:
    head = _GROUP_HEAD.match(source, start)
    if head is None:
        raise ValueError(f"portable_re: unknown group syntax at {start} in {source!r}")
    return head.group()


def _escape_end(source: str, start: int) -> int:
    """Where the escape at ``start`` ends (``\\x41``, ``\\N{...}``, ``\\12`` are one atom)."""
    kind = source[start + 1:start + 2]
    if kind in _ESCAPE_LENGTH:
        return start + 2 + _ESCAPE_LENGTH[kind]
    if kind == "N" and source.startswith("{", start + 2):
        return source.index("}", start) + 1
    if kind.isdigit():
        end = start + 2
        while end < len(source) and end < start + 4 and source[end].isdigit():
            end += 1
        return end
    return start + 2


def _set_end(source: str, start: int) -> int:
    """Where the set ``[...]`` at ``start`` ends (a ``]`` first in it is a member)."""
    pos = start + 1
    if source.startswith("^", pos):
        pos += 1
    if source.startswith("]", pos):
        pos += 1
    while pos < len(source):
        char = source[pos]
        if char == "\\":
            pos += 2
        elif char == "]":
            return pos + 1
        else:
            pos += 1
    raise ValueError(f"portable_re: unterminated set at {start} in {source!r}")
