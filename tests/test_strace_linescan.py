"""The C scanner (traces/strace/linescan.py, _linescan.c) looked at directly.

tests/test_strace_scan.py, test_strace_pairs.py and test_strace_scan_spellings.py hold the
reader with the C scanner against the reader without any scanner on the corpus and on
hypothesis mixes; these tests make sure it is not a scanner that stops everywhere (which
would pass those trivially), that it stops at each kind of line that matters, that it
hands back the first halves left pending, and that it is built wherever it can be.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_strace_scan import C_SCAN_BUILT, assert_same
from vfio_migcheck.traces.events import ReadSummary
from vfio_migcheck.traces.strace import linescan
from vfio_migcheck.traces.strace.session import Session

needs_c = pytest.mark.skipif(not C_SCAN_BUILT, reason="the C scanner is not built here")

SETUP = [
    '100   1.000001 openat(AT_FDCWD</>, "/dev/kvm", O_RDWR) = 3</dev/kvm>',
    "100   1.000002 eventfd2(0, EFD_CLOEXEC) = 5<anon_inode:[eventfd]>",
    "100   1.000003 ioctl(3</dev/kvm>, KVM_CREATE_VCPU, 0) = 9<anon_inode:kvm-vcpu:0>",
    "100   1.000004 epoll_create1(EPOLL_CLOEXEC) = 7<anon_inode:[eventpoll]>",
    "100   1.000005 futex(0x1, FUTEX_WAKE_PRIVATE, 1) = 0",
    "100   1.000006 clone3({flags=CLONE_VM|CLONE_FILES|CLONE_THREAD, exit_signal=0}, 88) = 101",
    "100   1.000007 ioctl(9<anon_inode:kvm-vcpu:0>, KVM_RUN, 0) = 0",   # records the -y token
]

#: lines the per-line path settles as irrelevant without touching any state
ORDINARY = [
    "100   2.000001 futex(0x55d0, FUTEX_WAKE_PRIVATE, 1) = 1 <0.000019>",
    "101   2.000002 ioctl(9<anon_inode:kvm-vcpu:0>, KVM_RUN, 0) = 0",
    "101   2.000003 ioctl(9, KVM_RUN, 0) = 0",
    '100   2.000004 write(5<anon_inode:[eventfd]>, "\\1\\0\\0\\0\\0\\0\\0\\0", 8) = 8',
    '100   2.000005 read(5, "\\1\\0\\0\\0\\0\\0\\0\\0", 16) = 8',
    "100   2.000006 ppoll([{fd=5<anon_inode:[eventfd]>, events=POLLIN}], 1, NULL, NULL, 8) = 1",
    "100   2.000007 madvise(0x7f0c2c000000, 2097152, MADV_DONTNEED) = 0",
    "100   2.000008 epoll_wait(8, [], 8, 0) = 0",
    "[pid   101] 2.000009 futex(0x55d0, FUTEX_WAIT_PRIVATE, 2, NULL <unfinished ...>",
    "100   2.000010 ioctl(9<anon_inode:kvm-vcpu:0>, KVM_RUN <unfinished ...>",
    "101   2.000011 <... futex resumed>) = 0 <0.000190>",
    "100   2.000012 <... ioctl resumed>, 0) = 0 <0.000006>",
    "100   2.000013 recvmsg(5, {msg_namelen=0}, MSG_CMSG_CLOEXEC) = -1 EAGAIN",
]

#: lines that may matter (or that the per-line path reads with a side effect)
STOPPERS = {
    "a device ioctl": "100   3.0 ioctl(22, VFIO_DEVICE_FEATURE, 0x7ffd) = 0",
    "an unknown thread": "102   3.0 futex(0x1, FUTEX_WAKE_PRIVATE, 1) = 0",
    "an ioctl that returns an fd": "100   3.0 ioctl(3</dev/kvm>, KVM_CREATE_VCPU, 1) = 10",
    "another decoration": "100   3.0 ioctl(9<anon_inode:kvm-vcpu:1>, KVM_RUN, 0) = 0",
    "a write naming vfio": '100   3.0 write(5, "vfio", 4) = 4',
    "a write of escaped bytes": '100   3.0 write(5, "\\x01", 1) = 1',
    "fds passed": "100   3.0 recvmsg(5, {msg_control=[{cmsg_type=SCM_RIGHTS}]}, 0) = 1",
    "an epoll fd": "100   3.0 epoll_wait(7<anon_inode:[eventpoll]>, [], 8, 0) = 0",
    "a close": "100   3.0 close(5<anon_inode:[eventfd]>) = 0",
    "an open": '100   3.0 openat(AT_FDCWD, "/dev/vfio/vfio", O_RDWR) = 11',
    "a poll of a migration fd": "100   3.0 ppoll([{fd=41<anon_inode:mlx5vf_mig>}], 1) = 0",
    "a read of an unknown fd": '100   3.0 read(30, "", 16) = 0',
    "a second half of nothing": "100   3.0 <... futex resumed>) = 0",
    "an unfinished read": "100   3.0 read(5 <unfinished ...>",
    "a time of day stamp (not steady)": "100   10:00:00 futex(0x1, FUTEX_WAKE, 1) = 0",
    "a signal": "100   3.0 --- SIGCHLD {si_signo=SIGCHLD} ---",
}


def _session() -> Session:
    session = Session(ReadSummary())
    for number, text in enumerate(SETUP, 1):
        session.line("t", number, text)
    return session


def _unstamped(line: str) -> str:
    pid, _stamp, rest = line.split(maxsplit=2)
    return f"{pid} {rest}"


def _scan(session: Session, lines: list[str], steady: bool = True) -> tuple:
    scanner = linescan.scanner(session.threads, steady, session.saw_pid_column)
    assert scanner is not None
    block = "\n" + "".join(line + "\n" for line in lines)
    stop, count, pending = scanner.scan(block, 0, len(block) - 1,
                                        linescan.busy_threads(session.threads))
    return block, stop, count, pending


@needs_c
def test_it_steps_over_every_ordinary_line() -> None:
    block, stop, count, pending = _scan(_session(), ORDINARY)
    assert (stop, count, pending) == (len(block) - 1, len(ORDINARY), ())


@needs_c
@pytest.mark.parametrize("kind", sorted(STOPPERS))
def test_it_stops_at_lines_that_may_matter(kind: str) -> None:
    steady = not kind.startswith("a time")
    around = ORDINARY[:3] if steady else [_unstamped(line) for line in ORDINARY[:3]]
    lines = around + [STOPPERS[kind]] + around
    block, stop, count, pending = _scan(_session(), lines, steady)
    assert count == 3
    assert block[stop + 1:].startswith(STOPPERS[kind] + "\n")
    assert pending == ()


@needs_c
def test_the_lines_of_a_thread_with_a_call_pending_stop_it() -> None:
    session = _session()
    session.line("t", 100, "101   1.5 futex(0x1, FUTEX_WAIT_PRIVATE, 2, NULL <unfinished ...>")
    assert linescan.busy_threads(session.threads) == (101,)
    lines = ["100   2.0 madvise(0x1, 2, MADV_DONTNEED) = 0", "101   2.1 <... futex resumed>) = 0"]
    block, stop, count, pending = _scan(session, lines)
    assert count == 1 and block[stop + 1:].startswith(lines[1])


@needs_c
def test_first_halves_whose_second_half_lies_past_the_stop_are_handed_back() -> None:
    lines = [
        "100   2.0 futex(0x1, FUTEX_WAIT_PRIVATE, 2, NULL <unfinished ...>",
        "101   2.1 ioctl(9<anon_inode:kvm-vcpu:0>, KVM_RUN <unfinished ...>",
        "101   2.2 <... ioctl resumed>, 0) = 0",
        "101   2.3 ioctl(9, KVM_RUN <unfinished ...>",
        STOPPERS["a device ioctl"],
        "100   2.4 <... futex resumed>) = 0",
    ]
    block, stop, count, pending = _scan(_session(), lines)
    assert count == 4 and block[stop + 1:].startswith(STOPPERS["a device ioctl"])
    starts = [block.find("\n" + line + "\n") for line in (lines[0], lines[3])]
    assert pending == ((starts[0], 0), (starts[1], 3))


@needs_c
def test_a_second_half_of_another_call_stops_it() -> None:
    lines = ["100   2.0 futex(0x1, FUTEX_WAIT_PRIVATE, 2, NULL <unfinished ...>",
             "100   2.1 <... ppoll resumed>) = 0"]
    block, stop, count, pending = _scan(_session(), lines)
    assert count == 1 and pending == ((0, 0),)


@needs_c
def test_another_call_of_a_thread_with_a_first_half_pending_stops_it() -> None:
    """strace never prints one, but a capture that lost a line might: the per-line path
    reads such a line with the pending call in place."""
    for second in ("100   2.1 madvise(0x1, 2, MADV_DONTNEED) = 0",
                   "100   2.1 futex(0x2, FUTEX_WAIT_PRIVATE, 2, NULL <unfinished ...>"):
        lines = ["100   2.0 futex(0x1, FUTEX_WAIT_PRIVATE, 2, NULL <unfinished ...>", second]
        block, stop, count, pending = _scan(_session(), lines)
        assert count == 1 and pending == ((0, 0),)
        assert block[stop + 1:].startswith(second)


@needs_c
def test_an_ioctl_first_half_with_a_time_of_day_stops_it() -> None:
    """The per-line path reads that stamp when it reads the first half (a time-of-day
    clock remembers it, for midnight), and the joined call is decided on both halves."""
    for stamp, count in (("2.0", 2), ("09:00:00.000001", 0)):
        lines = [f"100   {stamp} ioctl(9, KVM_RUN <unfinished ...>",
                 "100   2.1 <... ioctl resumed>, 0) = 0"]
        assert _scan(_session(), lines)[2] == count


@needs_c
def test_it_refuses_what_it_cannot_read() -> None:
    scanner = linescan.scanner(_session().threads, True, True)
    with pytest.raises(ValueError, match="ASCII"):
        scanner.scan("\nwrite(1, \"é\", 2) = 2\n", 0, 23, ())
    with pytest.raises(ValueError, match="newlines"):
        scanner.scan("\nmadvise() = 0\n", 1, 14, ())


def test_a_block_with_other_characters_gives_the_per_line_result(tmp_path: Path,
                                                                  monkeypatch) -> None:
    """The reader takes such a block line by line (the scanner reads ASCII only)."""
    capture = tmp_path / "capture.strace"
    lines = SETUP + ORDINARY + ['100   4.0 write(5, "café", 5) = 5'] + ORDINARY
    capture.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    assert_same(capture, monkeypatch)


def test_the_c_scanner_is_built_wherever_a_compiler_is() -> None:
    """The extension is optional, so a failed build would only show as a slow reader."""
    if not (shutil.which("cc") or shutil.which("gcc")):
        pytest.skip("no C compiler on this machine: the package is installed without it")
    assert C_SCAN_BUILT, "a C compiler is here but _linescan was not built (setup.py)"


def test_an_environment_variable_turns_it_off() -> None:
    code = "from vfio_migcheck.traces.strace import linescan; print(linescan.AVAILABLE)"
    env = dict(os.environ, VFIO_MIGCHECK_NO_C_SCAN="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "False"


_PIECES = st.sampled_from([
    "100", "101", "102", "0", "  ", " ", "[pid 101] ", "[pid  100] ", "[pid 1", "1.000001 ",
    "09:00:00 ", "09:00:00.5 ", "12345678 ", "futex(", "ioctl(", "read(", "write(", "ppoll(",
    "epoll_wait(", "recvmsg(", "close(", "9", "5", "7", "-1", "-0", "<anon_inode:kvm-vcpu:0>",
    "<anon_inode:[eventfd]>", "<", ">", ", ", ",", "KVM_RUN", "KVM_CREATE_VCPU", "[{fd=",
    "{fd=5, ", "{fd=40}", "_mig", "vfio", "\\x", "SCM_RIGHTS", ") = 0", " <unfinished ...>",
    "<... futex resumed>", "<... ioctl resumed>", "<... ", " resumed>", "...>", "x", "$",
])
_LINES = st.lists(st.lists(_PIECES, max_size=8).map("".join), max_size=30)


@needs_c
@settings(max_examples=400, deadline=None)
@given(_LINES, st.data(), st.booleans(), st.booleans())
def test_any_block_gets_a_consistent_answer(lines, data, steady, busy_101) -> None:
    """Random spellings of everything the scanner reads: it must neither crash nor read
    past the line it stops at, and what it hands back must describe the block."""
    session = _session()
    if busy_101:
        session.line("t", 100, "101   1.5 futex(0x1, FUTEX_WAIT, 2, NULL <unfinished ...>")
    scanner = linescan.scanner(session.threads, steady, session.saw_pid_column)
    block = "\n" + "".join(line + "\n" for line in lines)
    newlines = [i for i, char in enumerate(block) if char == "\n"]
    pos = data.draw(st.sampled_from(newlines))
    end = data.draw(st.sampled_from([n for n in newlines if n >= pos]))
    stop, count, pending = scanner.scan(block, pos, end, linescan.busy_threads(session.threads))
    assert pos <= stop <= end and block[stop] == "\n"
    assert count == block.count("\n", pos, stop)
    for begin, index in pending:
        assert pos <= begin < stop and block[begin] == "\n"
        assert index == block.count("\n", pos, begin)
        assert block[begin + 1:block.index("\n", begin + 1)].endswith(" <unfinished ...>")
    assert [begin for begin, _ in pending] == sorted(begin for begin, _ in pending)
