"""What checking one trace produces: findings, per-device verdicts and observations.

Plain, picklable data (the audit runs checks in worker processes) that every report
(text, JSON, SARIF, JUnit, HTML, audit summaries) is a view of. No report knows how the
findings were made.
"""

from __future__ import annotations

from dataclasses import asdict, field
from typing import Any

from vfio_migcheck.records import Record, record

SEVERITIES = ("error", "warning", "note")
PARTIES = ("driver", "vmm", "unknown")
#: "unchecked": nothing about the device's migration was checked (no state observed or
#: requested, or a protocol the model does not describe); never counted as a pass
VERDICTS = ("pass", "fail", "inconclusive", "unchecked")


@record
class Finding(Record):
    """One deviation, tied to a trace line, a rule and the uAPI statement it enforces."""

    rule: str
    severity: str                 # error | warning | note
    party: str                    # driver | vmm | unknown
    file: str
    line: int
    device: str
    message: str
    observed: str = ""            # SibylFS-style: what the trace shows
    allowed: str = ""             # what the model allows there
    continuing: str = ""          # what checking continues with
    related_lines: tuple[int, ...] = ()   # e.g. the SET that created the fd
    fingerprint: str = ""         # semantic, line-independent (rule, device, states, fd role)
    cite: str = ""                # e.g. "include/uapi/linux/vfio.h: MIG_DEVICE_STATE (R8)"
    # further findings of the same rule, device and severity this one stands for, not kept
    # (checker/repeats.py, ``check --max-repeats``), and the line of the last of them
    suppressed: int = 0
    suppressed_last_line: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@record
class StateObservation(Record):
    """After the event at ``line``, the device may be in any of ``states``."""

    line: int
    ts: float | None
    states: tuple[str, ...]


@record
class RequestObservation(Record):
    """A SET of MIG_DEVICE_STATE as far as the trace determines it.

    ``src``/``target``/``path`` are None when the trace leaves them open (several readings).
    """

    line: int
    ts: float | None
    src: str | None
    target: str | None
    ok: bool | None
    path: tuple[str, ...] | None


@record
class SessionStats(Record):
    """One data session: how it was opened and ended, and the bytes that moved."""

    kind: str                     # saving | resuming | unknown
    fd: int | None
    opened_line: int | None
    ended_line: int | None        # the arc or reset that ended it
    closed_line: int | None       # close() of the fd
    eof_line: int | None          # first read() == 0 in STOP_COPY
    bytes_read_precopy: int = 0
    bytes_read_stopcopy: int = 0
    bytes_written: int = 0
    reads: int = 0
    writes: int = 0
    read_sizes: tuple[int, ...] = ()
    opened_ts: float | None = None
    eof_ts: float | None = None
    stop_copy_ts: float | None = None     # entering STOP_COPY within this session
    bytes_read_unknown_phase: int = 0     # reads whose phase (pre-copy/stop-copy) is hidden


@record
class DeviceResult(Record):
    name: str
    flags: str                    # "0x7", or "?" when unknown
    flags_candidates: tuple[str, ...]   # flag sets that fit when the trace does not say
    verdict: str                  # pass | fail | inconclusive | unchecked
    final_states: tuple[str, ...]
    inconclusive_reasons: tuple[str, ...] = ()
    states: tuple[StateObservation, ...] = ()
    requests: tuple[RequestObservation, ...] = ()
    sessions: tuple[SessionStats, ...] = ()
    first_ts: float | None = None
    last_ts: float | None = None
    undecided: tuple[str, ...] = ()       # "line N: rule" checks hidden payloads left open

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@record
class TraceResult(Record):
    """Everything known after checking one trace file (or one -ff prefix)."""

    file: str
    format: str
    findings: tuple[Finding, ...]
    devices: tuple[DeviceResult, ...]
    read_summary: dict[str, Any]
    error: str | None = None      # the trace could not be read at all (exit code 2)
    timestamps: str = "none"      # none | absolute | time-of-day | relative
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def has_errors(self) -> bool:
        return any(f.severity == "error" for f in self.findings)

    @property
    def checked_nothing(self) -> bool:
        """Read, but no device's migration was checked: must not look like a pass."""
        return self.error is None and not self.has_errors and all(
            d.verdict == "unchecked" for d in self.devices)
