"""Finding QEMU trace records inside one line of text: prefixes, wrapper text, glued records.

A copied QEMU log line may carry one of four prefixes (``TID@SEC.USEC:``, an ISO-8601
UTC timestamp, the ``[TIME ][[GUEST] ]PROG(TID:THREAD): `` message context, or none), may
start with someone else's text (libvirt's error message), and may hold several records
glued together. This module cuts a line into :class:`Segment` objects, one per record;
parsing a record's arguments is the grammar's job (traces/qemu.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from vfio_migcheck.traces.qemu.formats import EVENTS

_ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z"

# Prefixes, each matched against the text that ends right before an event name.
_TID_PREFIX = re.compile(r"(?P<tid>\d+)@(?P<sec>\d+)\.(?P<usec>\d+):$")
# The message context; with "-msg thread-info=off" the program name stands alone, and is
# then only believed when it names QEMU (else "monitor: " in libvirt's text would match).
_MSG_PREFIX = re.compile(
    rf"(?:(?P<iso>{_ISO}) )?(?:\[(?P<guest>[^\]\n]*)\] )?"
    r"(?:(?P<prog>[^\s()\[\]:]+)\((?P<tid>\d+)(?::(?P<thread>[^()\n]*))?\)"
    r"|(?P<bare>qemu[^\s()\[\]:]*)): $"
)
_ISO_PREFIX = re.compile(rf"(?P<iso>{_ISO}) $")

# Known events may sit anywhere in a line (after wrapper text, glued to a record). Each is
# found with str.find on its fixed start, then confirmed by a regex anchored there: much
# faster than one alternation regex tried at every position.
_KNOWN_EVENT_STARTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("vfio_", re.compile(r"vfio_[a-z0-9_]+(?= {1,2}\()")),
    ("vm_state_notify", re.compile(r"vm_state_notify(?= {1,2}running )")),
    ("migrate_set_state", re.compile(r"migrate_set_state(?= {1,2}new state )")),
)
# Any other vfio event only counts at the start of a line, right after a prefix.
_VFIO_NAME = re.compile(r"vfio_[a-z0-9_]*")


# A line holding only (part of) a trace prefix, maybe with the start of "vfio_": cut off.
_CUT_PREFIX = re.compile(
    r"^\s*(?:\d+@\d*(?:\.\d*)?:?|\d{4}-\d\d-\d\dT[\d:.]*Z?)(?:v(?:f(?:i(?:o_?)?)?)?)?\s*$")


def is_cut_prefix(line: str) -> bool:
    """True for a line that ends inside a trace prefix (``4030@1767225600.20``)."""
    return bool(_CUT_PREFIX.match(line))


@dataclass(frozen=True)
class Prefix:
    """What a record's line prefix says: style, thread id, timestamp, thread/program name."""

    style: str                       # "tid" | "iso" | "message" | "none"
    tid: int | None = None
    ts: float | None = None
    thread: str | None = None
    program: str | None = None
    guest: str | None = None


NO_PREFIX = Prefix("none")


@dataclass(frozen=True)
class Segment:
    """One trace record found in a line."""

    raw_name: str
    body: str                        # from the event name to the end of the record
    prefix: Prefix
    wrapper: str = ""                # foreign text before the first record's prefix
    glued: bool = False              # starts mid-line, right after another record
    known: bool = True               # raw_name is in the format table


def iso_to_epoch(text: str) -> float:
    """``2026-01-01T00:00:00.123456Z`` -> seconds since the epoch (UTC)."""
    whole, _, fraction = text[:-1].partition(".")
    seconds = _whole_seconds(whole)
    return seconds + float("0." + fraction) if fraction else float(seconds)


@lru_cache(maxsize=256)
def _whole_seconds(text: str) -> int:
    return int(datetime.fromisoformat(text + "+00:00").timestamp())


def _prefix_from(match: re.Match[str], style: str) -> Prefix:
    groups = match.groupdict()
    if style == "tid":
        return Prefix("tid", tid=int(groups["tid"]),
                      ts=float(f"{groups['sec']}.{groups['usec']}"))
    iso = groups.get("iso")
    ts = iso_to_epoch(iso) if iso else None
    if style == "iso":
        return Prefix("iso", ts=ts)
    tid = int(groups["tid"]) if groups.get("tid") else None
    return Prefix("message", tid=tid, ts=ts, thread=groups.get("thread"),
                  program=groups.get("prog") or groups.get("bare"), guest=groups.get("guest"))


def find_prefix(before: str) -> tuple[int, Prefix]:
    """The prefix that ends ``before`` (text right before an event name) and where it starts.

    Returns ``(len(before), NO_PREFIX)`` when the name is not behind a known prefix.
    """
    if before.endswith(":"):
        match = _TID_PREFIX.search(before)
        if match:
            return match.start(), _prefix_from(match, "tid")
    elif before.endswith(": "):
        match = _MSG_PREFIX.search(before)
        if match:
            return match.start(), _prefix_from(match, "message")
    elif before.endswith("Z "):
        match = _ISO_PREFIX.search(before)
        if match:
            return match.start(), _prefix_from(match, "iso")
    return len(before), NO_PREFIX


def _known_events(line: str) -> list[re.Match[str]]:
    hits = []
    for start, pattern in _KNOWN_EVENT_STARTS:
        at = line.find(start)
        while at >= 0:
            match = pattern.match(line, at)
            if match is not None and match.group(0) in EVENTS:
                hits.append(match)
            at = line.find(start, at + 1)
    if len(hits) > 1:
        hits.sort(key=lambda m: m.start())
    return hits


def find_segments(line: str) -> list[Segment]:
    """Every trace record in ``line``; [] when the line holds none."""
    hits = _known_events(line)
    if not hits:
        generic = _generic_segment(line)
        return [generic] if generic else []
    starts: list[tuple[int, Prefix]] = []
    floor = 0
    for hit in hits:
        at, prefix = find_prefix(line[floor:hit.start()])
        starts.append((floor + at, prefix))
        floor = hit.end()
    segments = []
    for i, hit in enumerate(hits):
        end = starts[i + 1][0] if i + 1 < len(hits) else len(line)
        prefix_start, prefix = starts[i]
        wrapper = line[:prefix_start].strip() if i == 0 else ""
        glued = i > 0                # one record per line: a second one was glued on
        segments.append(Segment(hit.group(0), line[hit.start():end].rstrip(),
                                prefix, wrapper, glued))
    return segments


def _generic_segment(line: str) -> Segment | None:
    """A vfio event outside the format table, accepted only at the start of the line."""
    at = line.find("vfio_")
    if at < 0:
        return None
    start, prefix = find_prefix(line[:at])
    if start != 0:
        return None                  # text before it: a message mentioning a function
    name = _VFIO_NAME.match(line, at).group(0)
    rest = line[at + len(name):]
    if rest and not rest.startswith(" "):
        return None                  # the name runs on into other text: not a record
    weak = prefix is NO_PREFIX or (prefix.style == "message" and prefix.tid is None)
    if weak and rest and not rest.startswith(("  ", " (")):
        return None                  # no trace-only prefix: only the " (%s)" shape, not prose
    return Segment(name, name + rest.rstrip(), prefix, known=False)


# --- QEMU error reports (qemu.md §1.1) ---------------------------------------------------

_DEV = r"(?P<device>(?:VFIO user )?\S+)"
_ERROR_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("set_state_failed", re.compile(
        _DEV + r": Failed setting device state to (?P<target>UNKNOWN STATE|[A-Z0-9_]+)"
        r"[.,](?P<rest>.*)$")),
    ("recover_failed", re.compile(
        _DEV + r": Failed setting device in recover state, err: (?P<err>.*?)\.?"
        r" Resetting device")),
    ("data_fd_out_of_sync", re.compile(_DEV + r": data_fd out of sync")),
    ("reset_failed", re.compile(_DEV + r": Failed resetting device, err: (?P<err>.*?)\s*$")),
    ("invalid_device_state", re.compile(
        r"(?:" + _DEV + r": )?Invalid device state (?P<value>-?\d+)")),
    ("buffer_alloc_failed", re.compile(
        r"(?:" + _DEV + r": )?Failed to allocate migration data buffer")),
)
#: Fixed text every recognised error report contains (a cheap pre-check).
ERROR_REPORT_HINTS = ("Failed setting device", "data_fd out of sync", "Failed resetting device",
                      "Invalid device state", "Failed to allocate migration data buffer")
_RECOVER = re.compile(r"Setting device in recover state (?P<recover>UNKNOWN STATE|[A-Z0-9_]+)")
_ERR_TEXT = re.compile(r"err: (?P<err>.*?)\.(?: |$)")
# QEMU-dev reports through error_setg_errno, which appends ": <strerror>".
_ERRNO_SUFFIX = re.compile(r"(?:recover state [A-Z0-9_]+|Resetting device): (?P<err>.+)$")


_REPORT_CONTEXT = re.compile(
    rf"^(?:(?P<iso>{_ISO}) )?(?:\[(?P<guest>[^\]\n]*)\] )?"
    r"(?:(?P<prog>[^\s()\[\]:]+)\((?P<tid>\d+)(?::(?P<thread>[^()\n]*))?\): )?"
)


@dataclass(frozen=True)
class ErrorReport:
    device: str
    fields: dict
    prefix: Prefix = NO_PREFIX


def report_prefix(text: str) -> Prefix:
    """The ``-msg timestamp=on`` / message-context prefix of an error-report line."""
    match = _REPORT_CONTEXT.match(text)
    if match is None or not match.group(0):
        return NO_PREFIX
    groups = match.groupdict()
    ts = iso_to_epoch(groups["iso"]) if groups["iso"] else None
    if groups["prog"]:
        return Prefix("message", tid=int(groups["tid"]), ts=ts, thread=groups["thread"],
                      program=groups["prog"], guest=groups["guest"])
    return Prefix("iso", ts=ts) if ts is not None else NO_PREFIX


def find_error_report(text: str) -> ErrorReport | None:
    """A QEMU vfio migration error message in ``text`` (any prefix or wrapper before it)."""
    if not any(hint in text for hint in ERROR_REPORT_HINTS):
        return None
    for kind, pattern in _ERROR_PATTERNS:
        match = pattern.search(text)
        if not match:
            continue
        groups = match.groupdict()
        fields: dict = {"error": kind, "message": text[match.start():].strip()}
        if kind == "set_state_failed":
            fields["target"] = groups["target"]
            rest = groups["rest"]
            recover = _RECOVER.search(rest)
            if recover:
                fields["recover_to"] = recover.group("recover")
            elif "Recover state is ERROR" in rest:
                fields["recover_to"] = "ERROR"
            err = _ERR_TEXT.search(rest) or _ERRNO_SUFFIX.search(rest)
            if err:
                fields["err"] = err.group("err").strip()
            fields["reset"] = int("Resetting device" in rest)
        elif kind in ("recover_failed", "reset_failed"):
            fields["err"] = groups["err"]
        elif kind == "invalid_device_state":
            fields["value"] = int(groups["value"])
        return ErrorReport(groups.get("device") or "", fields, report_prefix(text))
    return None


# --- the QMP VFIO_MIGRATION event (QEMU >= 9.1, migration-events=on) ---------------------

_JSON = json.JSONDecoder()
_QMP_OBJECT_START = re.compile(r'\{\s*"(?:timestamp|event)"')
#: QAPI VfioMigrationState -> the v2 state name it reports ("pre-copy-p2p-prepare" is a
#: notice sent before the PRE_COPY_P2P request, not a state the device is in).
QAPI_STATES = {
    "stop": "STOP", "running": "RUNNING", "stop-copy": "STOP_COPY", "resuming": "RESUMING",
    "running-p2p": "RUNNING_P2P", "pre-copy": "PRE_COPY", "pre-copy-p2p": "PRE_COPY_P2P",
}
QAPI_PREPARE = "pre-copy-p2p-prepare"


@dataclass(frozen=True)
class QmpEvent:
    device_id: str
    qom_path: str
    device_state: str
    ts: float | None


def find_qmp_event(text: str) -> QmpEvent | None | str:
    """A ``VFIO_MIGRATION`` QMP event object in ``text`` (libvirt logs it in its debug log).

    Returns None when there is none, or a reason string when one is there but broken.
    """
    if '"VFIO_MIGRATION"' not in text:
        return None
    for start in _QMP_OBJECT_START.finditer(text):
        try:
            obj, _ = _JSON.raw_decode(text, start.start())
        except ValueError:
            continue
        if isinstance(obj, dict) and obj.get("event") == "VFIO_MIGRATION":
            return _qmp_event(obj)
    return "VFIO_MIGRATION event text is not a complete JSON object (cut off?)"


def _qmp_event(obj: dict) -> QmpEvent | str:
    data = obj.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("device-state"), str):
        return "VFIO_MIGRATION event without data.device-state"
    stamp = obj.get("timestamp")
    ts = None
    if isinstance(stamp, dict) and isinstance(stamp.get("seconds"), int):
        micro = stamp.get("microseconds")
        ts = stamp["seconds"] + (micro / 1e6 if isinstance(micro, int) else 0.0)
    return QmpEvent(str(data.get("device-id") or ""), str(data.get("qom-path") or ""),
                    data["device-state"], ts)
