"""Whole stretches of cached silent steps against the general path (issue 12, round 8).

When the checker reads (``COLLAPSE_RUNS``) the strace reader hands its events over in
batches (``EventBatch``); the engine walks a batch down the stretches it learnt
(``Engine._stretch_walk``): a walked stretch's whole effect — readings, held events,
undecided rules, files noted and retired, counters — is applied at once, and events not
learnt yet are fed one by one while their effect is learnt. ``Engine(fast=False)`` feeds
every event of a batch on its own, through the general path. Both must give the whole same
result: on the realistic dense loop cut into batches of any size, on edited copies of it
(other results, threads, failed closes, events dropped or repeated), on generated rounds of
hidden calls, with short stretches and with the automaton starting afresh every few steps;
and ``check_trace`` must give the same result with and without batches.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.dense_loop import dense_loop_events
from tests.test_engine_differential import _fast_and_general
from tests.test_engine_hidden_lanes import hidden_rounds
from tests.test_engine_properties import SPEC
from tests.test_engine_shared_alias import edit_at
from vfio_migcheck.checker import automaton as automaton_module
from vfio_migcheck.checker import stretches as stretches_module
from vfio_migcheck.checker.api import check_trace
from vfio_migcheck.checker.engine import Engine
from vfio_migcheck.checker.stats import RECORD_OBSERVATIONS
from vfio_migcheck.traces.events import COLLAPSE_RUNS, EventBatch
from vfio_migcheck.traces.reading import open_trace

with tempfile.TemporaryDirectory() as _tmp:
    _PATH, _EVENTS = dense_loop_events(Path(_tmp), rounds=24)
#: batch sizes: a round's length and multiples (a walk starts at the same few points of a
#: round, so stretches are learnt within a few rounds) and any other
_SIZES = st.lists(st.one_of(st.sampled_from([25, 50, 64]), st.integers(1, 80)),
                  min_size=1, max_size=3)


@st.composite
def edited_loops(draw) -> list:
    """The dense loop's events, with a few edited, dropped or repeated (mostly late: the
    stretches are learnt by then, and an edit must not be replayed as a learnt one)."""
    events = list(_EVENTS)
    for _ in range(draw(st.integers(0, 4))):
        edit_at(draw, events, len(events) - 1 - draw(st.integers(0, len(events) // 2)))
    return events


def _batched(events: list, sizes: list[int]) -> list:
    """The events cut into batches of the given sizes (cycled), as the reader makes them."""
    out: list = []
    at = turn = 0
    while at < len(events):
        size = max(sizes[turn % len(sizes)], 1)
        turn += 1
        chunk = tuple(events[at:at + size])
        at += size
        ts = next((e.ts for e in chunk if e.ts is not None), None)
        out.append(EventBatch(chunk[0].origin, events=chunk, ts=ts))
    return out


def _one_thread(events: list) -> list:
    """A generated stream's events of no thread made one thread's (a stretch starts only
    on a thread's calls)."""
    return [replace(e, tid=1) if e.tid is None else e for e in events]


def _batched_and_general(events: list, sizes: list[int], **options) -> tuple[dict, dict]:
    """(the batches' result with every fast path, the events' result one by one through
    the general path), without per-event observations (as ``check``: a stretch starts
    only then) unless asked."""
    options.setdefault("observations", False)
    batched = _fast_and_general(_batched(events, sizes), **options)[0]
    general = _fast_and_general(events, **options)[1]
    return batched, general


def test_dense_loop_is_replayed_in_stretches() -> None:
    """The dense loop in the reader's batches: nearly every event after the first rounds
    is part of a replayed stretch, with the whole result of the general path."""
    engine = Engine(SPEC)
    token = RECORD_OBSERVATIONS.set(False)
    try:
        for batch in _batched(_EVENTS, [25]):
            engine.feed_one(batch)
        engine.finish()
    finally:
        RECORD_OBSERVATIONS.reset(token)
    assert engine.events == len(_EVENTS)
    assert engine.stretch_hits > len(_EVENTS) // 2
    batched, general = _batched_and_general(_EVENTS, [64], spec=SPEC, file=str(_PATH))
    assert batched == general


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edited_loops(), _SIZES, st.sampled_from([0, 0, 300]), st.sampled_from([64, 3, 25]))
def test_stretches_change_nothing_on_edited_loops(events: list, sizes: list[int],
                                                  cached: int, longest: int) -> None:
    with pytest.MonkeyPatch.context() as patch:
        if cached:
            patch.setattr(automaton_module, "MAX_CACHED", cached)
        patch.setattr(stretches_module, "MAX_STRETCH", longest)
        batched, general = _batched_and_general(events, sizes, spec=SPEC, file=str(_PATH))
    assert batched == general
    with_observations = _batched_and_general(_EVENTS, [64], spec=SPEC, file=str(_PATH),
                                             observations=True)
    assert with_observations[0] == with_observations[1]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hidden_rounds(), st.lists(st.integers(1, 30), min_size=1, max_size=4))
def test_stretches_change_nothing_on_hidden_rounds(events: list, sizes: list[int]) -> None:
    events = _one_thread(events)
    batched, general = _batched_and_general(events, sizes, spec=SPEC)
    assert batched == general


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 60), st.integers(1, 40), _SIZES)
def test_stretch_memory_starting_afresh_changes_nothing(cut: int, nodes: int,
                                                       sizes: list[int]) -> None:
    """The learnt stretches forgotten every few nodes (and the walks starting at any
    point of a round)."""
    events = _EVENTS[cut:] if cut else _EVENTS
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(stretches_module, "MAX_STRETCH_NODES", nodes)
        batched, general = _batched_and_general(list(events), sizes, spec=SPEC,
                                                file=str(_PATH))
    assert batched == general


def test_reader_batches_only_for_the_checker(tmp_path: Path) -> None:
    """The strace reader batches its events only while the checker reads, and a batch
    expands to exactly the events of the plain read; check_trace gives the same whole
    result either way, and replays stretches."""
    path, events = dense_loop_events(tmp_path, rounds=160)
    token = COLLAPSE_RUNS.set(True)
    try:
        read = list(open_trace(path, "auto").events)
    finally:
        COLLAPSE_RUNS.reset(token)
    assert any(isinstance(e, EventBatch) for e in read)
    expanded = [m for e in read for m in (e.expand() if isinstance(e, EventBatch) else [e])]
    assert expanded == events
    assert not any(isinstance(e, EventBatch) for e in open_trace(path, "auto").events)
    hits = []
    finish = Engine.finish
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Engine, "finish", lambda self: (hits.append(self.stretch_hits),
                                                      finish(self))[1])
        collapsed = asdict(check_trace(path, collapse=True, observations=False))
    assert hits[0] > len(events) // 3
    assert collapsed == asdict(check_trace(path, collapse=False, observations=False))
    assert asdict(check_trace(path)) == asdict(check_trace(path, collapse=False))
