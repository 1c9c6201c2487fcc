"""Mergeable summaries, the streaming audit, the per-capture time limit (no Dask needed)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_audit_builders import fake_check
from vfio_migcheck.audit.collect import collect_captures
from vfio_migcheck.audit.isolate import CheckerDied, CheckTimeout, TimedCheck
from vfio_migcheck.audit.jsonout import audit_document
from vfio_migcheck.audit.merge import Durations, Partial, merge_all, partial_of
from vfio_migcheck.audit.runner import CheckOptions, run_checks
from vfio_migcheck.audit.streaming import outcome_of, reduce_outcomes
from vfio_migcheck.audit.summary import build_audit, capture_entry, finish
from vfio_migcheck.model.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]
SPEC = load_spec("linux-6.12")
INPUTS = [str(ROOT / "vfio_migcheck" / "examples"),
          str(ROOT / "tests" / "fixtures" / "mtty-6.12" / "f_y_tt_T")]


@pytest.fixture(scope="module")
def checked():
    return run_checks(collect_captures(INPUTS), CheckOptions(), jobs=2)


def _summary(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k != "captures"}


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_merge_is_independent_of_order_and_grouping(checked, data):
    """Any order and any tree of merges gives the summary build_audit gives."""
    expected = _summary(audit_document(build_audit(checked, SPEC)))
    entries = [capture_entry(c) for c in checked]
    order = data.draw(st.permutations(range(len(entries))))
    partials = [partial_of(entries[i], SPEC, None) for i in order]
    while len(partials) > 1:   # merge random neighbours until one is left: a random tree
        i = data.draw(st.integers(0, len(partials) - 2))
        partials[i:i + 2] = [partials[i].merge(partials[i + 1])]
    assert _summary(audit_document(finish(partials[0], SPEC, None))) == expected


def test_streaming_writes_every_capture_and_the_same_summary(checked):
    full = audit_document(build_audit(checked, SPEC))
    out = io.StringIO()
    merged = reduce_outcomes((outcome_of(c, SPEC, None, frozenset()) for c in reversed(checked)),
                             out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert sorted(lines, key=lambda c: c["path"]) == full["captures"]
    streamed = audit_document(finish(merged, SPEC, None))
    assert streamed["captures"] == [] and _summary(streamed) == _summary(full)
    assert merged.captures == len(checked)
    # beside the examples two save captures share a device name, so nothing is paired (pairs
    # are inferred only when unambiguous); the fixtures alone pair save -> restore, found
    # from the slim candidates the streaming audit keeps
    alone = [c for c in checked if "f_y_tt_T" in c.result.file]
    merged_alone = reduce_outcomes((outcome_of(c, SPEC, None, frozenset()) for c in alone),
                                   io.StringIO())
    assert audit_document(finish(merged_alone, SPEC, None))["pairing"]["pairs"]


def test_durations_sum_exactly_whatever_the_order():
    values = [0.1, 1e-7, 3.3, 1e6, 0.7]
    a, b = Durations(), Durations()
    for x in values:
        a.add(x)
    for x in reversed(values):
        b.add(x)
    assert a == b and a.total == sum(Fraction(x) for x in values)
    assert (a.count, a.max, len(Partial().stop_copy)) == (5, 1e6, 0)


def test_merge_all_of_nothing_is_an_empty_audit():
    audit = finish(merge_all([]), SPEC, 0x7)
    assert audit.totals.captures == 0 and [c.flags for c in audit.coverage.flag_sets] == [0x7]


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text + "\n", encoding="utf-8")
    return str(path)


def test_timed_check_returns_the_result_and_reraises(tmp_path):
    timed = TimedCheck(30.0, fake_check)
    assert timed(_write(tmp_path, "a.vmc", "fail"), CheckOptions()).devices[0].verdict == "fail"
    with pytest.raises(ValueError, match="malformed capture"):
        timed(_write(tmp_path, "r.vmc", "raise"), CheckOptions())
    with pytest.raises(CheckerDied, match="exited with status 3"):
        timed(_write(tmp_path, "c.vmc", "crash"), CheckOptions())


def sleepy_check(path: str, options):
    import time

    time.sleep(60)
    return fake_check(path, options)


def test_timed_check_stops_a_hang(tmp_path):
    with pytest.raises(CheckTimeout, match="no result within 0.5 s"):
        TimedCheck(0.5, sleepy_check)(_write(tmp_path, "h.vmc", "pass"), CheckOptions())


def test_audit_without_scheduler_never_imports_dask(tmp_path):
    code = (
        "import sys\n"
        "from vfio_migcheck.cli import cli\n"
        "try:\n"
        f"    cli.main(['audit', {INPUTS[0]!r}, '-j', '1', '-q', '--timeout', '30',\n"
        f"              '--jsonl', {str(tmp_path / 'x.jsonl')!r}])\n"
        "except SystemExit:\n"
        "    pass\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed'))\n"
        "print('LOADED', loaded)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert "LOADED []" in out
    assert len((tmp_path / "x.jsonl").read_text().splitlines()) == 5
