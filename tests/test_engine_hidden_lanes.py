"""The lanes for plain strace's hidden payloads against the general path (issue 12).

``Engine._hidden_lane`` replays a hidden FEATURE call's cached silent step without the
general path's decoding and branching; with ``Engine(fast=False)`` every such call takes
the general path. Both must give the whole same result: on the realistic dense loop
(benchmarks/gen_dense.py, two devices, every payload hidden) and on hypothesis-generated
streams built to repeat hidden calls (model walks with their payloads hidden, rounds of
them repeated, other devices' and threads' calls, raw flags words and QEMU pins slipped in).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.dense_loop import dense_loop_events
from tests.test_engine_differential import _fast_and_general, _renumbered, as_readers_name
from tests.test_engine_properties import SPEC, any_event, walks
from vfio_migcheck.checker.engine import Engine
from vfio_migcheck.traces.events import UNKNOWN, FeatureCall, Origin, QemuEvent


def _hidden(event, feature_shown: bool = False):
    """The event as plain strace shows it: a FEATURE call's payload unknown (with
    ``feature_shown``, all but its feature: a partly decoded call)."""
    if isinstance(event, FeatureCall):
        return replace(event, op=UNKNOWN, target=UNKNOWN, data_fd=UNKNOWN,
                       mig_flags=UNKNOWN, reply_state=UNKNOWN, argsz=UNKNOWN,
                       feature=event.feature if feature_shown else UNKNOWN)
    return event


@st.composite
def hidden_rounds(draw) -> list:
    """A model walk with its payloads hidden, then a stretch of it repeated as rounds,
    with the odd other event (another device's, another thread's, a raw flags word, a
    QEMU pin of the next SET) slipped in."""
    shown = draw(st.booleans())
    events = [_hidden(e, shown and draw(st.booleans())) for e in draw(walks()).events]
    start = draw(st.integers(0, max(len(events) - 1, 0)))
    stretch = events[start:start + draw(st.integers(1, 8))]
    for _ in range(draw(st.integers(2, 6))):
        for event in stretch:
            if draw(st.integers(0, 11)) == 0:
                extra = draw(st.integers(0, 3))
                if extra == 0:
                    events.append(draw(any_event(1)))
                elif extra == 1 and isinstance(event, FeatureCall):
                    events.append(replace(event, tid=draw(st.sampled_from([2, 3])),
                                          origin=Origin("p", 1, 2)))
                elif extra == 2 and isinstance(event, FeatureCall):
                    events.append(replace(event, raw_flags=draw(st.integers(0, 0x80010))))
                else:
                    events.append(QemuEvent(Origin("p", 1), name="migration_set_state",
                                            device="d", state="STOP", recover="RUNNING"))
            events.append(event)
    return as_readers_name(_renumbered(events))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hidden_rounds())
def test_hidden_lane_changes_nothing_on_repeated_hidden_calls(events) -> None:
    fast, general = _fast_and_general(events, spec=SPEC)
    assert fast == general


def test_hidden_lane_is_taken_by_repeated_hidden_calls() -> None:
    """A walk's hidden calls repeated: after the first round the lane takes them."""
    calls = [FeatureCall(Origin("p", 1), device="d", fd=5, ret=0, errno=None, pid=1)] * 20
    events = _renumbered(calls)
    engine = Engine(SPEC)
    engine.feed(events)
    engine.finish()
    assert engine.hidden_hits >= 15
    fast, general = _fast_and_general(events, spec=SPEC)
    assert fast == general


def test_dense_loop_takes_the_hidden_lane(tmp_path: Path) -> None:
    """The realistic dense loop: its hidden FEATURE calls are replayed by the lane after
    the first rounds, with the whole result of the general path."""
    path, events = dense_loop_events(tmp_path)
    engine = Engine(SPEC)
    engine.feed(events)
    engine.finish()
    hidden = sum(1 for event in events
                 if isinstance(event, FeatureCall) and event.op is UNKNOWN)
    assert engine.hidden_hits > hidden // 2
    fast, general = _fast_and_general(events, spec=SPEC, file=str(path))
    assert fast == general
