"""Whether the first lines of a file are strace output, from their text alone.

The strace reader's ``sniff`` (re-exported there) is a pattern match per line, cheap enough
to be its own bound: format detection (traces/reading.py) asks each format's :func:`bound`
before it imports the format's reader, and only the reader that can win is imported.
"""

from __future__ import annotations

import re

_SNIFF_CALL = re.compile(
    # one whitespace run between the parts: adjacent \s+ and \s* backtrack cubically
    r"^(?:\[pid\s+\d+(?:<[^>]*>)?\]|\d{1,7}(?:<[^>]*>)?(?=\s))?\s*"
    r"(?:(?:\d\d:\d\d:\d\d(?:\.\d+)?|\d+\.\d+|\d{8,})\s+)?"
    r"(?:[A-Za-z_][A-Za-z0-9_]*\(.*(?:\)\s+=\s+(?:-?\d|0x|\?)|<unfinished(?: #\d+)? \.\.\.>$)"
    r"|<\.\.\. [A-Za-z_][A-Za-z0-9_]* resumed|\+\+\+ (?:exited|killed)|--- SIG)"
)


def sniff(lines: list[str]) -> float:
    """Confidence that these first lines are strace output (calls, resumes, exits)."""
    meaningful = [line for line in lines if line.strip()]
    if not meaningful:
        return 0.0
    hits = sum(1 for line in meaningful if _SNIFF_CALL.match(line))
    if hits == 0:
        return 0.0
    share = hits / len(meaningful)
    if share >= 0.5:
        return 0.9
    return 0.3 + 0.6 * share


#: the most ``sniff`` can answer is ``sniff`` itself (the reading.py contract)
bound = sniff
