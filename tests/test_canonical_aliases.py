"""The shortcuts of `check` on decoded canonical traces must change nothing.

- Aliases in a node's table (``runs._ALIAS``): ``_quiet_stretch`` files the verdict on
  each shape of a data run (a quiet self-loop or not), ``_call_stretch`` each device call's
  silent transition, under a cheap key next to the automaton's own entry, and both go with
  the table when the automaton starts afresh. Held: on generated traces, with the automaton
  starting afresh every few steps, collapsed (aliases used) and plain (never) give the same
  whole result; on a decoded loop the aliases are made and found, so the comparison is not
  vacuous; a step that is not cached yet gets no verdict (it may be a self-loop later).
- A remembered device call's event made from its prepared fields (``CanonicalTrace.protos``):
  the general path's event, fields in the same order, also after the device is declared
  again with another fd.
- A data run's members made from the reader's matches (``HotMember``): the events of
  matching each line again.
- ``stats._rets`` (one read shape counted in C): the line-by-line answer.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_canonical_hotline import PREAMBLE
from tests.test_collapse_runs import LOOP, SETTINGS, canonical_traces, check_both
from vfio_migcheck.checker import automaton as automaton_module
from vfio_migcheck.checker import engine as engine_module
from vfio_migcheck.checker import runs as runs_module
from vfio_migcheck.checker.api import _profile, _resolve, rule_filter
from vfio_migcheck.checker.stats import RECORD_OBSERVATIONS, _rets
from vfio_migcheck.traces.canonical.hotline import HotMember
from vfio_migcheck.traces.canonical.reader import CanonicalTrace, read_blocks, read_lines
from vfio_migcheck.traces.events import COLLAPSE_RUNS, DataRun, ReadSummary
from vfio_migcheck.traces.lines import Line
from vfio_migcheck.traces.reading import open_trace


def collapsed_events(path: Path) -> list:
    token = COLLAPSE_RUNS.set(True)
    try:
        return list(open_trace(path, "auto").events)
    finally:
        COLLAPSE_RUNS.reset(token)


def checked_engine(path: Path) -> engine_module.Engine:
    """An engine fed the collapsed events of ``path`` as ``check`` feeds them."""
    spec, flags = _resolve(None, None)
    engine = engine_module.Engine(spec, flags, rule_filter(None, None), _profile(None))
    token = RECORD_OBSERVATIONS.set(False)
    try:
        for event in collapsed_events(path):
            engine.feed_one(event)
        engine.finish()
    finally:
        RECORD_OBSERVATIONS.reset(token)
    return engine


def aliases(engine: engine_module.Engine) -> tuple[list, list]:
    """(the data-run verdicts, the call transitions) filed in the engine's nodes."""
    verdicts, calls = [], []
    for node in engine.automaton.nodes.values():
        for key, value in node.trans.items():
            if key[0] is runs_module._ALIAS:
                (verdicts if len(key) == 6 else calls).append(value)
    return verdicts, calls


@SETTINGS
@given(canonical_traces(), st.sampled_from([2, 5, 11]))
def test_aliases_go_with_the_automaton_s_entries(tmp_path_factory, text: str,
                                                 cached: int) -> None:
    path = tmp_path_factory.mktemp("a") / "t.vmc"
    path.write_text(text)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(automaton_module, "MAX_CACHED", cached)
        check_both(path)


def test_a_decoded_loop_makes_and_finds_aliases(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "loop.vmc"
    path.write_text(LOOP)
    verdicts, calls = aliases(checked_engine(path))
    assert True in verdicts and False in verdicts
    assert calls and all(isinstance(t, automaton_module.Transition) for t in calls)
    stretches, lookups = [], []

    def looked_up(self, *args, **kwargs):
        lookups.append(1)
        return original_cached(self, *args, **kwargs)

    def counted(self, *args):
        stretches.append(1)
        return original(self, *args)
    original = runs_module.RunSteps._quiet_stretch
    original_cached = engine_module.Engine._cached
    monkeypatch.setattr(runs_module.RunSteps, "_quiet_stretch",
                        _with_cached(counted, looked_up))
    # (every run walked in stretches: a run in one step, _run_step, is walked only
    # until its plan is made)
    monkeypatch.setattr(runs_module.RunSteps, "_run_step", lambda self, run: False)
    checked_engine(path)
    # without aliases every stretch looks up at least its first line's entry
    assert len(lookups) < len(stretches) / 2, (len(lookups), len(stretches))


def test_a_step_not_cached_yet_gets_no_verdict(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "loop.vmc"
    path.write_text(LOOP)
    original = engine_module.Engine._cached
    asked = []

    def uncached(self, *args, **kwargs):
        head, fine, coarse, _trans = original(self, *args, **kwargs)
        asked.append(1)
        return head, fine, coarse, None
    monkeypatch.setattr(runs_module.RunSteps, "_quiet_stretch",
                        _with_cached(runs_module.RunSteps._quiet_stretch, uncached))
    # (_run_plan files verdicts the same way, from steps that are cached: refused here)
    monkeypatch.setattr(runs_module.RunSteps, "_run_step", lambda self, run: False)
    verdicts, _calls = aliases(checked_engine(path))
    assert asked and verdicts == []


def _with_cached(method, cached):
    """``method`` with Engine._cached replaced by ``cached`` while it runs."""
    def wrapped(self, *args):
        original = engine_module.Engine._cached
        engine_module.Engine._cached = cached
        try:
            return method(self, *args)
        finally:
            engine_module.Engine._cached = original
    return wrapped


@SETTINGS
@given(canonical_traces())
def test_members_from_matches_are_the_lines_matched_again(tmp_path_factory,
                                                          text: str) -> None:
    path = tmp_path_factory.mktemp("m") / "t.vmc"
    path.write_text(text)
    for run in collapsed_events(path):
        if not isinstance(run, DataRun):
            continue
        again = HotMember(run.file)
        for index, text_ in enumerate(run.texts):
            mine = run.member(index)
            other = again(run.origin.file, run.origin.line + index, text_)
            assert (mine, mine.to_json(), list(vars(mine))) == \
                (other, other.to_json(), list(vars(other)))


def test_a_remembered_call_follows_a_new_declaration() -> None:
    call = "@1.5 [7] d0 GET MIGRATION argsz=16 = 0 flags=STOP_COPY|PRE_COPY <0.1>"
    lines = [*PREAMBLE, call, call, "device d0 fd=11 flags=STOP_COPY|PRE_COPY", call, call]
    out = []
    for cached in (True, False):
        trace = CanonicalTrace(ReadSummary(format="canonical"))
        if cached:
            events = list(read_blocks("t.vmc", [lines], trace))
        else:
            events = list(read_lines("t.vmc", (Line(n, t) for n, t in
                                               enumerate(lines, start=1)), trace))
        out.append([(e, e.text, e.to_json(), list(vars(e))) for e in events])
    assert out[0] == out[1]
    assert [e[0].fd for e in out[0][-2:]] == [11, 11]
    assert [e[0].fd for e in out[0][-5:-3]] == [9, 9]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "c", "p"]), max_size=40),
       st.dictionaries(st.sampled_from(["a", "b", "c", "z"]), st.integers(0, 9), max_size=3))
def test_rets_are_the_shapes_returns_in_order(shapes: list[str], rets: dict) -> None:
    assert _rets(shapes, rets) == [rets[s] for s in shapes if s in rets]
    assert _rets(tuple(shapes), rets) == [rets[s] for s in shapes if s in rets]
