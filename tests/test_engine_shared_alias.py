"""The shared lane's aliases against the general path (issue 12).

``Engine._shared_lane`` files what it decided for a data event on a file no device owns
(no reading can bind the file, or the cached silent step) under an alias in the node's
table, and looks that up first the next time. ``Engine(fast=False)`` never takes the lane.
Both must give the whole same result: on the realistic dense loop, on edited copies of it
(other results, other threads, failed closes, events dropped or repeated), and with the
automaton starting afresh every few steps (its aliases are forgotten with the node).
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.dense_loop import dense_loop_events
from tests.test_engine_differential import _fast_and_general
from tests.test_engine_properties import SPEC
from vfio_migcheck.checker import automaton as automaton_module
from vfio_migcheck.checker import engine as engine_module
from vfio_migcheck.checker.engine import Engine
from vfio_migcheck.traces.events import UNKNOWN, DataClose, DataIO, FdAppeared, PrecopyInfo

with tempfile.TemporaryDirectory() as _tmp:
    _PATH, _EVENTS = dense_loop_events(Path(_tmp), rounds=6)
_FIRST_DATA = next(i for i, e in enumerate(_EVENTS) if isinstance(e, FdAppeared))


def _aliases(engine: Engine) -> int:
    return sum(1 for node in engine.automaton.nodes.values() for key in node.trans
               if type(key) is tuple and key and key[0] is engine_module._SHARED)


def test_dense_loop_files_and_finds_aliases(tmp_path: Path) -> None:
    path, events = dense_loop_events(tmp_path, rounds=12)
    engine = Engine(SPEC)
    engine.feed(events)
    shared = sum(1 for e in events if isinstance(e, (DataIO, PrecopyInfo, DataClose,
                                                     FdAppeared)))
    assert engine.shared_hits > shared // 2
    assert _aliases(engine) > 0
    engine.finish()
    fast, general = _fast_and_general(events, spec=SPEC, file=str(path))
    assert fast == general


def _edited(event, how: int, value: int):
    """One edit of a data event (a change a later round's alias must not hide)."""
    if isinstance(event, DataIO):
        if how == 0:
            return replace(event, ret=value + 1, requested=value)   # more than asked
        if how == 1:
            return replace(event, ret=-1, errno="EIO")
        if how == 2:
            return replace(event, direction="write" if event.direction == "read" else "read")
        if how == 3:
            return replace(event, call="pread64", positioned=True)
    if how == 4:
        return replace(event, tid=event.tid + 1 if isinstance(event.tid, int) else 2)
    if how == 5 and isinstance(event, DataClose):
        return replace(event, ret=-1, errno="EBADF")
    if isinstance(event, PrecopyInfo):
        if how == 1:
            return replace(event, ret=-1, errno="ENOTTY")
        if how == 0:
            return replace(event, ret=UNKNOWN, initial_bytes=value, dirty_bytes=0)
    return event


@st.composite
def edited_loops(draw) -> list:
    """The dense loop's events up to a random point after its first data fd, with a few
    data events edited, dropped or repeated."""
    end = draw(st.integers(_FIRST_DATA + 1, len(_EVENTS)))
    events = list(_EVENTS[:end])
    for _ in range(draw(st.integers(0, 4))):
        if len(events) <= _FIRST_DATA:
            break
        # (late edits mostly: the aliases are filed by then)
        at = len(events) - 1 - draw(st.integers(0, len(events) - 1 - _FIRST_DATA))
        edit_at(draw, events, at)
    return events


def edit_at(draw, events: list, at: int) -> None:
    """Drop, repeat or edit (_edited) the event at ``at``, as drawn."""
    what = draw(st.integers(0, 7))
    if what == 6:
        del events[at]
    elif what == 7:
        events.insert(at, events[at])
    else:
        events[at] = _edited(events[at], what, draw(st.sampled_from([0, 1, 24, 72, 4096])))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edited_loops(), st.sampled_from([0, 3, 7, 40]))
def test_shared_aliases_change_nothing(events: list, cached: int) -> None:
    with pytest.MonkeyPatch.context() as patch:
        if cached:
            patch.setattr(automaton_module, "MAX_CACHED", cached)
        fast, general = _fast_and_general(events, spec=SPEC, file=str(_PATH))
    assert fast == general
