"""The engine's automaton: reading sets as canonical nodes plus names, steps cached (issue 12).

* a set of readings split into (node, names) and put back together is the same set, field by
  field (also the fields equality ignores, such as the line a session started at);
* the cost guard: a dense plain-strace capture repeating one migration loop builds the same
  automaton whatever the number of loops — the steps computed (cache misses) and the nodes
  do not grow with the trace, so every further loop is replayed from the cache. This is a
  count, not a time: it cannot be fooled by a loaded machine.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import astuple
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vfio_migcheck.checker.automaton import Automaton, Readings, materialize
from vfio_migcheck.checker.config import RETIRED_FILE, Config, Session
from vfio_migcheck.checker.engine import Engine
from vfio_migcheck.model.spec import load_spec
from vfio_migcheck.traces.reading import open_trace

ROOT = Path(__file__).resolve().parent.parent
FILES = st.sampled_from(["261:fd8@55", "261:fd9@56", "261:fd8@82", "fd6#1", "fd7#2"])
STATES = st.sampled_from(["RUNNING", "STOP", "STOP_COPY", "RESUMING", "PRE_COPY", "ERROR"])
SESSIONS = st.none() | st.builds(
    Session, kind=st.sampled_from(["saving", "resuming", "unknown"]),
    file=st.none() | FILES | st.just(RETIRED_FILE), fd=st.none() | st.integers(3, 12),
    eof=st.booleans(),
    moved=st.booleans(), closed=st.booleans(), failed_commit=st.booleans(),
    opaque=st.booleans(), created_line=st.none() | st.integers(1, 500),
    precopy_zero_reported=st.booleans())
CONFIGS = st.builds(
    Config, flags=st.sampled_from([1, 3, 5, 7]), state=STATES, session=SESSIONS,
    dead=st.frozensets(FILES, max_size=3), ghost=st.booleans(), queried=st.booleans(),
    logging=st.none() | st.booleans(), foreign=st.frozensets(FILES, max_size=3))


def _fields(config: Config) -> tuple:
    session = None if config.session is None else astuple(config.session)
    return (config.flags, config.state, session, config.dead, config.ghost, config.queried,
            config.logging, config.foreign)


@settings(max_examples=200, deadline=None)
@given(st.lists(CONFIGS, max_size=8, unique=True))
def test_a_reading_set_survives_its_split_into_node_and_names(configs) -> None:
    automaton = Automaton()
    readings = Readings.of(configs)
    node = automaton.intern(readings)
    again = materialize(node, readings.files, readings.lines)
    assert [_fields(c) for c in again] == [_fields(c) for c in configs]
    # the same set under other names is the same node
    renamed = [Config(c.flags, c.state, c.session if c.session is None else Session(
        c.session.kind,
        c.session.file if c.session.file in (None, RETIRED_FILE) else "x" + c.session.file,
        c.session.fd, c.session.eof, c.session.moved, c.session.closed,
        c.session.failed_commit, c.session.opaque,
        None if c.session.created_line is None else c.session.created_line + 1000,
        c.session.precopy_zero_reported), frozenset("x" + f for f in c.dead), c.ghost,
        c.queried, c.logging, frozenset("x" + f for f in c.foreign)) for c in configs]
    assert automaton.intern(Readings.of(renamed)) is node


def _gen_dense():
    spec = importlib.util.spec_from_file_location("gen_dense",
                                                  ROOT / "benchmarks" / "gen_dense.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_dense", module)
    spec.loader.exec_module(module)
    return module


def _run(path: Path) -> Engine:
    engine = Engine(load_spec())
    for event in open_trace(path, "auto").events:
        engine.feed_one(event)
    engine.finish()
    return engine


@pytest.mark.parametrize("closing", [False, True], ids=["fds-kept-open", "fds-closed"])
def test_steps_computed_do_not_grow_with_a_repeating_trace(tmp_path: Path,
                                                           closing: bool) -> None:
    gen = _gen_dense()
    first, last = gen.CLOSING_LOOP if closing else gen.LOOP
    loop = last - first + 1
    engines = []
    for loops in (8, 32):
        path = tmp_path / f"dense-{loops}.strace"
        with open(path, "w", encoding="utf-8") as out:
            gen.generate(out, 60 + loops * loop, closing)
        engines.append(_run(path))
    short, long = engines
    assert long.events > 3.5 * short.events
    # every loop after the first few is replayed: nothing new is computed or stored
    assert long.automaton.misses == short.automaton.misses
    assert len(long.automaton.nodes) == len(short.automaton.nodes)
    assert long.automaton.hits > 3.5 * short.automaton.hits - short.automaton.misses
    # and the reading sets stay small: closed data files do not pile up in them
    for track in long.devices.values():
        assert len(track.readings) == len(short.devices[track.name].readings)
        assert not any(c.foreign for c in track.configs)
    assert [f.rule for f in long.findings] == [f.rule for f in short.findings]


def _largest_sets(path: Path, until: int | None = None) -> tuple[Engine, int]:
    """The engine after the trace (or its events up to line ``until``) and the largest
    reading set any device had after any event."""
    engine = Engine(load_spec())
    largest = 0
    for event in open_trace(path, "auto").events:
        if until is not None and event.origin.line > until:
            break
        engine.feed_one(event)
        largest = max(largest, *(len(t.readings) for t in engine.devices.values()), 0)
    return engine, largest


def test_the_realistic_dense_loop_stays_under_the_bound(tmp_path: Path) -> None:
    """The loop that keeps the device fds open (gen_dense's default): each round leaves, in
    the readings where a hidden call was not a SET, a session on the round's data fd, closed
    by the round's end. Which closed fd it was is history, so those sessions are one
    reading (RETIRED_FILE) and the sets do not grow with the rounds: no T002 cut, where the
    engine that kept them passed the 512-reading bound in the 6th round."""
    gen = _gen_dense()
    loop = gen.LOOP[1] - gen.LOOP[0] + 1
    sizes = []
    for loops in (8, 32):
        path = tmp_path / f"open-{loops}.strace"
        with open(path, "w", encoding="utf-8") as out:
            gen.generate(out, 60 + loops * loop)
        engine, largest = _largest_sets(path)
        assert not [f for f in engine.findings if f.rule == "T002"]
        assert not any(t.truncated for t in engine.devices.values())
        sizes.append(largest)
    assert sizes[0] == sizes[1] < 512


def test_sessions_on_closed_data_fds_lose_their_file(tmp_path: Path) -> None:
    """After some rounds of the realistic loop, no reading names the data fd of an earlier
    round: the sessions still bound to one are bound to RETIRED_FILE."""
    gen = _gen_dense()
    loop = gen.LOOP[1] - gen.LOOP[0] + 1
    path = tmp_path / "open.strace"
    with open(path, "w", encoding="utf-8") as out:
        gen.generate(out, 60 + 6 * loop)
    # stop at the start of the 6th round: the fds of rounds 1-5 are closed
    engine, _ = _largest_sets(path, until=gen.SETUP[1] + 5 * loop + 1)
    retired = 0
    for track in engine.devices.values():
        for c in track.configs:
            s = c.session
            if s is not None and s.closed:
                assert s.file == RETIRED_FILE
                retired += 1
            assert not c.foreign
    assert retired > 0


@pytest.mark.parametrize("bound,value", [("MAX_CACHED", 5), ("MAX_HELD_READINGS", 8)])
def test_a_table_started_afresh_gives_the_same_results(tmp_path: Path, monkeypatch,
                                                       bound: str, value: int) -> None:
    """Past MAX_CACHED steps, or MAX_HELD_READINGS readings held by its nodes, the table is
    emptied (a trace that never repeats, or one near the bound on readings where every step
    makes a new large node, must not keep every reading set): the results do not change,
    only more steps are computed."""
    from vfio_migcheck.checker import automaton

    gen = _gen_dense()
    path = tmp_path / "dense.strace"
    with open(path, "w", encoding="utf-8") as out:
        gen.generate(out, 300)
    roomy = _run(path)
    monkeypatch.setattr(automaton, bound, value)
    tight = _run(path)
    table = tight.automaton
    assert table.misses > roomy.automaton.misses
    if bound == "MAX_CACHED":
        assert table.cached <= value
    else:   # a single node larger than the bound is kept alone
        assert table.held <= value or len(table.nodes) == 1
    assert [(f.rule, f.line) for f in tight.findings] == [(f.rule, f.line) for f in roomy.findings]
    for track in tight.devices.values():
        assert track.configs == roomy.devices[track.name].configs
