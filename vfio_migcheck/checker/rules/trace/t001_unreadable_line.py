"""T001 UnreadableLine."""

from __future__ import annotations

from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.traces.events import Unreadable

RULE = Rule(
    id="T001", name="UnreadableLine", severity="note", party="unknown", kind="behaviour",
    summary="a trace line could not be read; its call is not checked",
    cite="-",
    doc="Every input line is accounted for; a line no reader understood may hide a call "
        "that matters, so the verdict may rest on incomplete evidence.",
    fix="Check the capture options (vfio-migcheck docs capture-guide) or report the line "
        "shape.",
    bad="device d0 flags=0x7\nthis is not a trace line\n",
    good="device d0 flags=0x7\n",
)


def check(event: Unreadable) -> str:
    """Every unreadable line is reported: a line the checker could not use is a gap."""
    return f"unreadable line: {event.reason}"
