"""Time in state, stop-copy duration and stop windows on sequences with known true values."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_audit_builders import device, obs, saving
from vfio_migcheck.audit.timing import (
    RUNNING_STATES,
    device_timing,
    state_spans,
    stop_windows,
    time_in_state,
)

# A source migration: RUNNING 0-1 s, PRE_COPY 1-3 s, STOP_COPY 3-3.5 s, STOP 3.5-3.75 s,
# back to RUNNING at 3.75 s, last event at 4 s.
MIGRATION = [
    obs(10, 0.0, "RUNNING"), obs(20, 1.0, "PRE_COPY"), obs(30, 3.0, "STOP_COPY"),
    obs(40, 3.5, "STOP"), obs(50, 3.75, "RUNNING"),
]


def test_time_in_state_of_a_migration():
    spans = state_spans(MIGRATION, end_ts=4.0)
    assert time_in_state(spans) == pytest.approx(
        {"RUNNING": 1.25, "PRE_COPY": 2.0, "STOP_COPY": 0.5, "STOP": 0.25})
    assert [s.start_line for s in spans] == [10, 20, 30, 40, 50]


def test_undetermined_and_untimed_spans_are_left_out():
    seq = [obs(1, 0.0, "RUNNING"), obs(2, 1.0, "STOP", "RUNNING_P2P"), obs(3, 2.0, "STOP"),
           obs(4, None, "RUNNING"), obs(5, 5.0, "RUNNING")]
    spans = state_spans(seq, end_ts=6.0)
    # RUNNING 0-1; [1-2 open]; STOP 2-? (next has no ts: dropped); RUNNING 5-6
    assert [(s.state, s.start, s.end) for s in spans] == [
        ("RUNNING", 0.0, 1.0), ("RUNNING", 5.0, 6.0)]


def test_repeated_observations_of_one_state_merge():
    seq = [obs(1, 0.0, "STOP"), obs(2, 0.5, "STOP"), obs(3, 2.0, "RUNNING")]
    assert [(s.state, s.start, s.end) for s in state_spans(seq, None)] == [("STOP", 0.0, 2.0)]


def test_stop_window_spans_stopped_states_until_running_again():
    (win,) = stop_windows(MIGRATION)
    assert (win.start_line, win.end_line) == (30, 50)
    assert win.duration == pytest.approx(0.75)
    assert win.states == ("STOP_COPY", "STOP")
    assert win.closed


def test_stop_window_left_open_and_ambiguous_observations():
    seq = [obs(1, 0.0, "RUNNING"), obs(2, 1.0, "STOP", "RUNNING_P2P"),   # maybe stopped
           obs(3, 2.0, "STOP"), obs(4, 3.0, "STOP", "RUNNING"),          # stays in window
           obs(5, 4.0, "RESUMING")]
    (win,) = stop_windows(seq)
    assert win.start_line == 3 and not win.closed and win.duration is None
    assert win.states == ("STOP", "RESUMING")


def test_stop_copy_duration_per_saving_session():
    dev = device(states=MIGRATION, last_ts=4.0, sessions=[
        saving(stop_copy_ts=3.0, eof_ts=3.4, eof_line=35),
        saving(stop_copy_ts=5.0),                       # never reached EOF: no duration
    ])
    timing = device_timing(dev)
    assert timing.stop_copy == pytest.approx((0.4,))
    assert timing.time_in_state["RUNNING"] == pytest.approx(1.25)
    assert timing.has_times


def test_no_timestamps_no_times():
    dev = device(states=[obs(1, None, "RUNNING"), obs(2, None, "STOP")])
    timing = device_timing(dev)
    assert not timing.has_times and timing.time_in_state == {}
    assert len(timing.stop_windows) == 1 and timing.stop_windows[0].duration is None


STATES = sorted(RUNNING_STATES | {"STOP", "STOP_COPY", "RESUMING"})


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(STATES), st.floats(0.0, 10.0)), min_size=1,
                max_size=25))
def test_spans_partition_the_timed_capture(steps):
    """With every state determined and timed, the spans cover first..end exactly."""
    ts, seq = 0.0, []
    for i, (state, gap) in enumerate(steps):
        seq.append(obs(i + 1, ts, state))
        ts += gap
    spans = state_spans(seq, end_ts=ts)
    assert sum(time_in_state(spans).values()) == pytest.approx(ts)
    assert all(a.end == b.start for a, b in zip(spans, spans[1:]))
    windows = stop_windows(seq)
    stopped = sum(s.duration for s in spans if s.state not in RUNNING_STATES)
    closed = sum(w.duration for w in windows if w.closed)
    open_part = sum(ts - w.start for w in windows if not w.closed)
    assert closed + open_part == pytest.approx(stopped)


def test_an_instant_spends_no_time():
    assert state_spans([obs(1, 1.0, "STOP")], end_ts=1.0) == []
    spans = state_spans([obs(1, 0.0, "RUNNING"), obs(2, 1.0, "STOP"), obs(3, 1.0, "RUNNING")],
                        end_ts=2.0)
    assert [(s.state, s.start, s.end) for s in spans] == [("RUNNING", 0.0, 1.0),
                                                           ("RUNNING", 1.0, 2.0)]
