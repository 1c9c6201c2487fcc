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

from vfio_migcheck.traces.events import built
from vfio_migcheck.traces.numbers import MAX_DIGITS, NumberTooLong, bounded_float, bounded_int
from vfio_migcheck.traces.qemu.formats import EVENTS

_ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z"

# Prefixes end right before an event name: ``TID@SEC.USEC:``, an ISO timestamp, or the
# message context ``[ISO ][[GUEST] ]PROG(TID[:THREAD]): ``; with "-msg thread-info=off" the
# program name stands alone, and is then only believed when it names QEMU (else
# "monitor: " in libvirt's text would match). They are parsed backwards from the name by
# hand (find_prefix): a regex searched up to "$" is quadratic on long runs of digits or
# brackets.

# Known events may sit anywhere in a line (after wrapper text, glued to a record). Each is
# found with str.find on its fixed start, then confirmed by a regex anchored there: much
# faster than one alternation regex tried at every position.
_KNOWN_EVENT_STARTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("vfio_", re.compile(r"vfio_[a-z0-9_]+(?= {1,2}\()")),
    ("vm_state_notify", re.compile(r"vm_state_notify(?= {1,2}running )")),
    ("migrate_set_state", re.compile(r"migrate_set_state(?= {1,2}new state )")),
)
# Any other vfio event only counts at the start of a line, right after a prefix.
# QEMU's trace-event names are C identifiers: a letter follows "vfio_".
_VFIO_NAME = re.compile(r"vfio_[a-z][a-z0-9_]*")


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
    problem: str | None = None       # why the prefix cannot be believed (impossible date)


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
    """``2026-01-01T00:00:00.123456Z`` -> seconds since the epoch (UTC).

    Raises ValueError for a date that does not exist (month 13) or an absurd fraction.
    """
    whole, _, fraction = text[:-1].partition(".")
    seconds = _whole_seconds(whole)
    if len(fraction) > MAX_DIGITS:
        raise NumberTooLong(f"timestamp fraction with {len(fraction)} digits")
    return seconds + float("0." + fraction) if fraction else float(seconds)


@lru_cache(maxsize=256)
def _whole_seconds(text: str) -> int:
    return int(datetime.fromisoformat(text + "+00:00").timestamp())


def _bad_prefix(style: str, why: str) -> Prefix:
    return Prefix(style, problem=f"trace prefix: {why}")


def _tid_prefix(tid: str, sec: str, usec: str) -> Prefix:
    try:
        return Prefix("tid", tid=bounded_int(tid, what="thread id"),
                      ts=bounded_float(f"{sec}.{usec}", what="timestamp"))
    except ValueError as exc:
        return _bad_prefix("tid", str(exc))


def _iso_ts(iso: str | None) -> float | None:
    return iso_to_epoch(iso) if iso else None


def _message_prefix(iso: str | None, guest: str | None, prog: str | None, tid: str | None,
                    thread: str | None, bare: str | None) -> Prefix:
    try:
        ts = _iso_ts(iso)
        number = bounded_int(tid, what="thread id") if tid else None
    except ValueError as exc:
        return _bad_prefix("message", f"{exc} ({iso or tid})")
    return Prefix("message", tid=number, ts=ts, thread=thread, program=prog or bare,
                  guest=guest)


def _trailing_digits(text: str, end: int) -> int:
    """Where the run of ASCII digits that ends at ``end`` starts (linear, no regex)."""
    start = end
    while start > 0 and text[start - 1] in _DIGITS:
        start -= 1
    return start


def _name_start(text: str, end: int) -> int:
    """Where the run of ``[^\\s()\\[\\]:]`` characters that ends at ``end`` starts."""
    start = end
    while start > 0:
        char = text[start - 1]
        if char in _NAME_STOP or char.isspace():
            break
        start -= 1
    return start


_DIGITS = frozenset("0123456789")
_NAME_STOP = frozenset("()[]:")
_ISO_CORE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


def _tid_prefix_at_end(before: str) -> tuple[int, Prefix] | None:
    """``TID@SEC.USEC:`` ending ``before`` (parsed backwards: linear in its length)."""
    end = len(before) - 1                       # the ":"
    usec = _trailing_digits(before, end)
    if usec == end or usec == 0 or before[usec - 1] != ".":
        return None
    sec = _trailing_digits(before, usec - 1)
    if sec == usec - 1 or sec == 0 or before[sec - 1] != "@":
        return None
    tid = _trailing_digits(before, sec - 1)
    if tid == sec - 1:
        return None
    return tid, _tid_prefix(before[tid:sec - 1], before[sec:usec - 1], before[usec:end])


def _iso_before(before: str, end: int) -> tuple[int, str] | None:
    """An ISO-8601 timestamp followed by one space, ending at ``end``: (start, timestamp)."""
    if end < 21 or before[end - 2:end] != "Z ":
        return None
    zulu = end - 2
    digits = _trailing_digits(before, zulu)
    core_end = digits - 1 if 0 < digits < zulu and before[digits - 1] == "." else zulu
    start = core_end - 19
    if start < 0 or not _ISO_CORE.fullmatch(before, start, core_end):
        return None
    return start, before[start:end - 1]


def _message_prefix_at_end(before: str) -> tuple[int, Prefix] | None:
    """``[ISO ][[GUEST] ](PROG(TID[:THREAD])|qemu...): `` ending ``before``, found backwards.

    The same text a ``re.search(... $)`` would find (the leftmost start), in time linear
    in the length of ``before`` whatever it holds.
    """
    end = len(before) - 2                       # the ": "
    prog = tid = thread = bare = None
    if end > 0 and before[end - 1] == ")":
        opening = before.rfind("(", 0, end - 1)
        if opening <= 0:
            return None
        inside = before[opening + 1:end - 1]
        if ")" in inside or "\n" in inside:
            return None
        tid, colon, rest = inside.partition(":")
        if not tid or not tid.isascii() or not tid.isdigit():
            return None
        thread = rest if colon else None
        start = _name_start(before, opening)
        if start == opening:
            return None
        prog = before[start:opening]
    else:
        run = _name_start(before, end)
        start = before.find("qemu", run, end)   # leftmost "qemu" in the name run
        if start < 0:
            return None
        bare = before[start:end]
    guest = None
    if start >= 3 and before[start - 2:start] == "] ":
        close = start - 2
        boundary = max(before.rfind("]", 0, close), before.rfind("\n", 0, close))
        opening = before.find("[", boundary + 1, close)
        if opening >= 0:
            guest = before[opening + 1:close]
            start = opening
    iso = None
    found = _iso_before(before, start)
    if found is not None:
        start, iso = found
    return start, _message_prefix(iso, guest, prog, tid, thread, bare)


def find_prefix(before: str) -> tuple[int, Prefix]:
    """The prefix that ends ``before`` (text right before an event name) and where it starts.

    Returns ``(len(before), NO_PREFIX)`` when the name is not behind a known prefix. A
    prefix whose numbers or date are impossible comes back with ``problem`` set.
    """
    found = None
    if before.endswith(":"):
        found = _tid_prefix_at_end(before)
    elif before.endswith(": "):
        found = _message_prefix_at_end(before)
    elif before.endswith("Z "):
        found = _iso_before(before, len(before))
        if found is not None:
            start, iso = found
            try:
                return start, Prefix("iso", ts=iso_to_epoch(iso))
            except ValueError as exc:
                return start, _bad_prefix("iso", f"{exc} ({iso})")
    return found if found is not None else (len(before), NO_PREFIX)


_NAME_RUN = re.compile(r"[a-z0-9_]*")
_LONGEST_EVENT = max(len(name) for name in EVENTS)


def _known_events(line: str) -> list[re.Match[str]]:
    hits = []
    for start, pattern in _KNOWN_EVENT_STARTS:
        at = line.find(start)
        run_end = -1
        while at >= 0:
            if at >= run_end:
                # every "vfio_" inside one run of name characters ends where the run ends:
                # measure the run once, so "vfio_vfio_vfio_..." costs linear time
                run_end = _NAME_RUN.match(line, at).end()
            if run_end - at <= _LONGEST_EVENT:
                match = pattern.match(line, at)
                if match is not None and match.group(0) in EVENTS:
                    hits.append(match)
            at = line.find(start, at + 1)
    if len(hits) > 1:
        hits.sort(key=lambda m: m.start())
    return hits


# The common line of a QEMU log: one known record right behind a TID@SEC.USEC: or ISO
# prefix at the start of the line (decimal numbers of at most 18 digits). fast_segment
# reads it in one match; everything else goes the general way (find_segments).
_FAST_HEAD = re.compile(
    r"(?:([0-9]{1,18})@([0-9]{1,18})\.([0-9]{1,18}):"
    r"|([0-9]{4}-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9](?:\.[0-9]{1,18})?Z) )"
    r"(vfio_[a-z0-9_]+(?= {1,2}\()|vm_state_notify(?= {1,2}running )"
    r"|migrate_set_state(?= {1,2}new state ))")


#: the other device-less record of each (a line holding both goes the general way)
_PLAIN_OTHER = {"vm_state_notify": "migrate_set_state", "migrate_set_state": "vm_state_notify"}


def fast_segment(line: str) -> Segment | None:
    """The one segment :func:`find_segments` finds in a common line, or None to let it
    decide (tests/test_qemu_fast_segment.py holds the two equal)."""
    found = fast_parts(line)
    if found is None:
        return None
    name, body, style, tid, ts = found
    prefix = built(Prefix, {"style": style, "tid": tid, "ts": ts, "thread": None,
                            "program": None, "guest": None, "problem": None})
    return built(Segment, {"raw_name": name, "body": body, "prefix": prefix,
                           "wrapper": "", "glued": False, "known": True})


def fast_parts(line: str) -> tuple[str, str, str, int | None, float] | None:
    """:func:`fast_segment` as plain values: (event name, record text, prefix style,
    thread id, timestamp), for the reader's hot path."""
    m = _FAST_HEAD.match(line)
    if m is None:
        return None
    name = m.group(5)
    start = m.start(5)
    if name[1] == "f":                  # vfio_...: no other record may follow
        if name not in EVENTS or line.find("vfio_", start + 1) >= 0 \
                or "vm_state_notify" in line or "migrate_set_state" in line:
            return None
    elif "vfio_" in line or line.find(name, start + 1) >= 0 \
            or _PLAIN_OTHER[name] in line:   # a device-less record, alone on its line
        return None
    iso = m.group(4)
    if iso is None:
        return name, line[start:].rstrip(), "tid", int(m.group(1)), \
            float(f"{m.group(2)}.{m.group(3)}")
    try:
        return name, line[start:].rstrip(), "iso", None, iso_to_epoch(iso)
    except ValueError:
        return None


def find_segments(line: str) -> list[Segment]:
    """Every trace record in ``line``; [] when the line holds none."""
    fast = fast_segment(line)
    if fast is not None:
        return [fast]
    return general_segments(line)


def general_segments(line: str) -> list[Segment]:
    """:func:`find_segments` without its fast path (the reference the tests hold it to)."""
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
    named = _VFIO_NAME.match(line, at)
    if named is None or named.group(0).startswith("vfio_vfio_"):
        return None                  # "vfio_" then no identifier (or another "vfio_"): no
    name = named.group(0)            # QEMU event is named so; not a trace record
    rest = line[at + len(name):]
    if rest and not rest.startswith(" "):
        return None                  # the name runs on into other text: not a record
    weak = prefix is NO_PREFIX or (prefix.style == "message" and prefix.tid is None)
    if weak and rest and not rest.startswith(("  ", " (")):
        return None                  # no trace-only prefix: only the " (%s)" shape, not prose
    return Segment(name, name + rest.rstrip(), prefix, known=False)


# --- QEMU error reports (error_report lines) ------------------------------------------

# Each report is found by its fixed text (str.find), the device is the run of non-blank
# characters right before it (optionally after "VFIO user "), and only the tail is matched
# by an anchored regex: an unanchored "\\S+: Failed ..." search is quadratic on long words.
_TARGET = re.compile(r"(?P<target>UNKNOWN STATE|[A-Z0-9_]+)[.,]")
_VALUE = re.compile(r"-?[0-9]+")
_VFIO_USER = "VFIO user "
# (kind, fixed text, the device is required)
_ERROR_NEEDLES: tuple[tuple[str, str, bool], ...] = (
    ("set_state_failed", ": Failed setting device state to ", True),
    ("recover_failed", ": Failed setting device in recover state, err: ", True),
    ("data_fd_out_of_sync", ": data_fd out of sync", True),
    ("reset_failed", ": Failed resetting device, err: ", True),
    ("invalid_device_state", "Invalid device state ", False),
    ("buffer_alloc_failed", "Failed to allocate migration data buffer", False),
)
#: Fixed text every recognised error report contains (a cheap pre-check).
ERROR_REPORT_HINTS = ("Failed setting device", "data_fd out of sync", "Failed resetting device",
                      "Invalid device state", "Failed to allocate migration data buffer")
_RECOVER = re.compile(r"Setting device in recover state (?P<recover>UNKNOWN STATE|[A-Z0-9_]+)")
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
    if groups["prog"]:
        return _message_prefix(groups["iso"], groups["guest"], groups["prog"], groups["tid"],
                               groups["thread"], None)
    try:
        ts = _iso_ts(groups["iso"])
    except ValueError as exc:
        return _bad_prefix("iso", f"{exc} ({groups['iso']})")
    return Prefix("iso", ts=ts) if ts is not None else NO_PREFIX


def _device_start(text: str, end: int) -> int:
    """Start of the ``(VFIO user )?\\S+`` device name that ends at ``end`` (== end: none)."""
    start = end
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    if start < end and text.endswith(_VFIO_USER, 0, start):
        start -= len(_VFIO_USER)
    return start


def _err_text(rest: str) -> str | None:
    """What ``err: (.*?)\\.(?: |$)`` finds in ``rest``, in linear time."""
    at = rest.find("err: ")
    if at < 0:
        return None
    dot = rest.find(".", at + 5)
    while dot >= 0:
        if dot + 1 == len(rest) or rest[dot + 1] == " ":
            return rest[at + 5:dot]
        dot = rest.find(".", dot + 1)
    return None


def _match_report(text: str, kind: str, needle: str, needs_device: bool
                  ) -> tuple[int, str, dict] | None:
    """(start, device, fields) of the first ``kind`` report in ``text``, else None."""
    at = text.find(needle)
    while at >= 0:
        after = at + len(needle)
        if needs_device:
            start = _device_start(text, at)
            device = text[start:at]
        elif text.endswith(": ", 0, at):
            start = _device_start(text, at - 2)
            device = text[start:at - 2]
            if not device:
                start = at
        else:
            start, device = at, ""
        if device or not needs_device:
            fields = _report_tail(kind, text, after)
            if fields is not None:
                return start, device, fields
            if kind == "recover_failed":
                return None           # no " Resetting device" after this: none after later
        at = text.find(needle, after)
    return None


def _report_tail(kind: str, text: str, after: int) -> dict | None:
    """The fields after a report's fixed text, or None when the tail does not fit."""
    if kind == "set_state_failed":
        target = _TARGET.match(text, after)
        if target is None:
            return None
        fields: dict = {"target": target.group("target")}
        rest = text[target.end():]
        recover = _RECOVER.search(rest)
        if recover:
            fields["recover_to"] = recover.group("recover")
        elif "Recover state is ERROR" in rest:
            fields["recover_to"] = "ERROR"
        err = _err_text(rest)
        if err is None:
            suffix = _ERRNO_SUFFIX.search(rest)
            err = suffix.group("err") if suffix else None
        if err is not None:
            fields["err"] = err.strip()
        fields["reset"] = int("Resetting device" in rest)
        return fields
    if kind == "recover_failed":
        end = text.find(" Resetting device", after)
        if end < 0:
            return None
        err = text[after:end]
        return {"err": err[:-1] if err.endswith(".") else err}
    if kind == "reset_failed":
        return {"err": text[after:].rstrip()}
    if kind == "invalid_device_state":
        value = _VALUE.match(text, after)
        if value is None:
            return None
        return {"value": bounded_int(value.group(0), what="device state value")}
    return {}


def find_error_report(text: str) -> ErrorReport | None:
    """A QEMU vfio migration error message in ``text`` (any prefix or wrapper before it).

    Raises :class:`~vfio_migcheck.traces.numbers.NumberTooLong` for a report whose value
    has more digits than any device state.
    """
    if not any(hint in text for hint in ERROR_REPORT_HINTS):
        return None
    for kind, needle, needs_device in _ERROR_NEEDLES:
        found = _match_report(text, kind, needle, needs_device)
        if found is None:
            continue
        start, device, tail = found
        fields: dict = {"error": kind, "message": text[start:].strip(), **tail}
        return ErrorReport(device, fields, report_prefix(text))
    return None


# --- the QMP VFIO_MIGRATION event (QEMU >= 9.1, migration-events=on) ---------------------

_JSON = json.JSONDecoder()
_QMP_OBJECT_START = re.compile(r'\{\s*"(?:timestamp|event)"')
_QMP_TRIES = 4
_QMP_TIME_LIMIT = 1 << 63            # QMP timestamps are int64 seconds and microseconds
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
    for tried, start in enumerate(_QMP_OBJECT_START.finditer(text)):
        if tried == _QMP_TRIES:
            break                    # a real QMP line holds one object; never re-scan forever
        try:
            obj, _ = _JSON.raw_decode(text, start.start())
        except (ValueError, RecursionError):
            continue                 # broken, or nested deeper than the decoder goes
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
        micro = micro if isinstance(micro, int) else 0
        if not (abs(stamp["seconds"]) < _QMP_TIME_LIMIT and abs(micro) < _QMP_TIME_LIMIT):
            return "VFIO_MIGRATION event timestamp out of range (not a time QEMU prints)"
        ts = stamp["seconds"] + micro / 1e6
    return QmpEvent(str(data.get("device-id") or ""), str(data.get("qom-path") or ""),
                    data["device-state"], ts)
