"""The replayed outcomes of hidden FEATURE calls equal the computed ones, names included.

``transitions.step_hidden_feature`` computes a call's outcomes once per reading core (the
reading without its file names and start lines) and replays them with each reading's own
names (start-up of ``check``, issue 12). Here a reading is stepped with the cache off (the
reference), then a reading with the same core but other names and another line is stepped
after the core was cached: both must give the very same outcomes, down to the fields that
equality ignores (a session's start line, which findings quote) and the tags' texts.
"""

from __future__ import annotations

from dataclasses import asdict, fields

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_engine_differential import ROOT, TRACES
from vfio_migcheck.checker import transitions as T
from vfio_migcheck.checker.api import check_events
from vfio_migcheck.checker.config import Config, Session
from vfio_migcheck.model.spec import load_spec
from vfio_migcheck.traces.events import UNKNOWN, FeatureCall, Origin
from vfio_migcheck.traces.reading import open_trace

SPEC = load_spec("linux-6.12")
STATES = sorted(SPEC.states)
FILES = ["f3#0", "f4#1", "f5#0", "f9#2", "f11#0"]


def _deep(value):
    """Every field of a config, session and tag, compared or not (sets sorted)."""
    if isinstance(value, (Config, Session)):
        return (type(value).__name__,
                tuple((f.name, _deep(getattr(value, f.name))) for f in fields(value)))
    if isinstance(value, frozenset):
        return tuple(sorted(value))
    return value


def _outcomes(outcomes: list[T.Outcome]) -> list:
    return [(_deep(o.config), o.misfit,
             [(t.rule.id, t.message, t.allowed) for t in o.tags]) for o in outcomes]


@st.composite
def cores(draw):
    """The name-free part of a reading, plus a session shape."""
    session = draw(st.one_of(st.none(), st.fixed_dictionaries({
        "kind": st.sampled_from(["saving", "resuming", "unknown"]),
        "has_file": st.booleans(),
        "fd": st.sampled_from([None, 5, 7]),
        "eof": st.booleans(), "moved": st.booleans(), "closed": st.booleans(),
        "failed_commit": st.booleans(), "opaque": st.booleans(),
    })))
    return {
        "flags": draw(st.sampled_from(sorted(SPEC.defined_flag_sets))),
        "state": draw(st.sampled_from(STATES)),
        "session": session,
        "ghost": draw(st.booleans()), "queried": draw(st.booleans()),
        "logging": draw(st.sampled_from([None, True, False])),
    }


@st.composite
def named_readings(draw, core: dict) -> Config:
    """A reading with ``core`` and names of its own (files, start line)."""
    s = core["session"]
    session = None
    if s is not None:
        session = Session(s["kind"], draw(st.sampled_from(FILES)) if s["has_file"] else None,
                          s["fd"], s["eof"], s["moved"], s["closed"], s["failed_commit"],
                          s["opaque"], created_line=draw(st.sampled_from([None, 1, 17, 40])),
                          precopy_zero_reported=draw(st.booleans()))
    names = st.frozensets(st.sampled_from(FILES), max_size=3)
    return Config(core["flags"], core["state"], session, draw(names), core["ghost"],
                  core["queried"], core["logging"], draw(names))


@st.composite
def hidden_calls(draw):
    event = FeatureCall(
        origin=Origin("t", 1), device="d", fd=4,
        op=draw(st.sampled_from([UNKNOWN, "SET"])),
        ret=draw(st.sampled_from([UNKNOWN, 0, -1])),
        errno=draw(st.sampled_from([UNKNOWN, None, "EINVAL", "EIO", "ENOTTY"])),
        data_fd=draw(st.sampled_from([UNKNOWN, None, -1, 6])))
    pinned = draw(st.one_of(st.none(), st.sampled_from(STATES), st.just(9)))
    return event, pinned, draw(st.booleans()), draw(st.booleans())


def _step(config: Config, call, line: int) -> list[T.Outcome]:
    event, pinned, no_set, known_set = call
    return T.step_hidden_feature(config, SPEC, event, line, pinned, no_set, known_set)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), cores(), hidden_calls())
def test_replayed_outcomes_equal_the_computed_ones(data, core, call) -> None:
    first = data.draw(named_readings(core))
    second = data.draw(named_readings(core))
    lines = data.draw(st.tuples(st.integers(1, 99), st.integers(1, 99)))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(T, "HIDDEN_STEP_CACHE", False)
        expected = [_outcomes(_step(first, call, lines[0])),
                    _outcomes(_step(second, call, lines[1]))]
    T._HIDDEN_TABLES.clear()
    got = [_outcomes(_step(first, call, lines[0])),    # computes and caches the core
           _outcomes(_step(second, call, lines[1]))]   # replays it with other names
    assert got == expected


def test_the_cache_is_used() -> None:
    """Not a check that cannot fail: the second reading of a core is a replay."""
    T._HIDDEN_TABLES.clear()
    session = Session("resuming", None, None, created_line=12)
    reading = Config(0x7, "RESUMING", session, queried=True)
    event = FeatureCall(origin=Origin("t", 30), device="d", fd=4)
    T.step_hidden_feature(reading, SPEC, event, 30)
    table = T._hidden_table(SPEC)
    assert len(table) == 1
    other = Config(0x7, "RESUMING", Session("resuming", None, None, created_line=20),
                   foreign=frozenset({"f9#0"}), queried=True)
    replayed = T.step_hidden_feature(other, SPEC, event, 31)
    assert len(table) == 1
    # K014 quotes the session's own start line: the replay names the second reading's
    texts = {t.message for o in replayed for t in o.tags if t.rule.id == "K014"}
    assert texts and all("line 20" in text for text in texts)
    assert all(o.config.foreign == frozenset({"f9#0"}) for o in replayed)


#: plain strace captures (payloads hidden): the bundled examples, the strace fixtures and
#: one capture style of the lab corpus (its other styles replay the same 52 scenarios; the
#: engine's differential test and the before/after JSON comparison cover them all)
HIDDEN_PAYLOAD_TRACES = [
    p for p in TRACES if ".strace" in p.name and (
        "examples" in p.parts or "strace" in p.parent.relative_to(ROOT).parts
        or p.parent.name == "f_y_tt_T" and "corpus" in p.parts)]


@pytest.mark.parametrize("path", HIDDEN_PAYLOAD_TRACES,
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_every_strace_capture_checks_the_same_without_the_cache(path) -> None:
    events = list(open_trace(path, "auto").events)
    T._HIDDEN_TABLES.clear()
    cached = asdict(check_events(events, file=str(path)))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(T, "HIDDEN_STEP_CACHE", False)
        plain = asdict(check_events(events, file=str(path)))
    assert cached == plain


def test_equal_replays_are_one_object() -> None:
    """Readings that differ only in their state meet the same outcomes of a hidden call
    (a SET to STOP_COPY from RUNNING or from STOP): the replay hands out one object for
    them, so the engine drops the repeats without hashing them; outcomes that differ in
    any field, also one equality ignores, stay apart."""
    event = FeatureCall(origin=Origin("t", 30), device="d", fd=4, ret=0)
    dead = frozenset({"f3#0"})
    running = Config(0x7, "RUNNING", None, dead, queried=True)
    stop = Config(0x7, "STOP", None, dead, queried=True)
    first = T.step_hidden_feature(running, SPEC, event, 30)
    second = T.step_hidden_feature(stop, SPEC, event, 30)
    # an outcome that is a reading itself (a GET, a SET to its own state) stays that object
    pairs = [(a, b) for a in first for b in second
             if _outcomes([a]) == _outcomes([b])
             and a.config is not running and b.config is not stop]
    assert pairs, "the two readings share no outcome"
    assert all(a is b for a, b in pairs)
    # the same call at another line starts its sessions there: not the same objects
    later = T.step_hidden_feature(stop, SPEC, event, 31)
    started = [o for o in later if o.config.session is not None]
    assert started and all(o.config.session.created_line == 31 for o in started)
    assert not {id(o) for o in started} & {id(o) for o in second}


class _Same:
    """Equal by a value, told apart by identity (as two equal readings are)."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.value == self.value

    def __hash__(self) -> int:
        return hash(self.value)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 3)), max_size=30))
def test_dedupe_and_distinct_keep_first_occurrences(picks) -> None:
    """_dedupe's identity pass keeps what dict.fromkeys keeps (the first of each class of
    equal objects, in order); distinct drops only later repeats of one object."""
    from vfio_migcheck.checker.engine import _dedupe

    pool = [[_Same(v) for _ in range(4)] for v in range(5)]
    items = [pool[v][k] for v, k in picks]
    kept = _dedupe(iter(items))
    expected = list(dict.fromkeys(items))
    assert [id(x) for x in kept] == [id(x) for x in expected]
    unique = T.distinct(iter(items))
    assert [id(x) for x in unique] == list(dict.fromkeys(id(x) for x in items))
