"""The cached engine must give exactly the results of the plain fold (issue 12).

``Engine(memo=False)`` computes every step on every reading and never forgets a closed file:
the fold as it was before the automaton (checker/automaton.py). Every trace of the corpus,
the fixtures and the bundled examples, and hypothesis-generated event streams, are checked
both ways from the same events; findings, verdicts, undecided rules, final states and
statistics must be equal (the whole JSON result).

The robustness reproducers are left out: they go past the bound on readings (T002), where
the two ways keep different readings (the cached engine, having merged the readings that
differed only in closed files, keeps more of them) and neither claims completeness.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from functools import partial
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.dense_loop import dense_loop_events
from tests.test_engine_properties import SPEC, any_event, event_lists, walks
from vfio_migcheck.checker import api
from vfio_migcheck.checker.api import check_events
from vfio_migcheck.checker.engine import Engine
from vfio_migcheck.traces.canonical.reader import read_text
from vfio_migcheck.traces.events import (
    DataClose,
    DeviceOpen,
    DeviceReset,
    FdAppeared,
    FeatureCall,
    Origin,
    PrecopyInfo,
)
from vfio_migcheck.traces.reading import open_trace

ROOT = Path(__file__).parent.parent
TRACE_SUFFIXES = (".vmc", ".strace", ".log", ".canon", ".gz")


def _traces() -> list[Path]:
    found: list[Path] = []
    for base in (ROOT / "tests" / "corpus", ROOT / "tests" / "fixtures",
                 ROOT / "vfio_migcheck" / "examples"):
        for path in sorted(base.rglob("*")):
            if not path.is_file() or "robustness" in path.parts:
                continue
            name = path.name
            if ".json" in name:
                continue  # the lab's predictions, not traces
            if name.endswith(TRACE_SUFFIXES) or ".strace." in name:
                found.append(path)
    return found


TRACES = _traces()


def _both(events: list, **options) -> tuple[dict, dict]:
    cached = asdict(check_events(events, **options))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(api, "Engine", partial(Engine, memo=False))
        plain = asdict(check_events(events, **options))
    return cached, plain


def test_the_corpus_is_found() -> None:
    assert len(TRACES) > 50
    assert any(p.name.endswith(".gz") for p in TRACES)


@pytest.mark.parametrize("path", TRACES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_trace_checks_the_same(path: Path) -> None:
    reading = open_trace(path, "auto")
    events = list(reading.events)
    cached, plain = _both(events, file=str(path), summary=reading.summary)
    assert cached == plain


def as_readers_name(events: list) -> list:
    """The stream with the readers' naming: a data file whose fd was closed is never named
    again (a later use of the same fd number is another file, with a new name)."""
    renamed: dict[str, str] = {}
    out = []
    for event in events:
        file = getattr(event, "file", None)
        if file is not None and file in renamed:
            event = replace(event, file=renamed[file])
        out.append(event)
        if isinstance(event, DataClose) and (event.ret == 0 or event.how != "close"):
            renamed[file] = event.file + "'"
    return out


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event_lists())
def test_generated_event_streams_check_the_same(events) -> None:
    events = as_readers_name(events)
    cached, plain = _both(events, spec=SPEC)
    assert_same_within_bound(_as_dict(cached), _as_dict(plain))


def _as_dict(result) -> dict:
    return result if isinstance(result, dict) else asdict(result)


def assert_same_within_bound(cached: dict, plain: dict) -> None:
    """Equal results, unless the plain fold went past the bound on readings (T002) first.

    The cached engine forgets data files that were closed (they cannot be named again), so
    readings that differ only in such a file are one reading: it may stay under the bound
    where the plain fold cut its readings, or reach it only later in the stream. Then what
    the plain fold still holds of a device (final states, flag sets) is a subset of the
    cached engine's (it dropped readings earlier; the other dropped none before it did).
    """
    if _bound_first_at(plain) < _bound_first_at(cached):
        for mine, theirs in zip(cached["devices"], plain["devices"], strict=True):
            assert set(theirs["final_states"]) <= set(mine["final_states"])
            assert set(theirs["flags_candidates"]) <= set(mine["flags_candidates"])
        return
    assert cached == plain


def _bound_first_at(result: dict) -> float:
    """The line of the first bound finding (T002) of a result; infinite without one."""
    lines = [f["line"] for f in result["findings"] if f["rule"] == "T002"]
    return min(lines, default=float("inf"))


# --- the fast lane (Engine._fast_lane) against the general path ------------------------------


def _fast_and_general(events: list, **options) -> tuple[dict, dict]:
    fast = asdict(check_events(events, **options))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(api, "Engine", partial(Engine, fast=False))
        general = asdict(check_events(events, **options))
    return fast, general


def _renumbered(events: list) -> list:
    out = []
    for event in events:
        line = len(out) + 1
        last = event.origin.last_line
        origin = Origin("p", line, None if last is None else line + last - event.origin.line)
        out.append(replace(event, origin=origin))
    return out


@st.composite
def repeating_streams(draw) -> list:
    """Repeats are what the automaton caches and the fast lane replays: a model walk whose
    data events each come several times (long runs of reads), with random events slipped
    in, or random events followed by a random stretch of events repeated."""
    if draw(st.booleans()):
        events = []
        for event in draw(walks()).events:
            events.append(event)
            if hasattr(event, "file"):
                events.extend([event] * draw(st.integers(0, 4)))
            if draw(st.integers(0, 9)) == 0:
                events.append(draw(any_event(1)))
    else:
        events = list(draw(event_lists()))
        loop = draw(st.lists(any_event(1), min_size=1, max_size=6))
        events.extend(loop * draw(st.integers(2, 8)))
    return as_readers_name(_renumbered(events))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(repeating_streams())
def test_fast_lane_changes_nothing_on_repeating_streams(events) -> None:
    fast, general = _fast_and_general(events, spec=SPEC)
    assert fast == general


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(walks())
def test_fast_lane_changes_nothing_on_model_walks(walk) -> None:
    fast, general = _fast_and_general(walk.events, spec=SPEC)
    assert fast == general


LOOP = """device d0 fd=9 flags=STOP_COPY|PRE_COPY state=RUNNING
d0 SET STATE PRE_COPY = 0 data_fd=45
""" + "fd 45 precopy_info argsz=24 = 0 initial=64 dirty=0\nfd 45 read 64 = 64\n" * 50 + """\
fd 45 read 64 = -1 ENOMSG
d0 SET STATE STOP_COPY = 0 data_fd=-1
fd 45 read 64 = 64
fd 45 read 64 = 0
fd 45 write 64 = 64
d0 SET STATE STOP = 0 data_fd=-1
fd 45 close = 0
"""


def test_fast_lane_takes_the_repeats_and_keeps_every_finding() -> None:
    events = list(read_text(LOOP, "loop.vmc"))
    engine = Engine(SPEC)
    engine.feed(events)
    engine.finish()
    assert engine.fast_hits > 80          # the precopy loop, after its first round
    fast, general = _fast_and_general(events, spec=SPEC, file="loop.vmc")
    assert fast == general
    # the write on the saving fd in STOP_COPY is reported at its own line
    assert any(f["severity"] == "error" and f["line"] == 107 for f in fast["findings"]), \
        [(f["rule"], f["line"]) for f in fast["findings"]]


def test_shared_lane_takes_the_dense_loop_and_changes_nothing(tmp_path: Path) -> None:
    """The realistic dense loop (plain strace, two devices, payloads hidden): every data fd
    could be either device's, so each data call is applied to both. After the first rounds
    the shared lane (Engine._shared_lane) replays those calls, with the whole result of the
    general path."""
    path, events = dense_loop_events(tmp_path)
    engine = Engine(SPEC)
    engine.feed(events)
    engine.finish()
    data_calls = sum(1 for event in events if hasattr(event, "file"))
    assert engine.fast_hits == 0 and not engine.file_device   # no owner is ever known
    assert engine.shared_hits > data_calls // 2
    fast, general = _fast_and_general(events, spec=SPEC, file=str(path))
    assert fast == general


def test_a_stream_where_both_ways_reach_the_bound_at_different_lines() -> None:
    """Found by hypothesis: the plain fold reaches the bound on readings at line 5, the
    cached engine (one reading for readings that differ only in a closed file) at line 9.
    Neither claims completeness; what the plain fold kept is a subset of the other's."""
    def at(line: int) -> Origin:
        return Origin("p", line)

    events = as_readers_name([
        FeatureCall(at(1), pid=1, device="a", fd=5, feature="MIGRATION", target="ERROR",
                    reply_state="ERROR"),
        FeatureCall(at(2), pid=1, device="b", fd=5, op="GET", feature="MIGRATION",
                    target="ERROR", reply_state="ERROR", data_fd=0, mig_flags=0),
        FdAppeared(at(3), pid=1, fd=5, file="f5#0"),
        DataClose(at(4), pid=1, fd=3, file="f3#0", ret=0, how="close"),
        PrecopyInfo(at(5), pid=1, fd=4, file="f4#0"),
        DeviceReset(at(6), pid=1, device="a", fd=5),
        DeviceReset(at(7), pid=1, device="a", fd=5),
        DeviceOpen(at(8), pid=1, device="a", fd=5),
        PrecopyInfo(at(9), pid=1, fd=3, file="f3#0"),
    ])
    cached, plain = _both(events, spec=SPEC)
    assert (_bound_first_at(plain), _bound_first_at(cached)) == (5, 9)
    assert cached != plain
    assert_same_within_bound(cached, plain)
