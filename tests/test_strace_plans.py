"""Kept call plans (traces/strace/plans.py) must give the very events of the plain path.

The reference reads every line through :meth:`Session.line` with plans switched off, so
each call is parsed and handed to its handler afresh; the reader under test uses the
block scanner, its per-line loop and the plans. Events, their JSON and the accounting
must be identical on the real captures, on generated dense and mixed captures and on
random mixes of device and data-fd calls (known, unknown, re-decorated, timed, failed).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.strace_reads import CAPTURES, line_by_line, with_reader
from vfio_migcheck.traces.events import ReadSummary
from vfio_migcheck.traces.strace.calls import CallHandler
from vfio_migcheck.traces.strace.dispatch import HANDLERS
from vfio_migcheck.traces.strace.plans import (
    ClosePlan,
    IoctlPlan,
    IoPlan,
    Plan,
    plan_for,
    split_duration,
)
from vfio_migcheck.traces.strace.session import Session
from vfio_migcheck.traces.strace.syntax import parse_call

ROOT = Path(__file__).parent.parent


def plain(path: Path) -> tuple[list, ReadSummary]:
    return line_by_line(path, plans=False)


planned = with_reader


def assert_same(path: Path) -> int:
    expected_events, expected = plain(path)
    events, summary = planned(path)
    assert [type(e) for e in events] == [type(e) for e in expected_events]
    assert events == expected_events
    assert [e.to_json() for e in events] == [e.to_json() for e in expected_events]
    assert (summary.lines, summary.events, summary.irrelevant, summary.unreadable,
            summary.notes) == (expected.lines, expected.events, expected.irrelevant,
                               expected.unreadable, expected.notes)
    return len(events)


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_plans_match_the_plain_path_on_captures(path: Path) -> None:
    assert_same(path)


def _benchmarks():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import gen_dense
        import gen_strace
    finally:
        sys.path.pop(0)
    return gen_dense, gen_strace


def test_plans_match_on_generated_dense_and_mixed_captures(tmp_path) -> None:
    gen_dense, gen_strace = _benchmarks()
    for closing in (False, True):
        loop = tmp_path / f"loop-{closing}.strace"
        with open(loop, "w") as out:
            gen_dense.generate(out, 3000, closing=closing)
        assert assert_same(loop) > 2000      # the loop is read, events and all
    for shape, lines in (("dense", 3000), ("mixed", 20000), ("corpus-mixed", 20000)):
        capture = tmp_path / f"{shape}.strace"
        gen_strace.generate(capture, lines, shape=shape, seed=11)
        assert_same(capture)


# --- random mixes of calls on device and data fds -------------------------------------------

_DECOR = st.sampled_from([None, "anon_inode:[vfio-device]", "anon_inode:mtty_mig",
                          "/dev/vfio/devices/vfio0", "/dev/null", "pipe:[77]"])
_FD = st.one_of(st.sampled_from([5, 6, 8, 8, 9]), st.integers(3, 9))
_RET = st.sampled_from(["= 0", "= 0", "= 24", "= 4096", "= -1 EINVAL (Invalid argument)",
                        "= -1 EBADF (Bad file descriptor)", "= ?", "= 7"])
_REQUEST = st.sampled_from([
    "VFIO_DEVICE_FEATURE or VFIO_IOMMU_DIRTY_PAGES or VFIO_IOMMU_SPAPR_REGISTER_MEMORY",
    "VFIO_DEVICE_FEATURE", "VFIO_EEH_PE_OP", "VFIO_DEVICE_RESET", "VFIO_DEVICE_GET_INFO",
    "VFIO_GROUP_GET_DEVICE_FD", "0x3b75", "_IOC(_IOC_NONE, 0x3b, 0x79, 0)", "KVM_RUN",
    "VFIO_DEVICE_GET_GFX_DMABUF", "FIONREAD",
])


def _fd_text(fd: int, decor: str | None) -> str:
    return f"{fd}" if decor is None else f"{fd}<{decor}>"


_CALL = st.one_of(
    st.builds(lambda fd, d, req, ret: f"ioctl({_fd_text(fd, d)}, {req}, 0x7ffc8910) {ret}",
              _FD, _DECOR, _REQUEST, _RET),
    st.builds(lambda name, fd, d, ret: f'{name}({_fd_text(fd, d)}, "\\0\\1"..., 4096) {ret}',
              st.sampled_from(["read", "write"]), _FD, _DECOR, _RET),
    st.builds(lambda name, fd, d, ret: f'{name}({_fd_text(fd, d)}, "\\247", 1, 7) {ret}',
              st.sampled_from(["pread64", "pwrite64"]), _FD, _DECOR, _RET),
    st.builds(lambda fd, d: f"readv({_fd_text(fd, d)}, [{{iov_base=\"\", iov_len=8}}], 1) = 0",
              _FD, _DECOR),
    st.builds(lambda fd, d: f"close({_fd_text(fd, d)}) = 0", _FD, _DECOR),
    st.builds(lambda fd, d, ret: f"close({_fd_text(fd, d)}) {ret}", _FD, _DECOR, _RET),
    st.builds(lambda fd: f'openat(AT_FDCWD, "/dev/vfio/devices/vfio0", O_RDWR) = {fd}', _FD),
    st.builds(lambda fd: f'openat(AT_FDCWD, "/dev/vfio/0", O_RDWR) = {fd}', _FD),
    st.builds(lambda fd, new: f"dup2({fd}, {new}) = {new}", _FD, _FD),
    st.just("lseek(8, 0, SEEK_CUR) = 0"),
    st.just("getpid() = 7"),
)
_TAIL = st.sampled_from(["", "", " <0.000293>", " <0.000021>", " <1.5>"])
_PREFIX = st.sampled_from(["", "261   ", "262   ", "[pid   262] "])


#: a device fd 5 (cdev), a group-API device fd 6 and, after a FEATURE call, data fds 8
#: and 9 first used: the random calls then mostly meet fds the table knows
_PREAMBLE = [
    'openat(AT_FDCWD, "/dev/vfio/devices/vfio0", O_RDWR) = 5',
    'openat(AT_FDCWD, "/dev/vfio/0", O_RDWR) = 4',
    "ioctl(4, VFIO_GROUP_GET_DEVICE_FD, 0x4bf160) = 6",
    "ioctl(5, VFIO_DEVICE_FEATURE, 0x7ffc8910) = 0",
    "ioctl(8, VFIO_EEH_PE_OP, 0x7ffc8920) = 0",
    "ioctl(6, VFIO_DEVICE_FEATURE, 0x7ffc8910) = 0",
    'write(9, "\\0", 1) = 1',
]


@st.composite
def _lines(draw) -> list[str]:
    prefix = draw(st.sampled_from(["", "261   "]))
    out = [prefix + line for line in _PREAMBLE] if draw(st.booleans()) else []
    for call, tail, other in draw(st.lists(st.tuples(_CALL, _TAIL, _PREFIX), max_size=60)):
        # one pid column style per capture: mixing them is a different kind of capture
        shown = other if prefix and other else prefix
        out.append(f"{shown}{call}{tail}")
    return out


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_lines())
def test_plans_match_on_random_device_and_data_calls(lines: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "calls.strace"
        path.write_text("".join(line + "\n" for line in lines))
        assert_same(path)


# --- the plan itself ----------------------------------------------------------------------------

def test_a_plan_is_kept_per_text_and_shared_by_durations() -> None:
    assert split_duration("read(8, \"\", 4096) = 0 <0.000293>") == (
        "read(8, \"\", 4096) = 0", "0.000293")
    assert split_duration("read(8, \"\", 4096) = 0") == ("read(8, \"\", 4096) = 0", None)
    assert split_duration("close(3</dev/null>) = 0") == ("close(3</dev/null>) = 0", None)
    assert type(plan_for(parse_call("read(8, \"\", 4096) = 0"))) is IoPlan
    assert type(plan_for(parse_call("ioctl(5, VFIO_DEVICE_RESET) = 0"))) is IoctlPlan
    assert type(plan_for(parse_call("close(8) = 0"))) is ClosePlan
    assert type(plan_for(parse_call("dup2(8, 9) = 9"))) is Plan
    assert type(plan_for(parse_call("read(-1, \"\", 4096) = -1 EBADF"))) is IoPlan


def test_timed_lines_share_one_plan_and_keep_their_durations() -> None:
    summary = ReadSummary(format="strace")
    session = Session(summary)
    lines = ['openat(AT_FDCWD, "/dev/vfio/devices/vfio0", O_RDWR) = 5',
             *(f"ioctl(5, VFIO_DEVICE_RESET) = 0 <0.00{n}>" for n in range(1, 6))]
    for number, text in enumerate(lines, 1):
        session.line("t.strace", number, text)
    calls: CallHandler = session.calls
    assert list(calls.timed_plans) == ["ioctl(5, VFIO_DEVICE_RESET) = 0"]
    durations = [e.duration for e in session.out if e.kind == "device_reset"]
    assert durations == [0.001, 0.002, 0.003, 0.004, 0.005]
    assert HANDLERS  # the reference path uses the same handlers
