"""Runs of lines read as one (traces/events.py ``Run``) must change nothing in a check.

``check_trace`` lets the canonical and QEMU readers hand over runs of quiet lines as one
``DataRun`` / ``QuietRun``; the engine applies a stretch of a data run in one step when
each of its calls would be a quiet self-loop of the automaton's node, and counts a quiet
QEMU run, else it feeds the lines' events one by one. Held here, on generated traces full
of runs (and near misses) and on every trace of the corpus:

- expanding every run of a collapsed read gives exactly the events of the plain read
  (with their text) and the same line accounting;
- ``check_trace`` gives the same whole result (findings, verdicts, statistics, with and
  without per-event observations) collapsed and not;
- the collapsed way is taken (runs are made and applied in one step), so the comparison
  is not vacuous.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vfio_migcheck.checker.api import check_trace
from vfio_migcheck.checker.engine_shared import _payload
from vfio_migcheck.checker.runs import RunSteps
from vfio_migcheck.traces.events import (
    COLLAPSE_RUNS,
    CallRun,
    DataRun,
    QuietRun,
    ReadSummary,
    Run,
)
from vfio_migcheck.traces.qemu.formats import EVENTS
from vfio_migcheck.traces.qemu.quiet import PREFIX_PARTS, prefix_ts, quiet_line
from vfio_migcheck.traces.qemu.reader import (
    _line_events,
    _other_kind,
    _plain_ok,
    _prefix_event,
    hot_event,
)
from vfio_migcheck.traces.reading import open_trace

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])


def read_both(path: Path, fmt: str = "auto") -> tuple[tuple, tuple, int]:
    """(plain read, collapsed read with its runs expanded, runs made): events with their
    text and JSON, and the summary."""
    out = []
    runs = 0
    for collapse in (False, True):
        token = COLLAPSE_RUNS.set(collapse)
        try:
            reading = open_trace(path, fmt)
            events = []
            for event in reading.events:
                if isinstance(event, Run):
                    runs += 1
                    events.extend(event.expand())
                else:
                    events.append(event)
        except (OSError, ValueError) as exc:     # a file no reader takes: the same error
            out.append((type(exc).__name__, str(exc)))
            continue
        finally:
            COLLAPSE_RUNS.reset(token)
        out.append(([(e, e.text, e.to_json()) for e in events], reading.summary.to_json()))
    return out[0], out[1], runs


def check_both(path: Path) -> None:
    for observations in (False, True):
        repeats = 0 if observations else 10
        plain = asdict(check_trace(path, observations=observations, max_repeats=repeats,
                                   collapse=False))
        collapsed = asdict(check_trace(path, observations=observations,
                                       max_repeats=repeats))
        assert collapsed == plain


# --- canonical traces ------------------------------------------------------------------------

STATES = ["RUNNING", "STOP", "STOP_COPY", "PRE_COPY", "PRE_COPY_P2P", "RESUMING",
          "RUNNING_P2P", "ERROR"]


@st.composite
def data_line(draw, fd: str) -> str:
    kind = draw(st.integers(0, 9))
    if kind <= 4:
        asked = draw(st.sampled_from(["64", "1048576", "0"]))
        got = draw(st.sampled_from([asked, asked, "0", "7", "-1 ENOMSG", "-1 EAGAIN", "99"]))
        return f"fd {fd} {draw(st.sampled_from(['read', 'read', 'write']))} {asked} = {got}"
    if kind <= 7:
        ret = draw(st.sampled_from(["0", "0", "-1 EINVAL"]))
        return (f"fd {fd} precopy_info argsz={draw(st.sampled_from(['24', '16']))} = {ret} "
                f"initial={draw(st.integers(0, 9))} dirty={draw(st.integers(0, 9))}")
    return draw(st.sampled_from([
        f"fd {fd} read ? = 5", f"fd {fd} read 64 = 64 <0.5>", f"fd {fd} poll ready=yes = 1",
        f"fd {fd} lseek = -1 ESPIPE", f"fd {fd}  read 64 = 64", "# a comment", "",
        f"fd {fd} read 64 = 64 call=readv"]))


@st.composite
def canonical_traces(draw) -> str:
    flags = draw(st.sampled_from(["STOP_COPY", "STOP_COPY|PRE_COPY", "STOP_COPY|P2P|PRE_COPY"]))
    lines = ["# vmc-trace 1", f"device d0 fd=9 flags={flags} state=RUNNING"]
    if draw(st.booleans()):
        lines.append("device d1 fd=10 flags=STOP_COPY|PRE_COPY state=RUNNING")
    clock = [100.0]

    def stamp() -> str:
        clock[0] += draw(st.sampled_from([0.0, 0.001, 0.5]))
        how = draw(st.integers(0, 5))
        if how == 0:
            return ""
        thread = draw(st.sampled_from(["", "[4250] ", "[4242] ", "[1/2] "]))
        return f"@{clock[0]:.6f} {thread}"

    for _ in range(draw(st.integers(1, 12))):
        step = draw(st.integers(0, 9))
        device = draw(st.sampled_from(["d0", "d0", "d1"])) if len(lines) > 2 and \
            lines[2].startswith("device d1") else "d0"
        if step <= 2:
            target = draw(st.sampled_from(STATES))
            fd = draw(st.sampled_from(["45", "46", "-1", "-1"]))
            ret = draw(st.sampled_from(["0", "0", "0", "-1 EINVAL"]))
            took = draw(st.sampled_from(["", "", " <0.000210>", " <0.5>"]))
            lines.append(f"{stamp()}{device} SET STATE {target} argsz=16 = {ret} data_fd={fd}"
                         f"{took}")
        elif step <= 6:
            fd = draw(st.sampled_from(["45", "45", "46", "9", "99", "045"]))
            pool = draw(st.lists(data_line(fd), min_size=1, max_size=3))
            for _ in range(draw(st.integers(1, 30))):
                lines.append(stamp() + draw(st.sampled_from(pool)))
        elif step == 7:
            lines.append(f"{stamp()}fd {draw(st.sampled_from(['45', '46']))} close = 0")
        elif step == 8:
            lines.append(draw(st.sampled_from([
                f"{device} GET STATE = 0 state=RUNNING", f"{device} RESET = 0",
                f"{device} GET MIGRATION argsz=16 = 0 flags=STOP_COPY|PRE_COPY",
                "fd 45 dup = 50", "fd 47 appeared device=d0", "fd 45 read 64 = 64 oops"])))
        else:
            lines.append(f"{stamp()}{device} SET STATE STOP_COPY = 0 data_fd=-1")
    return "\n".join(lines) + "\n"


@SETTINGS
@given(canonical_traces())
def test_canonical_runs_read_and_check_the_same(tmp_path_factory, text: str) -> None:
    path = tmp_path_factory.mktemp("c") / "t.vmc"
    path.write_text(text)
    plain, collapsed, _runs = read_both(path)
    assert collapsed == plain
    check_both(path)


@SETTINGS
@given(canonical_traces())
def test_a_call_run_s_keys_tell_its_payloads_apart(tmp_path_factory, text: str) -> None:
    """CallRun.keys: equal keys only for calls equal but for provenance (the engine
    remembers a call's lane decision under its key)."""
    path = tmp_path_factory.mktemp("k") / "t.vmc"
    path.write_text(text)
    token = COLLAPSE_RUNS.set(True)
    try:
        runs = [e for e in open_trace(path, "auto").events if isinstance(e, CallRun)]
    finally:
        COLLAPSE_RUNS.reset(token)
    seen: dict = {}
    for run in runs:
        assert len(run.keys) == len(run.calls) == len(run.texts) >= 1
        for key, call in zip(run.keys, run.calls):
            payload = _payload(call, True)[0]
            assert seen.setdefault(key, payload) == payload, (key, call)


LOOP = ("# vmc-trace 1\ndevice d0 fd=9 flags=STOP_COPY|PRE_COPY state=RUNNING\n"
        + "".join(
            f"@{100 + cycle}.0 [7] d0 SET STATE PRE_COPY argsz=16 = 0 data_fd=45\n"
            + "".join(f"@{100 + cycle}.{i:03d} [7] fd 45 precopy_info argsz=24 = 0 "
                      f"initial={i} dirty=0\n@{100 + cycle}.{i:03d} [7] fd 45 read 64 = 64\n"
                      for i in range(1, 30))
            + f"@{100 + cycle}.5 [7] fd 45 read 64 = -1 ENOMSG\n"
            f"@{100 + cycle}.6 [7] d0 SET STATE STOP_COPY argsz=16 = 0 data_fd=-1\n"
            + f"@{100 + cycle}.7 [7] fd 45 read 64 = 64\n" * 9
            + f"@{100 + cycle}.8 [7] fd 45 read 64 = 0\n"
            f"@{100 + cycle}.9 [7] d0 SET STATE STOP argsz=16 = 0 data_fd=-1\n"
            f"@{100 + cycle}.9 [7] fd 45 close = 0\n"
            f"@{100 + cycle}.9 [7] d0 SET STATE RUNNING argsz=16 = 0 data_fd=-1\n"
            for cycle in range(6)))


def test_a_decoded_loop_is_applied_in_stretches(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "loop.vmc"
    path.write_text(LOOP)
    plain, collapsed, runs = read_both(path)
    assert collapsed == plain and runs >= 12
    applied = []
    stretch = RunSteps._quiet_stretch
    whole = RunSteps._run_step

    def counted(self, run, start, first):
        end = stretch(self, run, start, first)
        applied.append(end - start)
        return end

    def counted_whole(self, run):
        done = whole(self, run)
        applied.append(len(run) if done else 0)
        return done
    monkeypatch.setattr(RunSteps, "_quiet_stretch", counted)
    monkeypatch.setattr(RunSteps, "_run_step", counted_whole)
    check_both(path)
    # most reads after the first loop, in stretches or whole runs in one step
    assert sum(applied) > 300, applied
    result = check_trace(path)
    sessions = result.devices[0].sessions
    assert [s.reads for s in sessions] == [39] * 6      # every read but the failed one
    assert all(s.eof_line is not None for s in sessions)


def test_a_decoded_loop_s_device_calls_are_applied_in_stretches(tmp_path: Path,
                                                               monkeypatch) -> None:
    """Consecutive device calls come as one CallRun and take the lane together; with the
    CallRuns the result is the plain one's (check_both), so the comparison is not vacuous."""
    path = tmp_path / "loop.vmc"
    path.write_text(LOOP)
    plain, collapsed, _runs = read_both(path)
    assert collapsed == plain
    token = COLLAPSE_RUNS.set(True)
    try:
        call_runs = [e for e in open_trace(path, "auto").events if isinstance(e, CallRun)]
    finally:
        COLLAPSE_RUNS.reset(token)
    # RUNNING then PRE_COPY, from the second cycle's end on (a call is read the general
    # way the first time its text is seen)
    # (and each call read before on its own, a run of one)
    assert [len(r) for r in call_runs].count(2) == 4 and {len(r) for r in call_runs} == {1, 2}
    applied = []
    stretch = RunSteps._call_stretch
    whole = RunSteps._calls_step

    def counted(self, calls, keys, start):
        end = stretch(self, calls, keys, start)
        applied.append(end - start)
        return end

    def counted_whole(self, run):
        done = whole(self, run)
        applied.append(len(run) if done else 0)
        return done
    monkeypatch.setattr(RunSteps, "_call_stretch", counted)
    monkeypatch.setattr(RunSteps, "_calls_step", counted_whole)
    check_both(path)
    # the later cycles' pairs, each in one stretch or one remembered step
    assert sum(applied) >= 6, applied


# --- QEMU logs -------------------------------------------------------------------------------

PREFIXES = ["4030@1767225600.123456:", "1@2.3:", "2026-01-01T00:00:00.101430Z ",
            "2026-01-01T00:00:00Z ", "2026-02-30T00:00:00.5Z ", "2026-13-01T00:00:00.1Z ",
            "0000-01-01T00:00:00.1Z ", "2024-02-29T23:59:59.9Z ", "2026-01-28T24:00:00.1Z ",
            "x4030@1.2:", ""]
DEVICES = ["0000:3b:00.1", "0000:3b:00.1", "d2", "", " d2 ", "vfio_x", "a vm_state_notify"]
RECORDS = [
    "vfio_save_block  ({d}) data_size {n}", "vfio_save_iterate_start  ({d})",
    "vfio_save_iterate  ({d}) precopy initial size {n} precopy dirty size {n}",
    "vfio_state_pending  ({d}) stopcopy size {n}, precopy initial size {n}, precopy dirty "
    "size {n}, request switchover ack 1, exact 0, final 0",
    "vfio_save_setup  ({d}) data buffer size {n}", "vfio_save_cleanup  ({d})",
    "vfio_query_stop_copy_size  ({d}) stopcopy size {n} ret 0",
    "vfio_migration_init  ({d}) mig_flags 0x7, precopy_info_v2_used 1, dirty_pages_supported 1",
    "vfio_migration_realize  ({d})", "vfio_load_state  ({d}) data {n}",
    "vfio_migration_set_state  ({d}) new state {s}, recover state RUNNING",
    "vfio_migration_set_device_state  ({d}) state {s}", "vfio_save_block ({d}) data_size {n}",
    "vfio_save_block  ({d}) data_size {n}  ", "vfio_save_block  ({d}) data_size {n}\t",
    "vfio_save_block  ({d}) size {n}", "vfio_save_iterate  ({d}) data_size {n}",
    "vfio_save_block  ({d}) data_size", "vfio_save_block  ({d}) data_size 1" + "0" * 20,
    "vm_state_notify running 0 reason 7 (finish-migrate)", "migrate_set_state new state {w}",
    "vm_state_notify running 1 reason 9 (running) vm_state_notify", "vm_state_notify  running x",
    "vfio_region_read  ({d}:region0+0x0, 4) = 0x1", "an unrelated line"]


@st.composite
def qemu_lines(draw) -> str:
    record = draw(st.sampled_from(RECORDS)).format(
        d=draw(st.sampled_from(DEVICES)), n=draw(st.sampled_from(["0", "7", "1048576", "0x10"])),
        s=draw(st.sampled_from(["RUNNING", "STOP", "STOP_COPY", "PRE_COPY", "BOGUS"])),
        w=draw(st.sampled_from(["setup", "active", "cancelled"])))
    return draw(st.sampled_from(PREFIXES)) + record


@st.composite
def qemu_logs(draw) -> str:
    lines = []
    for _ in range(draw(st.integers(1, 10))):
        line = draw(qemu_lines())
        lines.extend([line] * draw(st.integers(1, 8)))
    return "\n".join(lines) + draw(st.sampled_from(["\n", ""]))


@settings(max_examples=400, deadline=None)
@given(qemu_lines())
def test_a_quiet_qemu_line_reads_soundly_the_usual_way(line: str) -> None:
    found = quiet_line(line)
    if found is not None:
        raw, device = found
        event = hot_event(line, "q.log", 1, "v2")
        assert event is not None and event.name == EVENTS[raw].name, line
        assert event.device == device.strip() and event.ts == prefix_ts(line)
    if _plain_ok(line, "v2"):
        events = _line_events(ReadSummary(), "q.log", 1, line, "v2", False)
        assert len(events) == 1 and events[0].kind == "qemu" and events[0].device == "", line
        assert events[0].ts == prefix_ts(line)


@settings(max_examples=400, deadline=None)
@given(qemu_lines())
def test_what_follows_a_prefix_decides_a_line_as_the_usual_way(line: str) -> None:
    """The reader remembers what a line that is no quiet record is by the text after its
    prefix (qemu/reader.py _other_kind): the event made from that and the prefix is the
    one hot_event makes from the whole line, and a device-less record is one _plain_ok
    takes."""
    m = PREFIX_PARTS.match(line)
    if m is None:
        return
    kind = _other_kind(line, m.end(), "v2")
    assert (kind == "plain") == _plain_ok(line, "v2"), line
    event = hot_event(line, "q.log", 3, "v2")
    if isinstance(kind, tuple):
        made = _prefix_event(kind, m, "q.log", 3)
        assert event is not None and (made, made.text) == (event, event.text), line
    elif kind != "plain":
        assert event is None, line


@SETTINGS
@given(qemu_logs())
def test_qemu_runs_read_and_check_the_same(tmp_path_factory, text: str) -> None:
    path = tmp_path_factory.mktemp("q") / "t.log"
    path.write_text(text)
    plain, collapsed, _runs = read_both(path, "qemu")
    assert collapsed == plain
    check_both(path)


def test_a_qemu_migration_log_is_counted_in_runs(tmp_path: Path) -> None:
    head = ("2026-01-01T00:00:00.1Z vfio_migration_init  (0000:3b:00.1) mig_flags 0x7, "
            "precopy_info_v2_used 1, dirty_pages_supported 1\n")
    cycle = ("2026-01-01T00:00:01.{i}Z vfio_migration_set_state  (0000:3b:00.1) new state "
             "PRE_COPY, recover state RUNNING\n2026-01-01T00:00:01.{i}Z "
             "vfio_migration_set_device_state  (0000:3b:00.1) state PRE_COPY\n"
             + "2026-01-01T00:00:02.{i}Z vfio_save_block  (0000:3b:00.1) data_size 1048576\n"
             "2026-01-01T00:00:02.{i}Z vfio_save_iterate_start  (0000:3b:00.1)\n" * 20
             + "2026-01-01T00:00:03.{i}Z migrate_set_state new state active\n"
             "2026-01-01T00:00:04.{i}Z vfio_migration_set_state  (0000:3b:00.1) new state "
             "RUNNING, recover state ERROR\n2026-01-01T00:00:04.{i}Z "
             "vfio_migration_set_device_state  (0000:3b:00.1) state RUNNING\n")
    path = tmp_path / "m.log"
    path.write_text(head + "".join(cycle.format(i=i) for i in range(1, 6)))
    plain, collapsed, runs = read_both(path, "qemu")
    # a run per cycle, and the migration_init line before the first: a run of one line
    assert collapsed == plain and runs == 6
    check_both(path)


# --- the corpus ------------------------------------------------------------------------------

def _corpus() -> list[Path]:
    """Every decoded canonical trace and QEMU log of the corpus, and every 8th of the lab's
    canonical walks (all of them are in tests/test_engine_differential.py)."""
    found = []
    for base in (ROOT / "tests" / "corpus", ROOT / "tests" / "fixtures",
                 ROOT / "vfio_migcheck" / "examples"):
        paths = [p for p in sorted(base.rglob("*")) if p.is_file()]
        found += [p for p in paths if p.name.endswith((".vmc", ".vmc.gz", ".log", ".log.gz"))]
        found += [p for p in paths if p.name.endswith(".canon.gz")][::8]
    return found


CORPUS = _corpus()


def test_the_corpus_has_canonical_and_qemu_traces() -> None:
    assert sum(p.name.endswith((".vmc", ".vmc.gz")) for p in CORPUS) > 50
    assert sum(p.name.endswith((".log", ".log.gz")) for p in CORPUS) > 20


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_canonical_and_qemu_trace_reads_and_checks_the_same(path: Path) -> None:
    plain, collapsed, _runs = read_both(path)
    assert collapsed == plain
    check_both(path)


def test_runs_are_not_events_of_the_vocabulary() -> None:
    from vfio_migcheck.traces.events import EVENT_TYPES
    assert not {Run, DataRun, QuietRun} & set(EVENT_TYPES.values())
