"""Hand-made checker results for the audit tests, plus a stand-in checker for the runner.

The audit is a pure function of TraceResult objects, so its numbers are tested on results
whose true values are known by construction.
"""

from __future__ import annotations

import os

from vfio_migcheck.checker.results import (
    DeviceResult,
    Finding,
    RequestObservation,
    SessionStats,
    StateObservation,
    TraceResult,
)


def obs(line: int, ts: float | None, *states: str) -> StateObservation:
    return StateObservation(line, ts, tuple(states))


def req(line: int, src: str | None, dst: str | None, ok: bool | None = True,
        path: tuple[str, ...] | None = None, ts: float | None = None) -> RequestObservation:
    return RequestObservation(line, ts, src, dst, ok, path)


def device(name: str = "dev0", flags: str = "0x7", verdict: str = "pass", *, states=(),
           requests=(), sessions=(), first_ts=None, last_ts=None, final=("RUNNING",),
           candidates=()) -> DeviceResult:
    return DeviceResult(name=name, flags=flags, flags_candidates=tuple(candidates),
                        verdict=verdict, final_states=tuple(final), states=tuple(states),
                        requests=tuple(requests), sessions=tuple(sessions),
                        first_ts=first_ts, last_ts=last_ts)


def finding(rule: str = "D001", severity: str = "error", party: str = "driver",
            file: str = "a.strace", line: int = 1, dev: str = "dev0") -> Finding:
    return Finding(rule=rule, severity=severity, party=party, file=file, line=line,
                   device=dev, message=f"{rule} at {line}")


def result(file: str, devices=(), findings=(), error=None,
           timestamps="time-of-day") -> TraceResult:
    return TraceResult(file=file, format="strace", findings=tuple(findings),
                       devices=tuple(devices), read_summary={}, error=error,
                       timestamps=timestamps)


def saving(fd=7, opened_line=10, pre=0, stop=0, reads=(), opened_ts=None, stop_copy_ts=None,
           eof_ts=None, eof_line=None, hidden=0) -> SessionStats:
    return SessionStats(kind="saving", fd=fd, opened_line=opened_line, ended_line=None,
                        closed_line=None, eof_line=eof_line, bytes_read_precopy=pre,
                        bytes_read_stopcopy=stop, reads=len(reads), read_sizes=tuple(reads),
                        opened_ts=opened_ts, stop_copy_ts=stop_copy_ts, eof_ts=eof_ts,
                        bytes_read_unknown_phase=hidden)


def resuming(fd=8, opened_line=20, written=0, writes=0, opened_ts=None) -> SessionStats:
    return SessionStats(kind="resuming", fd=fd, opened_line=opened_line, ended_line=None,
                        closed_line=None, eof_line=None, bytes_written=written, writes=writes,
                        opened_ts=opened_ts)


def fake_check(path: str, options) -> TraceResult:
    """Stand-in checker for runner tests: the file's first line says what to do."""
    with open(path, encoding="utf-8") as handle:
        command = handle.readline().strip()
    if command == "crash":
        os._exit(3)  # a worker dying, as on a segfault
    if command == "raise":
        raise ValueError("malformed capture\nsecond line")
    if command == "unreadable":
        return result(path, error=f"{path}:1: not a trace")
    return result(path, devices=[device(verdict=command or "pass")],
                  findings=[finding(file=path, line=2)])


def test_builders_make_consistent_results():
    r = result("x", devices=[device()], findings=[finding(severity="warning")])
    assert not r.has_errors
    assert r.devices[0].flags == "0x7"
