"""T002 TooManyReadings."""

from __future__ import annotations

from vfio_migcheck.checker.rules.base import Rule

RULE = Rule(
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


def check(readings: int, limit: int) -> str | None:
    """More readings of one device than the engine keeps: later mismatches become notes."""
    if readings <= limit:
        return None
    return f"more than {limit} readings; later mismatches are notes"
