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

from tests.test_engine_properties import SPEC, event_lists
from vfio_migcheck.checker import api
from vfio_migcheck.checker.api import check_events
from vfio_migcheck.checker.engine import Engine
from vfio_migcheck.traces.events import DataClose
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
    """Equal results, unless the plain fold went past the bound on readings (T002).

    The cached engine forgets data files that were closed (they cannot be named again), so
    readings that differ only in such a file are one reading: it may stay under the bound
    where the plain fold cut its readings. Then the plain fold's final states are a subset
    of the cached engine's (it dropped readings; nothing was dropped from the other).
    """
    if any(f["rule"] == "T002" for f in plain["findings"]) and \
            not any(f["rule"] == "T002" for f in cached["findings"]):
        for mine, theirs in zip(cached["devices"], plain["devices"], strict=True):
            assert set(theirs["final_states"]) <= set(mine["final_states"])
        return
    assert cached == plain
