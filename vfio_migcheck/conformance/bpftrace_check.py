"""The eBPF captures of a lab run, held call by call and verdict by verdict against the
runner's ground truth.

An eBPF capture decodes every payload, so unlike strace (``strace_check``) nothing is
excused: each call the ground truth records must come out of the bpftrace reader with the
same fd, result, errno and decoded payload (requested and reply states, data fd, migration
flags, data size, PRECOPY_INFO counters, requested byte counts, poll readiness), in the same
order; and ``check`` on the capture must reach the ground truth's verdict, decided (pass or
fail), with the same error rules.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vfio_migcheck.conformance.files import ground_truths, run_name
from vfio_migcheck.conformance.strace_check import CALL_KINDS, _errors, _verdict
from vfio_migcheck.traces.events import UNKNOWN, Event
from vfio_migcheck.traces.lines import compressed_twin

AGREED, MISREAD, VERDICT_DIFFERS, UNDECIDED, UNREADABLE = (
    "agreed", "misread", "verdict differs", "undecided", "unreadable")
CAPTURE_SUFFIX = ".bpftrace"

# the decoded fields compared per event kind (besides fd, ret and errno)
PAYLOAD: dict[str, tuple[str, ...]] = {
    "feature": ("op", "feature", "target", "reply_state", "data_fd", "mig_flags", "data_size",
                "probe_ops", "argsz"),
    "data_io": ("call", "direction", "requested", "positioned"),
    "precopy_info": ("argsz", "initial_bytes", "dirty_bytes"),
    "data_poll": ("ready",),
    "data_seek": (), "data_close": (), "device_reset": (), "device_close": (),
}


@dataclass(frozen=True)
class CaptureRun:
    variant: str
    scenario: str
    capture: str
    calls: int                     # calls in the ground truth
    calls_agreed: int              # calls the capture shows identically, in order
    truth_verdict: str
    capture_verdict: str
    truth_errors: tuple[str, ...]
    capture_errors: tuple[str, ...]
    status: str
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


@dataclass
class BpftraceCheck:
    runs: list[CaptureRun] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for r in self.runs if r.status == status)

    def summary(self) -> str:
        if not self.runs:
            return "no eBPF captures"
        statuses = ", ".join(f"{n} {s}" for s, n in sorted(Counter(r.status for r in
                                                                   self.runs).items()))
        verdicts = ", ".join(f"{n} {v}" for v, n in sorted(Counter(r.capture_verdict for r in
                                                                   self.runs).items()))
        calls = sum(r.calls for r in self.runs)
        agreed = sum(r.calls_agreed for r in self.runs)
        return (f"{len(self.runs)} eBPF captures: {statuses} (capture verdicts: {verdicts}); "
                f"{agreed} of {calls} ground-truth calls read identically (fd, result, errno, "
                "payload)")

    def to_json(self) -> dict[str, Any]:
        return {"runs": [r.to_json() for r in self.runs],
                "counts": dict(Counter(r.status for r in self.runs))}


def _value(event: Event, name: str) -> Any:
    value = getattr(event, name, None)
    return "?" if value is UNKNOWN else value


def call_view(event: Event, known: set[str] | None = None) -> tuple:
    """(kind, fd, ret, errno, payload...) of a call; ``known`` limits the payload fields to
    those the ground truth shows."""
    fields = [f for f in PAYLOAD[event.kind] if known is None or f in known]
    return (event.kind, _value(event, "fd"), _value(event, "ret"), _value(event, "errno"),
            *((f, _value(event, f)) for f in fields))


def calls_of(path: Path, fmt: str) -> list[Event]:
    from vfio_migcheck.traces.reading import open_trace

    return [e for e in open_trace(path, fmt).events if e.kind in CALL_KINDS]


def compare_calls(truth: list[Event], capture: list[Event]) -> tuple[int, str]:
    """How many calls agree before the first difference, and what the difference is."""
    for index, (t, c) in enumerate(zip(truth, capture)):
        known = {f for f in PAYLOAD[t.kind] if getattr(t, f, None) is not UNKNOWN}
        want, got = call_view(t, known), call_view(c, known) if c.kind == t.kind else \
            call_view(c)
        if want != got:
            return index, (f"call {index + 1} (ground truth line {t.origin.line}, capture "
                           f"line {c.origin.line}): ground truth {want}, capture {got}")
    if len(truth) != len(capture):
        return min(len(truth), len(capture)), (f"{len(truth)} calls in the ground truth, "
                                                f"{len(capture)} in the capture")
    return len(truth), ""


def capture_of(canon: Path) -> Path | None:
    path = compressed_twin(canon.parent / f"{run_name(canon)}{CAPTURE_SUFFIX}")
    return path if path.is_file() else None


def check_run(variant: str, canon: Path, capture: Path, root: Path,
              spec: str = "linux-6.12") -> CaptureRun:
    from vfio_migcheck.checker.api import check_trace

    truth = check_trace(canon, spec=spec, fmt="canonical")
    seen = check_trace(capture, spec=spec, fmt="auto")
    rel = capture.relative_to(root).as_posix()
    name = run_name(canon)
    if truth.error or seen.error:
        return CaptureRun(variant, name, rel, 0, 0, "error", "error", (), (), UNREADABLE,
                          truth.error or seen.error or "")
    if seen.format != "bpftrace":
        return CaptureRun(variant, name, rel, 0, 0, _verdict(truth), _verdict(seen), (), (),
                          UNREADABLE, f"detected as {seen.format}, not bpftrace")
    truth_calls, capture_calls = calls_of(canon, "canonical"), calls_of(capture, "bpftrace")
    agreed, difference = compare_calls(truth_calls, capture_calls)
    t_verdict, c_verdict = _verdict(truth), _verdict(seen)
    t_err, c_err = _errors(truth), _errors(seen)
    unreadable = len(seen.read_summary.get("unreadable") or [])
    if unreadable:
        status, note = UNREADABLE, f"{unreadable} unreadable lines"
    elif difference:
        status, note = MISREAD, difference
    elif c_verdict not in ("pass", "fail"):
        status, note = UNDECIDED, "; ".join(r for d in seen.devices
                                            for r in d.inconclusive_reasons)
    elif (t_verdict, t_err) != (c_verdict, c_err):
        status, note = VERDICT_DIFFERS, f"ground truth {t_verdict} {t_err}, capture " \
                                        f"{c_verdict} {c_err}"
    else:
        status, note = AGREED, ""
    return CaptureRun(variant, name, rel, len(truth_calls), agreed, t_verdict, c_verdict,
                      t_err, c_err, status, note)


def check_bpftrace_captures(root: Path, spec: str = "linux-6.12") -> BpftraceCheck:
    result = BpftraceCheck()
    for canon in ground_truths(root):
        capture = capture_of(canon)
        if capture is not None:
            result.runs.append(check_run(canon.parent.name, canon, capture, root, spec))
    return result
