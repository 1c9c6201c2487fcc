"""How well a file can read as a QEMU trace log, judged from its first lines' text alone.

Format detection (traces/reading.py) asks each format's :func:`bound` before it imports
the format's reader; ``bound(lines) >= reader.sniff(lines)`` for every input
(tests/test_sniff_bounds.py). A strace capture, whose lines are system calls, is turned
away here without importing the QEMU reader.
"""

from __future__ import annotations

import re

#: a strace line (the QEMU reader's sniff counts them against the vfio records it finds)
SYSCALL_LINE = re.compile(
    r"^\s*(?:\[pid\s+\d+\]\s*|\d+\s+)?(?:[\d:.]+\s+)?[a-z_][a-z0-9_]*\(.*\)\s+=\s")


def is_syscall_line(text: str) -> bool:
    return SYSCALL_LINE.match(text) is not None or "<unfinished ...>" in text


def bound(lines: list[str]) -> float:
    """At least what ``qemu.reader.sniff(lines)`` answers. Only a line that is not a system
    call and holds ``vfio_`` can hold a vfio record; when system calls outnumber those, the
    sniff answers at most 0.1 (0 without any), and without any at most 0.4."""
    syscalls = sum(1 for t in lines if is_syscall_line(t))
    records = sum(1 for t in lines if "vfio_" in t and not is_syscall_line(t))
    if syscalls > records:
        return 0.1 if records else 0.0
    return 0.95 if records else 0.4
