"""How well a file can read as a vfio-mig.bt capture, judged from its first lines' text alone.

Format detection (traces/reading.py) asks each format's :func:`bound` before it imports
the format's reader; ``bound(lines) >= reader.sniff(lines)`` for every input
(tests/test_sniff_bounds.py). The header's first word lives here so that this module
needs nothing from the parser.
"""

from __future__ import annotations

from vfio_migcheck.traces import portable_re

#: the first word of the program's header line (``vfio-mig-bt 1 attached ...``)
MAGIC = "vfio-mig-bt"

# A record is ``TS PID TID DUR CALL key=value...`` (grammar/bpftrace.lark): four integers,
# blanks optional between them as for the grammar's lexer, then a lower-case call name.
# Possessive, as the lexer takes the longest integer: linear in the line.
_RECORD_START = portable_re.compile(r"[ \t]*+(?:-?[0-9]++[ \t]*+){4}[a-z_]")


def may_be_record(text: str) -> bool:
    """False when ``text`` surely does not parse as a call record."""
    return _RECORD_START.match(text) is not None


def bound(lines: list[str]) -> float:
    """At least what ``bpftrace.reader.sniff(lines)`` answers: certain on the header, else
    the share of lines that may be records."""
    meaningful = [t for t in lines if t.strip()]
    if any(t.startswith(MAGIC + " ") for t in meaningful[:5]):
        return 1.0
    if not meaningful:
        return 0.0
    return 0.9 * sum(1 for t in meaningful if may_be_record(t)) / len(meaningful)
