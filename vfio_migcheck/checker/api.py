"""Public entry points: check a trace file, or a list of events, into a TraceResult."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from vfio_migcheck.checker.describe import state_order
from vfio_migcheck.checker.engine import Engine
from vfio_migcheck.checker.engine_shared import DeviceTrack
from vfio_migcheck.checker.repeats import FindingLog
from vfio_migcheck.checker.results import DeviceResult, Finding, TraceResult
from vfio_migcheck.checker.rules import CATALOGUE
from vfio_migcheck.checker.stats import RECORD_OBSERVATIONS
from vfio_migcheck.model.names import NameError_, parse_flags
from vfio_migcheck.model.profiles import DriverProfile, find_profile
from vfio_migcheck.model.spec import Spec, SpecError, load_spec
from vfio_migcheck.traces.events import COLLAPSE_RUNS, Event, ReadSummary
from vfio_migcheck.traces.reading import reading_file, unusable_input
from vfio_migcheck.traces.stdin import STDIN_NAME, is_stdin

HIDDEN_ADVICE = ("the capture hides VFIO ioctl payloads (plain strace cannot decode them); "
                 "an eBPF capture (vfio-migcheck capture), QEMU's "
                 "vfio_migration_set_state/set_device_state trace events in the same capture, "
                 "or a decoded canonical trace would settle it "
                 "(vfio-migcheck docs capture-guide)")
#: the reason when every payload was visible: the model itself leaves the outcome open
OPEN_IN_MODEL = ("every call's payload is in the trace; the uAPI leaves the outcome open (a "
                 "failed SET may or may not have changed the device state or ended its data "
                 "session), so readings that break the rule and readings that keep it both fit")
MAX_REASON_LINES = 3
#: states a finished flow may end in: RUNNING, or STOP (a source whose VM stays stopped)
SETTLED_STATES = frozenset({"RUNNING", "STOP"})


class RuleSelectionError(ValueError):
    """--select/--ignore named a rule id that does not exist."""


def rule_filter(select: Iterable[str] | None, ignore: Iterable[str] | None):
    """A predicate on rule ids; prefixes such as ``U`` or ``K00`` select families."""
    sel = [s.strip().upper() for s in (select or []) if s.strip()]
    ign = [s.strip().upper() for s in (ignore or []) if s.strip()]
    for pattern in (*sel, *ign):
        if not any(rule_id.startswith(pattern) for rule_id in CATALOGUE):
            raise RuleSelectionError(f"no rule matches {pattern!r} (see 'vfio-migcheck rules')")

    def enabled(rule_id: str) -> bool:
        if sel and not any(rule_id.startswith(p) for p in sel):
            return False
        return not any(rule_id.startswith(p) for p in ign)

    return enabled


def _resolve(spec: Spec | str | Path | None, flags) -> tuple[Spec, int | None]:
    spec_obj = spec if isinstance(spec, Spec) else load_spec(spec)
    if flags is None:
        return spec_obj, None
    return spec_obj, parse_flags(flags, spec_obj)


def _profile(driver: DriverProfile | str | None) -> DriverProfile | None:
    """``--driver``: a profile, its name (``mlx5``, ``mlx5_vfio_pci``, ``generic``), or None
    to detect it per device from the trace."""
    if driver is None or isinstance(driver, DriverProfile):
        return driver
    return find_profile(driver)


def check_events(events: Iterable[Event], *, spec: Spec | str | None = None,
                 flags: int | str | None = None, file: str = "<events>",
                 fmt: str = "events", select=None, ignore=None,
                 summary: ReadSummary | None = None,
                 driver: DriverProfile | str | None = None,
                 max_repeats: int = 0, observations: bool = True) -> TraceResult:
    """Check an event stream (what every reader produces) against the model.

    ``max_repeats``: findings kept per rule, device and severity; the rest are counted on
    the last one kept (``Finding.suppressed``). 0 keeps every finding.
    ``observations``: keep each device's state after every event and every SET
    (``DeviceResult.states``/``requests``, read by the audit); without them memory does not
    grow with the number of events."""
    spec_obj, flag_value = _resolve(spec, flags)
    engine = _capped(Engine(spec_obj, flag_value, rule_filter(select, ignore),
                            _profile(driver)), max_repeats)
    ts_seen: list[float] = []
    recording = RECORD_OBSERVATIONS.set(observations)
    try:
        for event in events:
            if event.ts is not None and len(ts_seen) < 1:
                ts_seen.append(event.ts)
            engine.feed_one(event)
        engine.finish()
    finally:
        RECORD_OBSERVATIONS.reset(recording)
    summary = summary or ReadSummary(format=fmt)
    return build_result(engine, file, summary.format if summary else fmt, summary.to_json(),
                        _timestamps(ts_seen))


def check_trace(path: str | Path, *, spec: Spec | str | None = None,
                flags: int | str | None = None, fmt: str = "auto", select=None,
                ignore=None, driver: DriverProfile | str | None = None,
                max_repeats: int = 0, observations: bool = True,
                collapse: bool = True) -> TraceResult:
    """Read and check one trace file (or strace ``-ff`` prefix). Never raises on bad input:
    an unreadable trace gives a TraceResult with ``error`` set. ``max_repeats`` and
    ``observations`` as for :func:`check_events` (``check`` passes ``--max-repeats`` and
    no observations). ``collapse=False``: the readers hand over every event on its own
    (the same result, slower; the tests hold the two equal)."""
    try:
        spec_obj, flag_value = _resolve(spec, flags)
        enabled = rule_filter(select, ignore)
        profile = _profile(driver)
    except (SpecError, NameError_, RuleSelectionError) as exc:
        return _error_result(path, fmt, str(exc))
    recording = RECORD_OBSERVATIONS.set(observations)
    # the readers may hand over runs of quiet lines as one event: the engine applies such a
    # run in one step or expands it (traces/events.py Run, docs/checking.md)
    collapsing = COLLAPSE_RUNS.set(collapse)
    try:
        from vfio_migcheck.traces.reading import open_trace

        reading = open_trace(path, fmt)
        engine = _capped(Engine(spec_obj, flag_value, enabled, profile), max_repeats)
        first_ts: list[float] = []
        for event in reading.events:
            if event.ts is not None and not first_ts:
                first_ts.append(event.ts)
            engine.feed_one(event)
        engine.finish()
    except (OSError, ValueError, ImportError) as exc:
        return _error_result(path, fmt, str(exc) or type(exc).__name__)
    except Exception as exc:  # noqa: BLE001 - a reader bug must not become a traceback
        return _error_result(path, fmt, f"internal error while reading: {type(exc).__name__}: "
                                        f"{exc}")
    finally:
        COLLAPSE_RUNS.reset(collapsing)
        RECORD_OBSERVATIONS.reset(recording)
    # the reader may refine its format while reading (a QEMU log found to be "qemu-v1")
    fmt_read = reading.summary.format if reading.summary.format != "?" else reading.format
    unusable = unusable_input(reading.summary, fmt, STDIN_NAME if is_stdin(path) else path,
                              reading_file(reading, path))
    if unusable is not None:
        return _error_result(path, fmt, unusable)
    name = STDIN_NAME if is_stdin(path) else str(path)
    return build_result(engine, name, fmt_read, reading.summary.to_json(),
                        _timestamps(first_ts))


def _capped(engine: Engine, max_repeats: int) -> Engine:
    """Give the engine a finding log that keeps ``max_repeats`` findings per group (the
    engine only ever appends to ``engine.findings``); 0 leaves its plain list alone."""
    if max_repeats:
        engine.findings = FindingLog(max_repeats)  # type: ignore[assignment]
    return engine


def _error_result(path, fmt: str, message: str) -> TraceResult:
    return TraceResult(file=STDIN_NAME if is_stdin(path) else str(path), format=fmt,
                       findings=(), devices=(), read_summary={}, error=message)


def _timestamps(first: list[float]) -> str:
    if not first:
        return "none"
    value = first[0]
    if value > 1e8:
        return "absolute"
    if value >= 3600:
        return "time-of-day"
    return "relative"


def build_result(engine: Engine, file: str, fmt: str, summary: dict,
                 timestamps: str) -> TraceResult:
    findings = tuple(sorted(engine.findings, key=lambda f: (f.file, f.line, f.rule)))
    if fmt == V1_FORMAT:
        # judged against the wrong protocol, a party would be blamed for nothing: only the
        # trace's own notes (unreadable lines) stay
        findings = tuple(f for f in findings if f.rule.startswith("T"))
    if fmt == "canonical":
        # the canonical format is this tool's own: a line that does not read is a defect of
        # the trace (a syntax error), not a capture limit to note
        findings = tuple(replace(f, severity="error") if f.rule == "T001" else f
                         for f in findings)
    unreadable = len(summary.get("unreadable") or [])
    devices = tuple(_device_result(engine, t, findings, unreadable, fmt)
                    for t in engine.devices.values())
    extra = {"events": engine.events, "unattributed_fds": dict(engine.unattributed)}
    return TraceResult(file=file, format=fmt, findings=findings, devices=devices,
                       read_summary=summary, timestamps=timestamps, extra=extra)


def _device_result(engine: Engine, track: DeviceTrack, findings: tuple[Finding, ...],
                   unreadable: int = 0, fmt: str = "") -> DeviceResult:
    configs = track.configs
    flag_sets = sorted({c.flags for c in configs})
    flags = f"{flag_sets[0]:#x}" if len(flag_sets) == 1 else "?"
    finals = tuple(sorted({c.state for c in configs}, key=state_order))
    errors = [f for f in findings if f.device == track.name and f.severity == "error"]
    unchecked = _unchecked_reason(track, fmt)
    if unchecked is not None and not errors:
        return DeviceResult(name=track.name, flags=flags,
                            flags_candidates=tuple(f"{f:#x}" for f in flag_sets),
                            verdict="unchecked", final_states=(),
                            inconclusive_reasons=(unchecked,))
    reasons = _inconclusive_reasons(engine, track, finals)
    if unreadable:
        reasons.append(f"{unreadable} line(s) of the trace could not be read (T001): a call "
                       "they held was not checked")
    verdict = "fail" if errors else ("inconclusive" if reasons else "pass")
    undecided = tuple(f"line {line}: {rule.id} {rule.name}" for line, rule in track.undecided)
    stats = track.stats
    return DeviceResult(
        name=track.name, flags=flags,
        flags_candidates=tuple(f"{f:#x}" for f in flag_sets),
        verdict=verdict, final_states=finals, inconclusive_reasons=tuple(reasons),
        states=tuple(stats.states), requests=tuple(stats.requests),
        sessions=stats.sessions_frozen(), first_ts=stats.first_ts, last_ts=stats.last_ts,
        undecided=undecided)


V1_FORMAT = "qemu-v1"
V1_REASON = ("not applicable: the log uses QEMU's v1 migration protocol (QEMU 5.1-7.1, the "
             "migration region), which the v2 model (MIG_DEVICE_STATE and the data fd) does "
             "not describe; nothing was checked")
NO_STATE_REASON = ("nothing to check: no migration state was observed or requested for this "
                   "device (no MIG_DEVICE_STATE or hidden FEATURE call, no QEMU state event, "
                   "no data fd)")


def _unchecked_reason(track: DeviceTrack, fmt: str) -> str | None:
    """Why nothing about the device's migration was checked, or None when something was."""
    if fmt == V1_FORMAT:
        return V1_REASON
    if not track.migration_seen:
        return NO_STATE_REASON
    return None


def _inconclusive_reasons(engine: Engine, track: DeviceTrack,
                          finals: tuple[str, ...]) -> list[str]:
    reasons: list[str] = []
    configs = track.configs
    if track.truncated:
        reasons.append("too many readings of hidden calls: some were dropped")
    if not track.seen_open:
        reasons.append("the trace starts after the device was opened: its first state was "
                       "not shown")
    if not track.closed:
        live = any(c.session is not None for c in configs)
        if live or not set(finals) <= SETTLED_STATES:
            what = "/".join(finals)
            tail = " with a data session possibly live" if live else ""
            reasons.append(f"the trace ends mid-migration: the device may still be in {what}"
                           f"{tail}")
    if track.undecided:
        by_rule: dict[str, list[int]] = {}
        for line, rule in track.undecided:
            by_rule.setdefault(rule.id, []).append(line)
        parts = []
        for rule_id, lines in sorted(by_rule.items(), key=lambda kv: kv[1][0]):
            shown = ", ".join(str(n) for n in lines[:MAX_REASON_LINES])
            more = f" +{len(lines) - MAX_REASON_LINES}" if len(lines) > \
                MAX_REASON_LINES else ""
            where = "line" if len(lines) == 1 else "lines"
            parts.append(f"{rule_id} {CATALOGUE[rule_id].name} at {where} {shown}{more}")
        why = HIDDEN_ADVICE if track.payload_hidden else OPEN_IN_MODEL
        reasons.append("undecided, the trace fits readings that break and readings that keep "
                       + "; ".join(parts) + " - " + why)
    return reasons
