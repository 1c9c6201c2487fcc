"""The inlined fast loop of strace.py must decide exactly like Session.line, line by line.

The reference reads every line through :meth:`Session.line` (no shortcut); the reader
settles most lines inline. Both must give the same events and the same accounting, on
the real captures, the hand-written ones and a generated QEMU-like capture.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.strace_reads import CAPTURES, assert_reads_as_line_by_line, line_by_line

#: the per-line path the reader is held to (test_strace_scan.py reads it from here too)
reference = line_by_line


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fast_loop_matches_the_per_line_path(path: Path) -> None:
    assert_reads_as_line_by_line(path)


def test_fast_loop_matches_on_a_generated_qemu_capture(tmp_path) -> None:
    sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
    try:
        from gen_strace import generate
    finally:
        sys.path.pop(0)
    capture = tmp_path / "mixed.strace"
    generate(capture, 20000, dense=False, seed=7)
    assert_reads_as_line_by_line(capture)
    dense = tmp_path / "dense.strace"
    generate(dense, 3000, dense=True, seed=7)
    assert_reads_as_line_by_line(dense)


# --- the same on random mixes of real, cut and split lines --------------------------------

_REAL = [line for path in CAPTURES[:12] for line in path.read_text().splitlines()]
_TIDS = st.integers(1, 4)
_QUIET = st.sampled_from([
    "futex(0x1, FUTEX_WAIT_PRIVATE, 2, NULL <unfinished ...>", "<... futex resumed>) = 0",
    "ppoll([{fd=5, events=POLLIN}], 1, NULL, NULL, 8 <unfinished ...>",
    "<... ppoll resumed>) = 1 ([{fd=5, revents=POLLIN}])", "getpid() = 7",
    "read(5, \"\\1\", 8) = 1", "ioctl(9, KVM_RUN, 0) = 0", "close(6) = 0",
    "ioctl(5, VFIO_DEVICE_FEATURE or VFIO_IOMMU_DIRTY_PAGES, 0x7f) = 0",
    "openat(AT_FDCWD, \"/dev/vfio/devices/vfio0\", O_RDWR) = 5",
    "epoll_create1(EPOLL_CLOEXEC) = 7", "epoll_wait(7, [], 8, 0) = 0",
    "epoll_ctl(7, EPOLL_CTL_ADD, 6, {events=EPOLLIN, data={u32=6, u64=6}}) = 0",
    "epoll_wait(7, [{events=EPOLLIN, data={u32=6, u64=6}}], 8, -1) = 1",
])
_LINE = st.one_of(
    st.sampled_from(_REAL),
    st.builds(lambda tid, body: f"{tid:<5} {body}", _TIDS, _QUIET),
    st.builds(lambda tid, body: f"[pid {tid:5}] {body}", _TIDS, _QUIET),
    st.builds(lambda line, at: line[:at], st.sampled_from(_REAL), st.integers(0, 120)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_LINE, max_size=50))
def test_fast_loop_matches_on_random_mixes(lines: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mix.strace"
        path.write_text("".join(line + "\n" for line in lines))
        assert_reads_as_line_by_line(path)


_POLL_START = "1     ppoll([{fd=5, events=POLLIN}], 1, NULL, NULL, 8 <unfinished ...>\n"
#: another thread's ioctl on fd 5, never seen before: a data fd's first use
_FIRST_USE = ("491   ioctl(5, VFIO_EEH_PE_OP, 0x7ffcf5fddd70) = -1 ENOTTY "
              "(Inappropriate ioctl for device)\n")


_POLL_END = "1     <... ppoll resumed>) = 1 ([{fd=5, revents=POLLIN}])\n"


@pytest.mark.parametrize("tail", ["", _POLL_END], ids=["never-resumed", "resumed"])
def test_a_poll_split_around_a_data_fd_s_first_use_is_read(tmp_path: Path, tail: str) -> None:
    """The poll started while no data fd existed, but fd 5 is one by the time it resumes
    (or the capture ends): it is a DataPoll both ways, not a quiet pair."""
    path = tmp_path / "split-poll.strace"
    path.write_text(_POLL_START + _FIRST_USE + tail)
    assert_reads_as_line_by_line(path)
    events, _summary = line_by_line(path)
    assert [type(e).__name__ for e in events].count("DataPoll") == 1
