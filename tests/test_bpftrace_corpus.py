"""The lab's eBPF captures (tests/corpus/lab-mtty-6.12/bt, cdev_bt): every call the runner's
ground truth records is read from the capture identically (fd, result, errno, decoded
payload), and check on each capture gives the ground truth's verdict, decided."""

from __future__ import annotations

from pathlib import Path

import pytest

from vfio_migcheck.conformance.bpftrace_check import (
    AGREED,
    capture_of,
    check_bpftrace_captures,
)
from vfio_migcheck.conformance.files import ground_truths
from vfio_migcheck.conformance.split_capture import split

CORPUS = Path(__file__).parent / "corpus" / "lab-mtty-6.12"
VARIANTS = ("bt", "cdev_bt")          # group/container and iommufd/cdev device paths


@pytest.fixture(scope="module")
def checked():
    return check_bpftrace_captures(CORPUS)


def test_at_least_forty_captures_on_both_device_paths(checked) -> None:
    assert len(checked.runs) >= 40
    for variant in VARIANTS:
        runs = [r for r in checked.runs if r.variant == variant]
        assert len(runs) >= 20, variant
        assert {r.scenario for r in runs} >= {"flow-qemu-migrate", "flow-save-restore",
                                              "errors-dead-fds", "pairs-PRE_COPY", "walk-00"}
    # every ground truth of those variants has its capture
    for canon in ground_truths(CORPUS):
        if canon.parent.name in VARIANTS:
            assert capture_of(canon) is not None, canon


def test_every_call_agrees_and_every_verdict_is_decided_and_equal(checked) -> None:
    bad = [(r.capture, r.status, r.note) for r in checked.runs if r.status != AGREED]
    assert bad == []
    for run in checked.runs:
        assert run.calls > 0 and run.calls_agreed == run.calls, run.capture
        assert run.capture_verdict in ("pass", "fail"), run.capture
        assert (run.capture_verdict, run.capture_errors) == \
            (run.truth_verdict, run.truth_errors), run.capture
    verdicts = {r.capture_verdict for r in checked.runs}
    assert verdicts == {"pass", "fail"}              # both outcomes are exercised


def test_split_keeps_one_process_tree() -> None:
    text = "\n".join([
        "vfio-mig-bt 1 attached ts=1 pids=10,0,0,0,0,0,0,0",
        "2 10 10 0 fork child=20", "3 20 20 0 exec", "4 20 20 0 fork child=21",
        "5 21 21 5 read fd=6 count=1 ret=1", "Lost 2 events", "6 10 10 0 fork child=30",
        "7 30 30 5 read fd=6 count=1 ret=1", "8 20 20 0 exit", "vfio-mig-bt 1 end ts=9"])
    out = split(text, 20).splitlines()
    assert out == ["vfio-mig-bt 1 attached ts=1 pids=10,0,0,0,0,0,0,0", "3 20 20 0 exec",
                   "4 20 20 0 fork child=21", "5 21 21 5 read fd=6 count=1 ret=1",
                   "Lost 2 events", "8 20 20 0 exit", "vfio-mig-bt 1 end ts=9"]
