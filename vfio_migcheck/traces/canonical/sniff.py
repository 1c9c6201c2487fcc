"""How well a file can read as a canonical trace, judged from its first lines' text alone.

Format detection (traces/reading.py) asks each format's :func:`bound` before it imports
the format's reader: a format whose bound cannot beat the best answer so far is skipped, so
checking a strace capture neither imports this reader nor parses 50 strace lines with the
canonical grammar. ``bound(lines) >= reader.sniff(lines)`` for every input
(tests/test_sniff_bounds.py), which keeps every detection what it was.
"""

from __future__ import annotations

from vfio_migcheck.traces import portable_re

# The start every line the grammar (grammar/canonical.lark) accepts has: blanks, then
# optionally @TIMESTAMP, then optionally [TID] or [PID/TID], then a statement keyword, or a
# device name (a NAME or a quoted STRING) and what may follow it (an op, RESET, access or
# close). Each piece takes what the grammar's lexer takes there and is atomic or
# possessive, so the match is linear in the line (a line may be a megabyte long). The
# quoted string is unrolled (a run, then escapes each followed by a run): the run cannot
# take a quote or a backslash, so it ends where the lexer's string does, and giving back
# never helps; an atomic group around a repeated alternation, the other linear spelling
# on Python 3.11, is quadratic in portable_re's classic spelling on 3.10.
_STATEMENT_START = portable_re.compile(
    r"[ \t]*+"
    r"(?:(?>@-?[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?)[ \t]*+)?"
    r"(?:\[[^\]]*+\][ \t]*+)?"
    r"(?:device|fd|qemu|process"
    r"|(?:[A-Za-z0-9_][A-Za-z0-9_.:/\-]*+|\"[^\"\\\n]*+(?:\\.[^\"\\\n]*+)*\")[ \t]*+"
    r"(?:GET|SET|PROBE|\?|RESET|access|close))"
)


def may_be_statement(text: str) -> bool:
    """False when the canonical grammar surely rejects ``text`` (True proves nothing)."""
    return _STATEMENT_START.match(text) is not None


def bound(lines: list[str]) -> float:
    """At least what ``canonical.reader.sniff(lines)`` answers: certain on a first line that
    may be the header (a comment), else the share of statement lines that may parse."""
    if not lines:
        return 0.0
    if lines[0].strip().startswith("#"):
        return 1.0
    statements = [t for t in lines if t.strip() and not t.strip().startswith("#")]
    if not statements:
        return 0.05
    return 0.95 * sum(1 for t in statements if may_be_statement(t)) / len(statements)
