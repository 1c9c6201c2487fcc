"""Findings about the trace itself rather than either party."""

from __future__ import annotations

from vfio_migcheck.checker.rules.base import Rule

UNREADABLE_LINE = Rule(
    id="T001", name="UnreadableLine", severity="note", party="unknown", kind="behaviour",
    summary="a trace line could not be read; its call is not checked",
    cite="-",
    doc="Every input line is accounted for; a line no reader understood may hide a call "
        "that matters, so the verdict may rest on incomplete evidence.",
    fix="Check the capture options (docs/capture-guide.md) or report the line shape.",
    bad="device d0 flags=0x7\nthis is not a trace line\n",
    good="device d0 flags=0x7\n",
)

SET_TRUNCATED = Rule(
    id="T002", name="TooManyReadings", severity="note", party="unknown", kind="behaviour",
    summary="too many readings of hidden calls: the configuration set was cut",
    cite="-",
    doc="Hidden payloads multiply the readings; past a bound the engine keeps a subset, "
        "so later mismatches are reported as notes only.",
    fix="Capture with payload decoding or QEMU trace events so fewer readings remain.",
    bad="# not expressible as a short trace: many hidden calls in a row (strace without\n"
        "# decoding) multiply the readings past the engine's bound\n",
    good="# the same capture with decoded payloads, or QEMU trace events alongside\n",
)

RULES = (UNREADABLE_LINE, SET_TRUNCATED)
