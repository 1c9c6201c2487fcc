"""The checker agrees with the SMT lifecycle semantics on every short event sequence.

The deep run (k >= 6) is ``benchmarks/bench_engine_vs_smt.py``; here k = 2 over the full
alphabet for every flag set, and k = 3 over the core alphabet. Sequences a disagreement was
once found on are kept below as regression tests of the side that was wrong.
"""

from __future__ import annotations

import pytest

from tests.support.engine_vs_smt import Verdict, compare, engine_verdict, header
from vfio_migcheck.checker.api import check_events
from vfio_migcheck.model.spec import load_spec
from vfio_migcheck.traces.canonical.reader import read_text

SPEC = load_spec("linux-6.12")


@pytest.mark.parametrize("flags", SPEC.defined_flag_sets, ids=hex)
def test_every_sequence_of_two_events_agrees(flags):
    report = compare(SPEC, flags, 2, "full")
    assert report.sequences > 200 and report.misfits > 0
    assert report.disagreements == []


def test_every_sequence_of_three_core_events_agrees():
    report = compare(SPEC, 0x5, 3, "core")
    assert report.sequences > 200
    assert report.disagreements == []


def test_the_older_spec_agrees_too():
    spec = load_spec("linux-5.18")
    report = compare(spec, 0x3, 2, "full")
    assert report.disagreements == []


def test_the_comparison_sees_a_difference():
    """A checker answer that differs from z3's is caught (the comparison is not vacuous)."""
    text = "\n".join([header(SPEC, 0x1), "dev SET STATE STOP_COPY = 0 data_fd=6",
                      "fd 6 read 16 = 0", "fd 6 read 16 = 16"]) + "\n"
    assert engine_verdict(SPEC, list(read_text(text)), 4) == Verdict(False)  # K005
    assert engine_verdict(SPEC, list(read_text(text)), 3) == Verdict(True)


# --- regressions found by the comparison ---------------------------------------------------------
def test_no_reading_fits_although_the_readings_misfit_for_different_rules():
    """After a failed SET the device may be in RUNNING, STOP or ERROR. A SET STOP that then
    succeeds with a data fd fits none of them (K003 in RUNNING and STOP: no session starts;
    K001 in ERROR: only reset leaves it). The checker used to call that undecided."""
    text = "\n".join([header(SPEC, 0x1), "dev SET STATE STOP = -1 EINVAL",
                      "dev SET STATE STOP = 0 data_fd=6"]) + "\n"
    result = check_events(list(read_text(text)), spec=SPEC)
    rules = sorted(f.rule for f in result.findings if f.line == 3)
    assert rules == ["K001", "K003"]
    assert result.devices[0].verdict == "fail"
