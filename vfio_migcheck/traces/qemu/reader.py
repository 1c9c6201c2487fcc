"""Reader for QEMU trace logs (``-trace vfio_*``), every QEMU era from 5.1 (v1) to 11.0-dev.

Each line is cut into records (traces/qemu/lines.py), each record's arguments are parsed
by grammar/qemu.lark (traces/qemu/syntax.py) and normalised with the table in
traces/qemu/formats.py into :class:`QemuEvent` objects: newest event name without
``vfio_``, the raw name in ``fields["event"]``, numbers as ints, device states in
``state``/``recover``.

The protocol era is decided from the whole log before the first event is yielded: integer
device states, the migration-region shapes and ``_v1_`` event names are v1 evidence;
device-state names and the data-fd era's shapes are v2 evidence. A v1 log gets
``summary.format = "qemu-v1"`` and its events carry ``fields["protocol"] = "v1"`` and never
a v2 state name (integers go to ``fields["v1_state"]``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from vfio_migcheck.traces.blocks import iter_line_blocks
from vfio_migcheck.traces.events import (
    COLLAPSE_RUNS,
    Event,
    Origin,
    QemuEvent,
    QuietRun,
    ReadSummary,
    Unreadable,
    built,
    origin_at,
)
from vfio_migcheck.traces.lines import BadLine, Line
from vfio_migcheck.traces.numbers import NumberTooLong
from vfio_migcheck.traces.qemu.formats import (
    DEVICE_STATE_EVENTS,
    EVENTS,
    QEMU_STATE_NAMES,
    QEMU_UNKNOWN_STATE,
    may_hold_v1_evidence,
    may_hold_v1_evidence_in,
    protocol_evidence,
)
from vfio_migcheck.traces.qemu.lines import (
    ERROR_REPORT_HINTS,
    QAPI_PREPARE,
    QAPI_STATES,
    ErrorReport,
    Prefix,
    QmpEvent,
    Segment,
    fast_parts,
    find_error_report,
    find_qmp_event,
    find_segments,
    is_cut_prefix,
    iso_to_epoch,
)
from vfio_migcheck.traces.qemu.quiet import (
    FOREIGN,
    PREFIX_PARTS,
    QUIET_LINE,
    QUIET_PAIRS,
    prefix_ts,
    quiet_plain_line,
)
from vfio_migcheck.traces.qemu.sniff import SYSCALL_LINE as _SYSCALL_LINE
from vfio_migcheck.traces.qemu.syntax import Record, RecordError, parse_record

FORMAT_V2 = "qemu"
FORMAT_V1 = "qemu-v1"

# --- normalisation ---------------------------------------------------------------------


class _Problem(ValueError):
    """A record that parsed but cannot be believed (unknown state name, wrong shape)."""


def _state_name(value: Any, what: str) -> str | None:
    """A v2 state name from a device-state value; None for QEMU's ``UNKNOWN STATE``."""
    if value == QEMU_UNKNOWN_STATE:
        return None
    if value not in QEMU_STATE_NAMES:
        raise _Problem(f"{what} {value!r} is not a QEMU device-state name (cut-off line?)")
    return value


def _normalise(raw_name: str, record: Record, protocol: str | None
               ) -> tuple[str, str | None, str | None, dict[str, Any]]:
    """(name, state, recover, fields) of one known record."""
    fmt = EVENTS[raw_name]
    if record.shape not in fmt.shapes:
        raise _Problem(f"{raw_name}: arguments fit none of this event's formats "
                       f"(cut off or glued?): {record.values!r}")
    fields: dict[str, Any] = {"event": raw_name, **record.values}
    state = recover = None
    name = fmt.name
    if name in DEVICE_STATE_EVENTS:
        key = {"new_recover_state": "new_state", "vmstate_change": "device_state"}.get(
            record.shape, "state")
        value = fields[key]
        if isinstance(value, int):
            del fields[key]
            fields["v1_state"] = value
        else:
            state = _state_name(value, key.replace("_", " "))
        if record.shape == "new_recover_state":
            recover_value = fields["recover_state"]
            if isinstance(recover_value, int):
                raise _Problem(f"{raw_name}: integer recover state {recover_value}")
            recover = _state_name(recover_value, "recover state")
            fields["form"] = "new_recover"      # traced on entry, before any ioctl
        elif name == "migration_set_state" and state is not None:
            fields["form"] = "one_state"         # QEMU <= 9.0: traced after a successful SET
    elif name == "migration_state_notifier":
        fields["migration_state"] = fields.pop("state")
    elif raw_name in ("vfio_state_pending_estimate", "vfio_state_pending_exact"):
        fields["exact"] = int(raw_name.endswith("_exact"))
    if protocol:
        fields["protocol"] = protocol
    return name, state, recover, fields


# --- one line --------------------------------------------------------------------------


@dataclass
class LineResult:
    """What one line gave, in line order: QemuEvents and reasons for the broken parts."""

    items: list[QemuEvent | str] = field(default_factory=list)


def _segment_event(segment: Segment, origin: Origin, era: str | None,
                   defaults: dict[str, Any]) -> QemuEvent:
    """Turn one record into a QemuEvent; raise :class:`_Problem` on a bad record."""
    if segment.prefix.problem:
        raise _Problem(f"{segment.raw_name}: {segment.prefix.problem}")
    meta = _prefix_fields(segment)
    timing = _timing(segment.prefix, defaults, meta)
    if not segment.known:
        return _generic_event(segment, origin, timing, meta)
    body = segment.body
    device, name, state, recover, fields = _known_record(segment.raw_name, body, era)
    return built(QemuEvent, {"origin": origin, "device": device, "name": name,
                             "state": state, "recover": recover, "fields": {**fields, **meta},
                             "text": body, "duration": None, **timing})


def _known_record(raw_name: str, body: str, era: str | None) -> tuple:
    """(device, name, state, recover, fields) of a known record; raise :class:`_Problem`
    on a bad one. Remembered by the record's text and the era."""
    known = _RECORDS.get((body, era))
    if known is None:
        try:
            record = parse_record(body)
        except RecordError as exc:
            raise _Problem(f"{raw_name}: {exc}") from None
        evidence = protocol_evidence(raw_name, record.shape, record.values)
        known = (record.device, *_normalise(raw_name, record, evidence or era))
        if len(_RECORDS) >= MAX_RECORDS:
            _RECORDS.clear()
        _RECORDS[(body, era)] = known
    return known


#: records already normalised, by (record text, era): a log repeats most of its records
#: word for word (a record's text and the era decide its event but for the line's prefix)
_RECORDS: dict[tuple[str, str | None], tuple[str, str, str | None, str | None,
                                              dict[str, Any]]] = {}
MAX_RECORDS = 4096


def _timing(prefix: Prefix, defaults: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """pid/tid/ts of an event: the caller's (strace) win; the prefix's go to ``trace_*``."""
    timing = {"pid": defaults.get("pid"), "tid": prefix.tid, "ts": prefix.ts}
    for key in ("tid", "ts"):
        given = defaults.get(key)
        if given is None:
            continue
        if timing[key] is not None:
            meta[f"trace_{key}"] = timing[key]
        timing[key] = given
    return timing


def _prefix_fields(segment: Segment) -> dict[str, Any]:
    prefix = segment.prefix
    meta: dict[str, Any] = {"prefix": prefix.style}
    for key in ("thread", "program", "guest"):
        value = getattr(prefix, key)
        if value:
            meta[key] = value
    if segment.wrapper:
        meta["wrapper"] = segment.wrapper
    if segment.glued:
        meta["glued"] = 1
    return meta


def _generic_event(segment: Segment, origin: Origin, timing: dict[str, Any],
                   meta: dict[str, Any]) -> QemuEvent:
    """A vfio event outside the migration table (region I/O, DMA, ...): kept, not parsed."""
    raw = segment.raw_name
    args = segment.body[len(raw):]
    if not args.strip() and any(known.startswith(raw) for known in EVENTS):
        raise _Problem(f"trace record cut off after the event name {raw!r}")
    fields = {"event": raw, "args": args.strip(), **meta}
    return QemuEvent(origin, "", raw.removeprefix("vfio_"), fields=fields,
                     text=segment.body, **timing)


def parse_line(text: str, origin: Origin, era: str | None = None,
               defaults: dict[str, Any] | None = None) -> LineResult:
    """Every QemuEvent in one line of text, plus the reasons for the parts that failed."""
    result = LineResult()
    defaults = defaults or {}
    segments = find_segments(text)
    previous_failed = False
    for segment in segments:
        if segment.glued and previous_failed and segment.prefix.style == "tid":
            # the thread id may have swallowed the failed record's last digits
            segment = _drop_tid(segment)
        try:
            event = _segment_event(segment, origin, era, defaults)
        except _Problem as exc:
            result.items.append(str(exc))
            previous_failed = True
            continue
        previous_failed = False
        result.items.append(event)
    if not segments:
        try:
            report = find_error_report(text)
        except NumberTooLong as exc:
            result.items.append(f"QEMU error report: {exc}")
            return result
        if report is not None and report.prefix.problem:
            result.items.append(f"QEMU error report: {report.prefix.problem}")
        elif report is not None:
            result.items.append(_report_event(report, text, origin, era, defaults))
        else:
            qmp = find_qmp_event(text)
            if qmp is not None:
                result.items.append(_qmp_event(qmp, text, origin, defaults))
    return result


def _qmp_event(qmp: QmpEvent | str, text: str, origin: Origin,
               defaults: dict[str, Any]) -> QemuEvent | str:
    """The QMP ``VFIO_MIGRATION`` event: QEMU's belief after a state change (QEMU >= 9.1)."""
    if isinstance(qmp, str):
        return qmp
    if qmp.device_state != QAPI_PREPARE and qmp.device_state not in QAPI_STATES:
        return f"VFIO_MIGRATION event with unknown device-state {qmp.device_state!r}"
    state = QAPI_STATES.get(qmp.device_state)
    fields: dict[str, Any] = {"event": "VFIO_MIGRATION", "qapi_state": qmp.device_state}
    if state:
        fields["state"] = state
    fields.update(qom_path=qmp.qom_path, prefix="qmp")
    timing = _timing(Prefix("qmp", ts=qmp.ts), defaults, fields)
    return QemuEvent(origin, qmp.device_id or qmp.qom_path, "qmp_vfio_migration",
                     state=state, fields=fields, text=text, **timing)


def _report_event(report: ErrorReport, text: str, origin: Origin, era: str | None,
                  defaults: dict[str, Any]) -> QemuEvent:
    """A QEMU vfio error message as ``QemuEvent(name="error_report")``."""
    prefix = report.prefix
    fields = dict(report.fields)
    fields["prefix"] = prefix.style
    if prefix.thread:
        fields["thread"] = prefix.thread
    if era:
        fields["protocol"] = era
    timing = _timing(prefix, defaults, fields)
    return QemuEvent(origin, report.device, "error_report", fields=fields, text=text, **timing)


def _drop_tid(segment: Segment) -> Segment:
    return replace(segment, prefix=replace(segment.prefix, tid=None))


_RECORD_HINTS = ("vfio_", "vm_state_notify", "migrate_set_state", "VFIO_MIGRATION",
                 *ERROR_REPORT_HINTS)


def may_hold_qemu_text(text: str) -> bool:
    """Cheap pre-check for callers: False when ``parse_qemu_text(text)`` must return []."""
    return any(hint in text for hint in _RECORD_HINTS)


def parse_qemu_text(text: str, origin: Origin, pid: int | None = None, tid: int | None = None,
                    ts: float | None = None) -> list[Event]:
    """QEMU trace records inside a text (e.g. the payload of a ``write(2, ...)`` in strace).

    Returns a QemuEvent per vfio trace record or QEMU vfio error report found, and an
    :class:`Unreadable` per record that was recognisable but broken (e.g. cut off by
    ``strace -s``); [] when the text holds none. The caller's pid/tid/ts win over the
    record's own prefix, which is kept in ``fields["trace_tid"]``/``["trace_ts"]``. No
    whole-log era is known here: an integer device state still goes to ``v1_state``.
    """
    out: list[Event] = []
    defaults = {"pid": pid, "tid": tid, "ts": ts}
    for piece in text.splitlines():
        if not piece.strip():
            continue
        for item in parse_line(piece, origin, None, defaults).items:
            if isinstance(item, str):
                item = Unreadable(origin, reason=item, text=piece, pid=pid, tid=tid, ts=ts)
            out.append(item)
    return out


# --- era --------------------------------------------------------------------------------


@dataclass
class Era:
    """The protocol era of a whole log and the first line of evidence for each side."""

    v1_first: tuple[str, int, str] | None = None
    v2_first: tuple[str, int, str] | None = None

    @property
    def protocol(self) -> str | None:
        if self.v1_first and not self.v2_first:
            return "v1"
        if self.v2_first and not self.v1_first:
            return "v2"
        return None

    def note(self) -> str:
        def where(first: tuple[str, int, str]) -> str:
            return f"{first[0]}:{first[1]} ({first[2]})"
        if self.v1_first and self.v2_first:
            return (f"both v1 evidence at {where(self.v1_first)} and v2 evidence at "
                    f"{where(self.v2_first)}; each event keeps its own form (integer device "
                    "states are v1, in fields['v1_state'])")
        if self.v1_first:
            return (f"deprecated v1 migration protocol (QEMU 5.1-7.1): evidence at "
                    f"{where(self.v1_first)}; integer device states are v1 values, kept in "
                    "fields['v1_state'], not v2 states")
        if self.v2_first:
            return f"v2 migration protocol: evidence at {where(self.v2_first)}"
        return "protocol era undetermined: no record shows device states or v1/v2-only forms"


def decide_era(paths: Iterable[Path]) -> Era:
    """Scan the whole log once for v1 and v2 evidence (records only, no events kept)."""
    era = Era()
    for path in paths:
        for number, text in _era_texts(path, era):
            if "vfio_" not in text:
                continue
            if era.v2_first and not may_hold_v1_evidence(text):
                continue
            for segment in find_segments(text):
                if not segment.known:
                    continue
                try:
                    record = parse_record(segment.body)
                except RecordError:
                    continue
                side = protocol_evidence(segment.raw_name, record.shape, record.values)
                if side == "v1" and era.v1_first is None:
                    era.v1_first = (str(path), number, segment.raw_name)
                elif side == "v2" and era.v2_first is None:
                    era.v2_first = (str(path), number, segment.raw_name)
            if era.v1_first and era.v2_first:
                return era
    return era


# --- reader contract ---------------------------------------------------------------------

# Another subsystem's record behind the log backend's TID@SEC.USEC: prefix (QEMU only).
_OTHER_TRACE_LINE = re.compile(r"\d+@\d+\.\d{6}:[a-z][a-z0-9_]* ")


def sniff(lines: list[str]) -> float:
    """High when early lines hold vfio trace records in any prefix style."""
    direct = wrapped = other = syscalls = 0
    for text in lines:
        if _SYSCALL_LINE.match(text) or "<unfinished ...>" in text:
            syscalls += 1
            continue
        segments = find_segments(text)
        if segments:
            vfio = [s for s in segments if s.raw_name.startswith("vfio_")]
            if vfio and not segments[0].wrapper:
                direct += 1
            elif vfio:
                wrapped += 1
            else:
                other += 1
        elif (_holds_error_report(text) or _OTHER_TRACE_LINE.match(text)
              or find_qmp_event(text) is not None):
            other += 1
    if syscalls > direct + wrapped:
        return 0.1 if direct + wrapped else 0.0
    if direct:
        return 0.95
    if wrapped:
        return 0.7
    return 0.4 if other else 0.0


def _holds_error_report(text: str) -> bool:
    try:
        return find_error_report(text) is not None
    except NumberTooLong:
        return True                  # a report, with a value no device state has


def read(paths: list[Path], summary: ReadSummary) -> Iterator[Event]:
    """Events of a QEMU trace log (several paths = one log), accounting for every line."""
    era = decide_era(paths)
    protocol = era.protocol
    summary.format = FORMAT_V1 if protocol == "v1" else FORMAT_V2
    summary.notes.append(era.note())
    many = len(paths) > 1
    if COLLAPSE_RUNS.get():
        for path in paths:
            yield from read_runs(str(path), summary, protocol, many)
        return
    for path in paths:
        name = str(path)
        number = 0
        for block in iter_line_blocks(path):
            for item in block:
                number += 1
                if item.__class__ is str:
                    event = hot_event(item, name, number, protocol)
                    if event is not None:
                        summary.lines += 1
                        summary.events += 1
                        yield event
                        continue
                yield from _line_events(summary, name, number, item, protocol, many)


#: shortest run of quiet records handed over as one QuietRun: one (a QuietRun of one line
#: costs the engine less than the line's event, and its line is matched once, not twice)
MIN_RUN = 1
#: what follows the prefix of a line that is no quiet record (quiet.PREFIX) -> what the
#: line is (:func:`_other_kind`), remembered per file up to this many texts
MAX_OTHERS = 4096
#: a line that is neither a sound device-less record nor a common record (read the usual way)
_OTHER = "other"
#: a device-less record (quiet.py) that reads soundly
_PLAIN = "plain"


def _other_kind(text: str, end: int, era: str | None) -> tuple | str:
    """What a line that is no quiet record is, when its prefix (quiet.PREFIX) ends at
    ``end``: _PLAIN, the parts of its event that :func:`hot_event` takes from the text after
    the prefix (device, name, state, recover, fields without the prefix's style, record
    text), or _OTHER. A function of the text after the prefix (and the era): the prefix is
    the only one the line can have and none of the tests reads it."""
    if _plain_ok(text, era):
        return _PLAIN
    parts = fast_parts(text)
    if parts is None:
        return _OTHER
    raw_name, body = parts[0], parts[1]
    try:
        device, name, state, recover, fields = _known_record(raw_name, body, era)
    except _Problem:
        return _OTHER
    return device, name, state, recover, fields, body


def _prefix_event(kind: tuple, m: re.Match[str], file: str, number: int) -> QemuEvent:
    """:func:`hot_event` of a line from its :func:`_other_kind` and its prefix's match."""
    device, name, state, recover, fields, body = kind
    iso = m.group(1)
    if iso is None:
        style, tid, ts = "tid", int(m.group(2)), float(f"{m.group(3)}.{m.group(4)}")
    else:
        style, tid, ts = "iso", None, iso_to_epoch(iso)
    return built(QemuEvent, {"origin": origin_at(file, number), "device": device,
                             "name": name, "state": state, "recover": recover,
                             "fields": {**fields, "prefix": style}, "text": body,
                             "duration": None, "pid": None, "tid": tid, "ts": ts})


def read_runs(name: str, summary: ReadSummary, protocol: str | None, many: bool
              ) -> Iterator[Event]:
    """:func:`read` of one file for the checker (``COLLAPSE_RUNS``): consecutive quiet
    records (qemu/quiet.py) come as one :class:`QuietRun` (at least :data:`MIN_RUN`),
    every other line as :func:`read` gives it. What a line that is no quiet record is, is
    remembered by the text after its prefix (:func:`_other_kind`): a log repeats its
    state records word for word."""
    quiet = QUIET_LINE.fullmatch
    pairs = QUIET_PAIRS
    prefix = PREFIX_PARTS.match
    others: dict[str, tuple | str] = {}
    texts: list[str] = []
    heads: set[tuple[str, str]] = set()
    start = 0
    number = 0
    for block in iter_line_blocks(name):
        for item in block:
            number += 1
            if item.__class__ is str:
                m = quiet(item)
                if m is not None:
                    head = m.group(1, 2)
                    if (head[0], m.lastgroup) in pairs:
                        if not texts:
                            start = number
                        texts.append(item)
                        heads.add(head)
                        continue
                p = prefix(item)
                if p is not None:
                    end = p.end()
                    body = item[end:]
                    kind = others.get(body)
                    if kind is None:
                        if len(others) >= MAX_OTHERS:
                            others.clear()
                        kind = others[body] = _other_kind(item, end, protocol)
                    if kind is _PLAIN:
                        if not texts:
                            start = number
                        texts.append(item)
                        continue
                    if kind is not _OTHER:
                        if texts:
                            yield from _run_events(name, start, texts, heads, summary,
                                                   protocol, many)
                            texts, heads = [], set()
                        summary.lines += 1
                        summary.events += 1
                        yield _prefix_event(kind, p, name, number)  # type: ignore[arg-type]
                        continue
                if texts:
                    yield from _run_events(name, start, texts, heads, summary, protocol, many)
                    texts, heads = [], set()
                event = hot_event(item, name, number, protocol)
                if event is not None:
                    summary.lines += 1
                    summary.events += 1
                    yield event
                    continue
            elif texts:
                yield from _run_events(name, start, texts, heads, summary, protocol, many)
                texts, heads = [], set()
            yield from _line_events(summary, name, number, item, protocol, many)
    if texts:
        yield from _run_events(name, start, texts, heads, summary, protocol, many)


def _plain_ok(text: str, era: str | None) -> bool:
    """Is ``text`` a device-less record line (quiet.py) whose record reads soundly (as
    remembered: the reader's memory of records answers for repeated texts)?"""
    m = quiet_plain_line(text)
    if m is None:
        return False
    try:
        _known_record(m.group(1), text[m.start(1):].rstrip(), era)
    except _Problem:
        return False
    return True


class _Member:
    """Makes the event of one line of a run of quiet records, the way :func:`read` does
    (``Run.build``)."""

    __slots__ = ("era", "many")

    def __init__(self, era: str | None, many: bool) -> None:
        self.era, self.many = era, many

    def __call__(self, file: str, number: int, text: str) -> Event:
        event = hot_event(text, file, number, self.era)
        if event is not None:
            return event
        events = _line_events(ReadSummary(), file, number, text, self.era, self.many)
        assert len(events) == 1 and isinstance(events[0], QemuEvent), text
        return events[0]


def _run_events(name: str, start: int, texts: list[str], heads: set[tuple[str, str]],
                summary: ReadSummary, era: str | None, many: bool) -> Iterator[Event]:
    """The events of a pending run of quiet lines: one QuietRun, or each line's event
    (a short run, or a device text that holds another record's name)."""
    count = len(texts)
    summary.lines += count
    summary.events += count
    member = _Member(era, many)
    devices = {device.strip() for _raw, device in heads}
    if count < MIN_RUN or any(word in device for device in devices for word in FOREIGN):
        for index, text in enumerate(texts):
            yield member(name, start + index, text)
        return
    names = frozenset(EVENTS[raw].name for raw, _device in heads)
    yield built(QuietRun, {"origin": origin_at(name, start), "pid": None, "tid": None,
                           "ts": prefix_ts(texts[0]), "duration": None, "text": None,
                           "texts": texts,
                           "build": member, "devices": frozenset(devices),
                           "names": names})


def hot_event(text: str, file: str, number: int, era: str | None) -> QemuEvent | None:
    """The event of a common line (one known, sound record behind a prefix,
    :func:`fast_segment`), made as :func:`_line_events` makes it; None for any other line.
    tests/test_qemu_fast_segment.py holds the two equal."""
    parts = fast_parts(text)
    if parts is None:
        return None
    raw_name, body, style, tid, ts = parts
    try:
        device, name, state, recover, fields = _known_record(raw_name, body, era)
    except _Problem:
        return None   # the general path reports it
    return built(QemuEvent, {"origin": origin_at(file, number), "device": device,
                             "name": name, "state": state, "recover": recover,
                             "fields": {**fields, "prefix": style}, "text": body,
                             "duration": None, "pid": None, "tid": tid, "ts": ts})


def _era_texts(path: Path, era: Era) -> Iterator[tuple[int, str]]:
    """:func:`_texts` for :func:`decide_era`: once v2 evidence is found, a block of lines
    none of which may hold v1 evidence is passed over whole."""
    number = 0
    for block in iter_line_blocks(path):
        if era.v2_first and all(item.__class__ is str for item in block) \
                and not may_hold_v1_evidence_in("\n".join(block)):
            number += len(block)
            continue
        for item in block:
            number += 1
            if item.__class__ is str:
                yield number, item
            elif isinstance(item, Line):
                yield number, item.text


def _texts(path: Path) -> Iterator[tuple[int, str]]:
    """(number, text) of every readable line of ``path``."""
    number = 0
    for block in iter_line_blocks(path):
        for item in block:
            number += 1
            if item.__class__ is str:
                yield number, item
            elif isinstance(item, Line):
                yield number, item.text


def _line_events(summary: ReadSummary, name: str, number: int, item: str | Line | BadLine,
                 protocol: str | None, many: bool) -> list[Event]:
    """The events of one line (``item`` as blocks.py gives it), accounted in ``summary``."""
    summary.lines += 1
    origin = origin_at(name, number)
    if isinstance(item, BadLine):
        return [_unreadable(summary, origin, item.reason, many)]
    text = item if item.__class__ is str else item.text  # type: ignore[union-attr]
    result = parse_line(text, origin, protocol)
    if not result.items and is_cut_prefix(text):
        # in a log file a bare prefix is a damaged line; inside strace payloads
        # (parse_qemu_text) it may be any subsystem's record cut by strace -s
        result.items.append("line ends inside a trace prefix (cut off)")
    if not result.items:
        summary.irrelevant += 1
        return []
    out: list[Event] = []
    for part in result.items:
        if isinstance(part, str):
            out.append(_unreadable(summary, origin, part, many, text))
            continue
        if isinstance(item, Line) and item.final_unterminated:
            part.fields["final_unterminated"] = 1
        summary.events += 1
        out.append(part)
    return out


def _unreadable(summary: ReadSummary, origin: Origin, reason: str, many: bool,
                text: str | None = None) -> Unreadable:
    summary.unreadable.append((origin.line, f"{origin.file}: {reason}" if many else reason))
    return Unreadable(origin, reason=reason, text=text)
