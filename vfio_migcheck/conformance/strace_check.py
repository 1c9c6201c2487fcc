"""The checker on the lab's strace captures, held against the same runs' ground truth.

For every run with an strace capture, the checker (``vfio_migcheck.checker.api``) reads
both the capture, where payloads are hidden, and the runner's ground-truth canonical trace,
where everything is decoded. The ground truth is the reference: an error the checker reports
on the capture but not on the ground truth is a false alarm caused by what strace hides; an
error only the ground truth shows was missed (acceptable only while the capture's verdict is
not ``pass``: a missed error must leave the capture inconclusive, never clean).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vfio_migcheck.conformance.files import capture_of, ground_truths, run_name

CONSISTENT, FALSE_ALARM, MISSED, UNREADABLE, SKIPPED, MISREAD = (
    "consistent", "false alarm", "missed", "unreadable", "skipped", "misread")

# the calls both a capture and the ground truth show, with their fd and result
CALL_KINDS = frozenset({"feature", "device_reset", "device_close", "data_io", "precopy_info",
                        "data_poll", "data_seek", "data_close"})


@dataclass(frozen=True)
class RunCheck:
    variant: str
    scenario: str
    capture: str
    truth_verdict: str
    capture_verdict: str
    truth_errors: tuple[str, ...]
    capture_errors: tuple[str, ...]
    unreadable_lines: int
    status: str
    note: str = ""
    calls_matched: int = 0          # calls whose fd, result and errno both sides show alike

    def to_json(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


@dataclass
class StraceCheck:
    runs: list[RunCheck] = field(default_factory=list)
    skipped: str | None = None          # why the whole step did not run

    def count(self, status: str) -> int:
        return sum(1 for r in self.runs if r.status == status)

    def summary(self) -> str:
        if self.skipped:
            return f"skipped: {self.skipped}"
        counts = Counter(r.status for r in self.runs)
        parts = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        verdicts = Counter(r.capture_verdict for r in self.runs)
        vtext = ", ".join(f"{n} {v}" for v, n in sorted(verdicts.items()))
        calls = sum(r.calls_matched for r in self.runs)
        return (f"{len(self.runs)} captures checked: {parts} (capture verdicts: {vtext}); "
                f"{calls} calls read from the captures with the same fd, result and errno as "
                "the ground truth")

    def markdown_rows(self) -> list[str]:
        if self.skipped:
            return []
        rows = ["| capture | ground truth | capture verdict | errors (truth / capture) | "
                "status |", "|---|---|---|---|---|"]
        for r in self.runs:
            rows.append(f"| {r.capture} | {r.truth_verdict} | {r.capture_verdict} | "
                        f"{','.join(r.truth_errors) or '-'} / {','.join(r.capture_errors) or '-'}"
                        f" | {r.status}{': ' + r.note if r.note else ''} |")
        return rows

    def to_json(self) -> dict[str, Any]:
        return {"skipped": self.skipped, "runs": [r.to_json() for r in self.runs],
                "counts": dict(Counter(r.status for r in self.runs))}


def _verdict(result) -> str:
    if result.error:
        return "error"
    verdicts = {d.verdict for d in result.devices}
    for v in ("fail", "inconclusive", "pass"):
        if v in verdicts:
            return v
    return "pass"


def _errors(result) -> tuple[str, ...]:
    return tuple(sorted({f.rule for f in result.findings if f.severity == "error"}))


def call_sequence(path: Path, fmt: str) -> list[tuple[str, str, str, str]]:
    """(kind, fd, ret, errno) of every call event, in order, as the project's reader sees it."""
    from vfio_migcheck.traces.reading import open_trace

    reading = open_trace(path, fmt)
    return [(e.kind, str(getattr(e, "fd", "?")), str(getattr(e, "ret", "?")),
             str(getattr(e, "errno", "?"))) for e in reading.events if e.kind in CALL_KINDS]


def first_difference(truth: list, capture: list) -> str:
    for index, (a, b) in enumerate(zip(truth, capture)):
        if a != b:
            return f"call {index + 1}: ground truth {a}, capture {b}"
    return f"{len(truth)} calls in the ground truth, {len(capture)} in the capture"


def captures(root: Path) -> list[tuple[str, str, Path, Path]]:
    """(variant, scenario, capture path or -ff prefix, ground truth) for each traced run."""
    out = []
    for canon in ground_truths(root):
        capture = capture_of(canon)      # a file, or an -ff prefix of PREFIX.<pid>[.gz] files
        if capture is not None:
            out.append((canon.parent.name, run_name(canon), capture, canon))
    return out


def check_captures(root: Path, spec: str = "linux-6.12") -> StraceCheck:
    try:
        from vfio_migcheck.checker.api import check_trace
    except ImportError as exc:   # the checker is optional for the model comparison
        return StraceCheck(skipped=f"vfio_migcheck.checker.api is not available ({exc})")
    result = StraceCheck()
    for variant, name, capture, canon in captures(root):
        truth = check_trace(canon, spec=spec, fmt="canonical")
        seen = check_trace(capture, spec=spec, fmt="strace")
        unreadable = len(seen.read_summary.get("unreadable", [])) if not seen.error else 0
        t_err, c_err = _errors(truth), _errors(seen)
        t_verdict, c_verdict = _verdict(truth), _verdict(seen)
        note = ""
        if seen.error or truth.error:
            status, note = UNREADABLE, (seen.error or truth.error or "")
        elif set(c_err) - set(t_err):
            status = FALSE_ALARM
            note = "only the capture: " + ",".join(sorted(set(c_err) - set(t_err)))
        elif set(t_err) - set(c_err) and c_verdict == "pass":
            status = MISSED
            note = "capture passes, ground truth has " + ",".join(sorted(set(t_err) - set(c_err)))
        elif unreadable:
            status, note = UNREADABLE, f"{unreadable} unreadable lines"
        else:
            status = CONSISTENT
        truth_calls, capture_calls = call_sequence(canon, "canonical"), []
        if status == CONSISTENT:
            capture_calls = call_sequence(capture, "strace")
            if truth_calls != capture_calls:
                status, note = MISREAD, first_difference(truth_calls, capture_calls)
        matched = len(truth_calls) if status == CONSISTENT else 0
        rel = capture.relative_to(root).as_posix()
        result.runs.append(RunCheck(variant, name, rel, t_verdict, c_verdict, t_err, c_err,
                                    unreadable, status, note, matched))
    return result
