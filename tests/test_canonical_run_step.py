"""Runs in one remembered step (``Engine._run_step``, ``_calls_step``) change nothing.

The engine works out once per node what the line-by-line loop of ``on_data_run`` does with
a run — its first line fed on its own (the fast lane, or binding a file no device owns
yet), a quiet stretch, its last line fed on its own — and replays that plan for later runs
of the same summary of shapes, making only the event it holds. Held here against the
plain path (every event fed on its own, ``collapse=False``) and against the loop itself
(``_run_step`` refused), on generated decoded migration loops (repeated sessions, so
plans are replayed; threads, stamps and durations that make calls overlap; other shapes
in the middle; a second device; a missing close) and on a fixed loop where the step must
be taken in each of its forms. A run of device calls that ``_call_stretch`` would take
whole is replayed from its plan the same way (``_calls_step``), held in the same tests,
engine state compared in lockstep after every run. ``DataRun.stamp`` and ``time`` are held
to the events they stand for.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_canonical_hotline import hot_like
from tests.test_collapse_runs import LOOP
from vfio_migcheck.checker import api
from vfio_migcheck.checker import engine as engine_module
from vfio_migcheck.checker.api import check_trace
from vfio_migcheck.checker.engine import Engine
from vfio_migcheck.checker.engine_shared import _overlap
from vfio_migcheck.checker.runs import RunSteps
from vfio_migcheck.checker.stats import RECORD_OBSERVATIONS
from vfio_migcheck.traces.canonical.hotline import HOT_LINE, HotMember, hot_event_on
from vfio_migcheck.traces.events import COLLAPSE_RUNS, CallRun, DataRun
from vfio_migcheck.traces.reading import open_trace

SETTINGS = settings(max_examples=80, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])


def results(path: Path, monkeypatch, observations: bool) -> tuple[dict, dict, dict]:
    """(plain, collapsed with the loop alone, collapsed with _run_step) results."""
    plain = asdict(check_trace(path, observations=observations, collapse=False))
    with monkeypatch.context() as patched:
        patched.setattr(RunSteps, "_run_step", lambda self, run: False)
        patched.setattr(RunSteps, "_calls_step", lambda self, run: False)
        looped = asdict(check_trace(path, observations=observations))
    whole = asdict(check_trace(path, observations=observations))
    return plain, looped, whole


def assert_same(path: Path, monkeypatch) -> None:
    for observations in (False, True):
        plain, looped, whole = results(path, monkeypatch, observations)
        assert looped == plain
        assert whole == plain


@st.composite
def migration_loops(draw) -> str:
    """A decoded capture's shape: the same session again and again, with variations."""
    lines = ["# vmc-trace 1", draw(st.sampled_from([
        "device d0 fd=9 flags=STOP_COPY|P2P|PRE_COPY state=RUNNING driver=mlx5-vfio-pci",
        "device d0 fd=9 flags=STOP_COPY|P2P|PRE_COPY state=RUNNING",
        "device d0 fd=9 flags=STOP_COPY|P2P|PRE_COPY"]))]      # (RUNNING unless shown)
    if draw(st.integers(0, 4)) == 0:
        lines.append("device d1 fd=10 flags=STOP_COPY|PRE_COPY state=RUNNING")
    clock = [100.0]
    timed = draw(st.booleans())
    data_thread = draw(st.sampled_from(["[4250] ", "[4250] ", "", "[1/2] "]))

    def stamp(thread: str) -> str:
        clock[0] += draw(st.sampled_from([0.000001, 0.0001, 0.3]))
        # (a line without its stamp now and then: the times are looked for around it)
        shown = timed and draw(st.integers(0, 9)) > 0
        return (f"@{clock[0]:.6f} " if shown else "") + thread

    def data(fd: str, body: str) -> str:
        return stamp(data_thread) + f"fd {fd} {body}"

    middle = ["read 64 = 64", "read 64 = 64", "write 64 = 64", "read 64 = 7",
              "read 64 = -1 EAGAIN", "read 64 = 0"]
    for _ in range(draw(st.integers(1, 7))):
        fd = draw(st.sampled_from(["45", "45", "46"]))
        call_thread = draw(st.sampled_from(["[4250] ", "[4242] ", "", "[5/4242] "]))
        took = draw(st.sampled_from(["", "", " <0.000210>", " <0.5>"]))
        lines.append(stamp(call_thread) + "d0 GET MIGRATION argsz=16 = 0 "
                     "flags=STOP_COPY|P2P|PRE_COPY")
        for _ in range(draw(st.integers(0, 3))):   # more device calls, maybe another thread's
            lines.append(stamp(draw(st.sampled_from([call_thread, "[4243] "]))) + draw(
                st.sampled_from(["d0 SET DMA_LOGGING_START argsz=32 = 0",
                                 "d0 GET STATE argsz=16 = 0 state=RUNNING",
                                 "d0 GET STATE argsz=16 = 0 state=STOP",
                                 "d0 SET DMA_LOGGING_STOP argsz=8 = 0",
                                 "d0 SET STATE RUNNING argsz=16 = 0 data_fd=-1 <0.5>"])))
        lines.append(stamp(call_thread) + f"d0 SET STATE PRE_COPY argsz=16 = 0 data_fd={fd}"
                     + took)
        lines.append(data(fd, "precopy_info argsz=24 = 0 initial=2097152 dirty=0"))
        odd = draw(st.sampled_from([None, None, None, *middle]))
        for index in range(draw(st.integers(0, 9))):
            lines.append(data(fd, f"precopy_info argsz=24 = 0 initial={index} dirty=4096"))
            lines.append(data(fd, odd if odd is not None and index == 2 else "read 64 = 64"))
        if draw(st.integers(0, 5)) == 0:
            break                               # the trace ends in the PRE_COPY run
        if draw(st.integers(0, 3)):
            lines.append(data(fd, "read 64 = -1 ENOMSG"))
        if draw(st.booleans()):
            lines.append(stamp(call_thread) + "d0 GET DMA_LOGGING_REPORT argsz=40 = 0")
            lines.append(stamp(call_thread) + "d0 SET STATE PRE_COPY_P2P argsz=16 = 0 "
                         "data_fd=-1")
        lines.append(stamp(call_thread) + "d0 SET STATE STOP_COPY argsz=16 = 0 data_fd=-1"
                     + took)
        after_eof = draw(st.integers(0, 3)) == 0     # the EOF first, then reads of nothing
        if after_eof:
            lines.append(data(fd, "read 64 = 0"))
        for _ in range(draw(st.integers(0, 8))):
            lines.append(data(fd, "read 64 = 0" if after_eof else "read 64 = 64"))
        lines.append(data(fd, draw(st.sampled_from(["read 64 = 0", "read 64 = 0",
                                                    "read 64 = 64", "write 64 = 64"]))))
        lines.append(stamp(call_thread) + "d0 SET STATE STOP argsz=16 = 0 data_fd=-1")
        if draw(st.integers(0, 5)):
            lines.append(stamp(data_thread) + f"fd {fd} close = 0")
        lines.append(stamp(call_thread) + "d0 SET STATE RUNNING argsz=16 = 0 data_fd=-1")
    return "\n".join(lines) + "\n"


@SETTINGS
@given(migration_loops())
def test_generated_loops_check_the_same_with_runs_in_one_step(tmp_path_factory, monkeypatch,
                                                              text: str) -> None:
    path = tmp_path_factory.mktemp("r") / "t.vmc"
    path.write_text(text)
    assert_same(path, monkeypatch)


def engine_state(engine: engine_module.Engine) -> tuple:
    """What a run leaves in an engine and may tell later (the automaton's own nodes and
    counts aside): the readings, the held call, the statistics, the files' bookkeeping."""
    tracks = []
    for name, track in engine.devices.items():
        held = track.held
        stats = track.stats
        tracks.append((name, track.readings.configs, track.undecided, track.pid,
                       track.unsure_start, track.migration_seen,
                       None if held is None else (held.event, held.event.text, held.key,
                                                  held.step is None, held.before.configs,
                                                  list(held.findings)),
                       stats.sessions, stats.unended, stats.first_ts, stats.last_ts))
    return (engine.events, engine.last_origin, engine._timed, engine._file_fds,
            engine._file_forks, engine.file_device, engine._retiring, engine.unattributed,
            engine.findings, tracks)


@SETTINGS
@given(migration_loops())
def test_a_run_in_one_step_leaves_the_engine_as_the_loop_does(tmp_path_factory,
                                                              text: str) -> None:
    """Lockstep: one engine with _run_step, one without, fed the same collapsed events;
    after every data run both hold the same state."""
    path = tmp_path_factory.mktemp("l") / "t.vmc"
    path.write_text(text)
    lockstep(path)


def lockstep(path: Path) -> None:
    """(Without per-event observations, as ``check`` runs: the runs of device calls are
    taken in one step only so.)"""
    spec, flags = api._resolve(None, None)
    token = COLLAPSE_RUNS.set(True)
    try:
        events = list(open_trace(path, "auto").events)
    finally:
        COLLAPSE_RUNS.reset(token)
    token = RECORD_OBSERVATIONS.set(False)
    try:
        whole = Engine(spec, flags, api.rule_filter(None, None), api._profile(None))
        looped = Engine(spec, flags, api.rule_filter(None, None), api._profile(None))
        looped._run_step = lambda run: False      # type: ignore[method-assign]
        looped._calls_step = lambda run: False    # type: ignore[method-assign]
        for event in events:
            whole.feed_one(event)
            looped.feed_one(event)
            if isinstance(event, (DataRun, CallRun)):
                assert engine_state(whole) == engine_state(looped), event.origin
    finally:
        RECORD_OBSERVATIONS.reset(token)


def counted_steps(monkeypatch) -> tuple[list[int], set[tuple]]:
    """The length of each run _run_step took, and the forms of the plans it worked out:
    (the file bound by the first line, the first line on its own, where the stretch
    starts, the last line on its own)."""
    taken: list[int] = []
    forms: set[tuple] = set()
    whole = RunSteps._run_step
    plan = RunSteps._run_plan

    def counted(self, run):
        done = whole(self, run)
        if done:
            taken.append(len(run))
        return done

    def noted(self, run, track, before, bind, first):
        found = plan(self, run, track, before, bind, first)
        if found:
            lone, start, last_step = found
            forms.add((bind, lone is not None, start, last_step is not None))
        return found
    monkeypatch.setattr(RunSteps, "_run_step", counted)
    monkeypatch.setattr(RunSteps, "_run_plan", noted)
    return taken, forms


def test_a_decoded_loop_takes_the_step_in_each_form(tmp_path: Path, monkeypatch) -> None:
    """LOOP's runs: the PRE_COPY ones bind their file with their first line, then a
    stretch to the end; the STOP_COPY ones are a stretch from the start and their EOF read
    on its own. After the first cycles every run is one step, and the result is the plain
    one."""
    path = tmp_path / "loop.vmc"
    path.write_text(LOOP)
    assert_same(path, monkeypatch)
    lockstep(path)
    taken, forms = counted_steps(monkeypatch)
    result = check_trace(path)
    assert (True, True, 1, False) in forms          # bind, first line alone, to the end
    assert (False, False, 0, True) in forms         # a stretch, then the last line alone
    assert len(taken) >= 8 and sum(taken) > 300, taken
    sessions = result.devices[0].sessions
    assert [s.reads for s in sessions] == [39] * 6
    assert all(s.eof_line is not None and s.eof_ts is not None for s in sessions)


#: LOOP with its STOP_COPY reads all at EOF: the first one (the EOF) on its own, the others
#: a stretch to the end of the run
EOF_LOOP = re.sub(r"(\.7 \[7\] fd 45 read 64 = )64", r"\g<1>0", LOOP)


def test_a_run_starting_at_eof_takes_the_step(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "eof.vmc"
    path.write_text(EOF_LOOP)
    assert_same(path, monkeypatch)
    lockstep(path)
    taken, forms = counted_steps(monkeypatch)
    result = check_trace(path)
    assert (False, True, 1, False) in forms and len(taken) >= 8
    lines = EOF_LOOP.splitlines()
    for session in result.devices[0].sessions:     # the first read of each STOP_COPY run
        assert lines[session.eof_line - 1].endswith(".7 [7] fd 45 read 64 = 0")
        assert not lines[session.eof_line - 2].endswith(".7 [7] fd 45 read 64 = 0")


def test_a_step_is_refused_when_the_first_line_overlaps_the_held_call(tmp_path: Path,
                                                                     monkeypatch) -> None:
    """A SET of another thread still running when the run's first line starts: the plan
    is not replayed (the general path tries both orders), and the result is the plain one."""
    text = LOOP.replace("[7] d0 SET STATE STOP_COPY argsz=16 = 0 data_fd=-1",
                        "[8] d0 SET STATE STOP_COPY argsz=16 = 0 data_fd=-1 <9.0>")
    path = tmp_path / "overlap.vmc"
    path.write_text(text)
    assert_same(path, monkeypatch)


def test_a_step_is_never_taken_over_an_overlapping_held_call(tmp_path: Path,
                                                            monkeypatch) -> None:
    """Whenever the held call may overlap a run's first line, _run_step refuses the run
    (and changes nothing: the loop then does it all); the case does come up."""
    text = LOOP.replace("[7] d0 SET STATE STOP_COPY argsz=16 = 0 data_fd=-1",
                        "[8] d0 SET STATE STOP_COPY argsz=16 = 0 data_fd=-1 <9.0>")
    path = tmp_path / "overlap.vmc"
    path.write_text(text)
    def overlaps(engine, run) -> bool:
        return any(_overlap(h.event, run.member(0)) for h in _held(engine))

    overlapping = _watch_refusals(monkeypatch, "_run_step", overlaps)
    check_trace(path)
    assert len(overlapping) >= 4


def _held(engine) -> list:
    return [t.held for t in engine.devices.values() if t.held is not None]


def _watch_refusals(monkeypatch, method: str, overlaps) -> list[bool]:
    """Wrap ``Engine.<method>`` so that a run for which ``overlaps(engine, run)`` holds
    must be refused with nothing changed; returns what it did with each such run."""
    whole = getattr(RunSteps, method)
    overlapping: list[bool] = []

    def watched(self, run):
        events, findings = self.events, len(self.findings)
        overlap = overlaps(self, run)
        done = whole(self, run)
        if overlap:
            overlapping.append(done)
            assert not done and (self.events, len(self.findings)) == (events, findings)
        return done
    monkeypatch.setattr(RunSteps, method, watched)
    return overlapping


def test_a_run_of_calls_is_never_taken_over_an_overlap(tmp_path: Path, monkeypatch) -> None:
    """A call of another thread still running when the next call of the run starts:
    _calls_step refuses the run, changing nothing, and the result is the plain one."""
    text = LOOP.replace("[7] d0 SET STATE RUNNING argsz=16 = 0 data_fd=-1",
                        "[8] d0 SET STATE RUNNING argsz=16 = 0 data_fd=-1 <9.0>")
    path = tmp_path / "overlap.vmc"
    path.write_text(text)
    assert_same(path, monkeypatch)
    lockstep(path)
    def overlaps(engine, run) -> bool:
        calls = run.calls
        return any(_overlap(a, b) for a, b in zip(calls, calls[1:])) or \
            any(_overlap(h.event, calls[0]) for h in _held(engine))

    overlapping = _watch_refusals(monkeypatch, "_calls_step", overlaps)
    check_trace(path, observations=False)
    assert len(overlapping) >= 4


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hot_like())
def test_a_hot_line_s_stamp_is_its_event_s(text: str) -> None:
    m = HOT_LINE.fullmatch(text)
    if m is None:
        return
    event = hot_event_on(m, "f", "t.vmc", 3, text)
    assert HotMember.stamp(text) == (event.ts, event.pid, event.tid)
    assert HotMember.time(text) == event.ts


def test_a_run_s_stamps_are_its_members(tmp_path: Path) -> None:
    path = tmp_path / "stamps.vmc"
    path.write_text(LOOP.replace("[7] fd 45 read 64 = 64\n", "fd 45 read 64 = 64\n", 3)
                    .replace("[7] fd 45 precopy", "[3/7] fd 45 precopy", 5))
    token = COLLAPSE_RUNS.set(True)
    try:
        runs = [e for e in open_trace(path, "auto").events if isinstance(e, DataRun)]
    finally:
        COLLAPSE_RUNS.reset(token)
    assert len(runs) >= 12
    seen = set()
    for run in runs:
        for index in range(len(run)):
            event = run.member(index)
            stamp = run.stamp(index)
            assert stamp == (event.ts, event.pid, event.tid)
            assert run.time(index) == event.ts
            seen.add(stamp[1:])
    assert {(None, 7), (3, 7)} <= seen
