"""Quiet QEMU records: lines whose event carries no device state, matched by one pattern.

Most of a QEMU log is data and size records (``vfio_save_block``, ``vfio_state_pending``,
...): a state-free event per line. When the checker reads (``COLLAPSE_RUNS``), a run of
them comes as one :class:`~vfio_migcheck.traces.events.QuietRun` (the engine counts them,
or feeds them one by one when one of them matters to it). A line is *quiet* only when the
reader's usual way is sure to make a sound event of it, so that the run's events are the
ones the lines would have given:

- a ``vfio_*`` record right behind a ``TID@SEC.USEC:`` or ISO prefix (a date that always
  exists: days up to 28), whose arguments fit, word for word, a number-only template of
  one of the event's own shapes (qemu/fastrecord.py) — :func:`quiet_line`;
- a device-less ``vm_state_notify`` / ``migrate_set_state`` record behind such a prefix,
  alone on its line, whose text was read soundly before (the reader's memory of records)
  — :func:`quiet_plain_line`.

tests/test_qemu_quiet.py holds every quiet line to an event made the usual way.
"""

from __future__ import annotations

import re

from vfio_migcheck.traces.qemu.fastrecord import _SHAPES, _V, template_pattern
from vfio_migcheck.traces.qemu.formats import DEVICE_STATE_EVENTS, EVENTS
from vfio_migcheck.traces.qemu.lines import iso_to_epoch

_TID_PREFIX = r"[0-9]{1,18}@[0-9]{1,18}\.[0-9]{1,18}:"
# an ISO time stamp whose date and time exist in every year and month (1 to 28)
_ISO_PREFIX = (r"(?!0000)[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
               r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,18})?Z ")


def _shape_ok(shape: str) -> bool:
    """A shape read by the compiled templates alone, with numbers only."""
    return shape in _SHAPES and all(_V not in template for template in _SHAPES[shape])


#: (raw event name, shape) pairs of quiet records: events without a device state
QUIET_PAIRS = frozenset(
    (raw, shape) for raw, fmt in EVENTS.items()
    if fmt.has_device and fmt.name not in DEVICE_STATE_EVENTS
    for shape in fmt.shapes if _shape_ok(shape))
_QUIET_SHAPES = sorted({shape for _raw, shape in QUIET_PAIRS})
_ALTERNATIVES = "|".join(
    f"(?P<{shape}>{'|'.join(template_pattern(t) for t in _SHAPES[shape])})"
    for shape in _QUIET_SHAPES)
#: the prefix of a quiet line (either kind) with its parts: 1 the ISO time stamp (without
#: the blank after its "Z"), or 2, 3, 4 the thread id, seconds and fraction of a TID prefix.
#: At most one prefix fits a line: an ISO stamp has "-" where a TID prefix has a digit or
#: "@", and each ends at its own mark (":" or "Z "), so what follows it is the same text
#: whichever way the line is matched. (ISO first: it fails fast on a TID prefix, the TID
#: pattern only after backtracking on an ISO one.)
PREFIX_PARTS = re.compile(
    rf"({_ISO_PREFIX[:-1]}) |([0-9]{{1,18}})@([0-9]{{1,18}})\.([0-9]{{1,18}}):")
#: a quiet record's line: group 1 the raw event name, group 2 the device text; the name
#: of the last group matched is the shape its arguments fit (ISO prefix first, as above)
QUIET_LINE = re.compile(
    rf"(?:{_ISO_PREFIX}|{_TID_PREFIX})(vfio_[a-z0-9_]+) {{1,2}}\(([^()\n]*)\)"
    rf"(?:{_ALTERNATIVES})")
#: text that must not be in a quiet record's device (the line would hold another record)
FOREIGN = ("vfio_", "vm_state_notify", "migrate_set_state")
#: the device-less records kept for correlation, behind the same prefixes
PLAIN_LINE = re.compile(
    rf"(?:{_TID_PREFIX}|{_ISO_PREFIX})"
    r"(vm_state_notify(?= {1,2}running )|migrate_set_state(?= {1,2}new state ))")


def quiet_line(text: str) -> tuple[str, str] | None:
    """(raw event name, device text) of a quiet record's line, else None. (The reader
    makes these tests inline, and the one on the device once per run and device.)"""
    m = QUIET_LINE.fullmatch(text)
    if m is None or (m.group(1), m.lastgroup) not in QUIET_PAIRS:
        return None
    device = m.group(2)
    if any(word in device for word in FOREIGN):
        return None
    return m.group(1), device


def quiet_plain_line(text: str) -> re.Match[str] | None:
    """The match of a device-less record's line whose text holds no other record, else
    None (the caller still checks the record reads)."""
    m = PLAIN_LINE.match(text)
    if m is None or "vfio_" in text:
        return None
    name = m.group(1)
    other = "migrate_set_state" if name == "vm_state_notify" else "vm_state_notify"
    if other in text or text.find(name, m.end()) >= 0:
        return None
    return m


_PREFIX_TS = re.compile(r"([0-9]{1,18}@)?([0-9.]+):|([0-9T:.-]+Z) ")


def prefix_ts(text: str) -> float:
    """The time stamp of a quiet line's prefix (either kind of line), as the reader reads
    it: seconds of ``TID@SEC.USEC:``, or the ISO time as seconds since the epoch."""
    m = _PREFIX_TS.match(text)
    assert m is not None, text
    return float(m.group(2)) if m.group(3) is None else iso_to_epoch(m.group(3))
