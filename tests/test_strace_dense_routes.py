"""The reader's routes for a dense loop's lines against :meth:`Session.line`, line by line.

The per-line loop of the strace reader takes a close of a known device or data fd and an
I/O call or ioctl on an fd not in the table (a data fd's first use) straight to the call's
plan, and remembers every line whose plan it found (whatever the plan then did) as a hot
line. These tests hold that to the reference path, which reads every line through
``Session.line``: the same events and the same accounting, on the realistic dense loop and
on random tails of its lines and their variants (other fds, pid columns, ``-y``
decorations, time stamps, failed closes).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.dense_loop import dense_loop_events
from tests.support.strace_reads import assert_reads_as_line_by_line


def test_dense_loop_reads_as_line_by_line(tmp_path: Path) -> None:
    path, events = dense_loop_events(tmp_path, rounds=40)
    assert sum(type(e).__name__ == "FdAppeared" for e in events) >= 80
    assert sum(type(e).__name__ == "DataClose" for e in events) >= 80
    assert_reads_as_line_by_line(path)


def _loop_lines(directory: Path) -> tuple[list[str], list[str]]:
    """(the set-up, one round of the loop) of the dense loop capture, pid column cut."""
    path, _events = dense_loop_events(directory, rounds=2)
    lines = [line.split(None, 1)[1] for line in path.read_text().splitlines()]
    return lines[:60], lines[60:]


with tempfile.TemporaryDirectory() as _tmp:
    _SETUP, _ROUND = _loop_lines(Path(_tmp))

_FEATURE = "ioctl({fd}, VFIO_DEVICE_FEATURE or VFIO_IOMMU_DIRTY_PAGES, 0x7ffc976c8910) = 0"
_VARIANTS = [
    "close(8) = 0", "close(9) = 0", "close(8) = -1 EBADF (Bad file descriptor)",
    "close(5) = 0", "close(12) = 0", "close(8</anon_inode:[mtty_mig]>) = 0",
    "read(8, \"\", 4096) = 0", "read(10, \"\\1\\2\", 4096) = 2", "write(9, \"\\0\", 1) = 1",
    "ioctl(8, VFIO_EEH_PE_OP, 0x7ffc976c8920) = 0", "ioctl(11, VFIO_EEH_PE_OP, 0x7f) = 0",
    "ioctl(8, VFIO_DEVICE_FEATURE or VFIO_IOMMU_DIRTY_PAGES, 0x7f) = 0",
    "read(8</anon_inode:[mtty_mig]>, \"\", 4096) = 0", "pread64(7, \"\\0\", 1, 7) = 1",
    "openat(AT_FDCWD, \"/tmp/x\", O_RDONLY) = 8", "dup(8) = 10",
    _FEATURE.format(fd=5), _FEATURE.format(fd=7), "getpid() = 261",
]
_BODY = st.one_of(st.sampled_from(_ROUND), st.sampled_from(_VARIANTS))
_STAMP = st.sampled_from(["", "", "", "10:00:01.000001 "])
_COLUMN = st.sampled_from(["261   ", "261   ", "[pid   262] "])


@st.composite
def _captures(draw) -> list[str]:
    """The loop's set-up, then a random tail of its lines and variants (one capture
    shape: every line stamped or none, a pid column on every line)."""
    stamp = draw(_STAMP)
    tail = draw(st.lists(st.tuples(_COLUMN, _BODY), max_size=60))
    return [f"261   {stamp}{body}" for body in _SETUP] + [
        f"{column}{stamp}{body}" for column, body in tail]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_captures())
def test_dense_routes_match_on_random_tails(lines: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tail.strace"
        path.write_text("".join(line + "\n" for line in lines))
        assert_reads_as_line_by_line(path)


def test_repeated_rounds_with_a_failed_close_between(tmp_path: Path) -> None:
    """A remembered close line met again when its fd is no data fd any more (closed,
    failed, reused for a plain file) takes Session.line's route."""
    lines = [f"261   {body}" for body in _SETUP]
    for turn in range(6):
        lines += [f"261   {body}" for body in _ROUND]
        if turn % 2:
            lines += ["261   close(8) = -1 EBADF (Bad file descriptor)",
                      "261   openat(AT_FDCWD, \"/tmp/x\", O_RDONLY) = 8",
                      "261   read(8, \"\", 4096) = 0", "261   close(8) = 0"]
    path = tmp_path / "rounds.strace"
    path.write_text("".join(line + "\n" for line in lines))
    assert_reads_as_line_by_line(path)
