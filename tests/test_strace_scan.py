"""The block scanners (traces/strace/scan.py's patterns, and the C scanner of
traces/strace/linescan.py) must only skip what the per-line path skips.

Four readings of the same capture must agree event for event and count for count: the
reader with each scanner (it steps over lines it proves irrelevant), the reader with
scanning switched off (every line through the inlined loop), and the plain per-line path
(:meth:`Session.line` for every line, ``reference`` of test_strace_fastloop). The inputs:
every strace capture of the lab corpus (all strace option variants, gzip-compressed as
stored), a generated QEMU-like capture, and hypothesis mixes of threads, timestamps, ``-y``
decorations, split calls, data fds opening and closing, polls and unusual fd spellings.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.strace_reads import accounting
from tests.test_strace_fastloop import reference
from vfio_migcheck.traces.events import ReadSummary
from vfio_migcheck.traces.strace import linescan, reader, scan
from vfio_migcheck.traces.strace.session import Session

CORPUS = Path(__file__).parent / "corpus" / "lab-mtty-6.12"
SINGLE_FILE_CAPTURES = sorted(p for p in CORPUS.glob("*/*.strace.gz"))


#: the scanners the reader can use here: the patterns, and the C scanner when it is built
C_SCAN_BUILT = linescan._linescan is not None
SCANNERS = (False, True) if C_SCAN_BUILT else (False,)


def shipped(path: Path, build_after: int = 0, c_scan: bool = False) -> tuple[list, ReadSummary]:
    """The reader as shipped, with the C scanner (``c_scan``) or scan.py's patterns, but
    making each state's scanner after ``build_after`` lines (0: at once, so that short
    inputs exercise the scanner too; as shipped, the C scanner comes after PROBE_AFTER)."""
    summary = ReadSummary()
    default = reader.BUILD_AFTER, reader.PROBE_AFTER, linescan.AVAILABLE
    reader.BUILD_AFTER = build_after
    reader.PROBE_AFTER = min(build_after, default[1])
    linescan.AVAILABLE = c_scan
    try:
        return list(reader.read([path], summary)), summary
    finally:
        reader.BUILD_AFTER, reader.PROBE_AFTER, linescan.AVAILABLE = default


def unscanned(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list, ReadSummary]:
    with monkeypatch.context() as patch:
        patch.setattr(reader, "skip_pattern", lambda *state: scan.EVERY_LINE)
        patch.setattr(reader, "built_patterns", lambda *state: None)   # (none from the cache)
        return shipped(path)


def assert_same(path: Path, monkeypatch: pytest.MonkeyPatch, per_line: bool = True) -> None:
    """Each scanner and none agree; with ``per_line``, the plain Session.line path too."""
    plain_events, plain = unscanned(path, monkeypatch)
    for c_scan in SCANNERS:
        events, summary = shipped(path, c_scan=c_scan)
        assert events == plain_events, f"c_scan={c_scan}"
        assert accounting(summary) == accounting(plain), f"c_scan={c_scan}"
    if per_line:
        ref_events, ref = reference(path)
        assert events == ref_events
        assert accounting(summary) == accounting(ref)


def test_the_corpus_is_there() -> None:
    assert len(SINGLE_FILE_CAPTURES) > 100


@pytest.mark.parametrize("path", SINGLE_FILE_CAPTURES,
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_scanner_matches_the_per_line_path_on_the_corpus(path: Path, monkeypatch) -> None:
    assert_same(path, monkeypatch)


def test_scanner_matches_on_a_generated_qemu_capture(tmp_path, monkeypatch) -> None:
    sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
    try:
        from gen_strace import generate
    finally:
        sys.path.pop(0)
    capture = tmp_path / "mixed.strace"
    generate(capture, 30000, "mixed", seed=11)
    assert_same(capture, monkeypatch)
    # with the scanners made only for states that last (as shipped)
    plain_events, plain = unscanned(capture, monkeypatch)
    for c_scan in SCANNERS:
        events, summary = shipped(capture, reader.BUILD_AFTER, c_scan)
        assert events == plain_events
        assert accounting(summary) == accounting(plain)


def test_the_scanner_skips_ordinary_lines_and_stops_at_vfio_ones() -> None:
    """Not a pattern that stops everywhere (which would pass the tests above trivially)."""
    session = Session(ReadSummary())
    setup = [
        '100   1.000001 openat(AT_FDCWD</>, "/dev/kvm", O_RDWR) = 3</dev/kvm>',
        "100   1.000002 eventfd2(0, EFD_CLOEXEC) = 5<anon_inode:[eventfd]>",
        "100   1.000003 ioctl(3</dev/kvm>, KVM_CREATE_VCPU, 0) = 9<anon_inode:kvm-vcpu:0>",
        "100   1.000004 futex(0x1, FUTEX_WAKE_PRIVATE, 1) = 0",
        "100   1.000005 ioctl(9<anon_inode:kvm-vcpu:0>, KVM_RUN, 0) = 0",  # records -y token
    ]
    for number, text in enumerate(setup, 1):
        session.line("t", number, text)
    pattern = scan.skip_pattern(session.threads, True, session.saw_pid_column)
    assert pattern is not scan.EVERY_LINE

    def skipped(text: str) -> bool:
        """The first line of ``text`` is stepped over (the pattern matches further on)."""
        return pattern.search("\n" + text + "\n").start() > text.find("\n") \
            if "\n" in text else pattern.search("\n" + text + "\n").start() == len(text) + 1

    assert skipped("100   1.000005 futex(0x1, FUTEX_WAKE_PRIVATE, 1) = 1")
    assert skipped("100   1.000005 ioctl(9<anon_inode:kvm-vcpu:0>, KVM_RUN, 0) = 0")
    assert skipped("100   1.000005 read(5<anon_inode:[eventfd]>, \"\\1\", 8) = 8 <0.000010>")
    assert skipped("100   1.000005 ppoll([{fd=5<anon_inode:[eventfd]>, events=POLLIN}], 1, "
                   "NULL, NULL, 8) = 1 ([{fd=5, revents=POLLIN}])")
    # a thread the reader does not know yet, a resumed call, an unknown fd, another
    # decoration than recorded, a write that may carry a QEMU vfio_* trace record
    assert not skipped("101   1.000005 futex(0x1, FUTEX_WAKE_PRIVATE, 1) = 1")
    assert not skipped("100   1.000005 read(31<anon_inode:mtty_mig>, \"\", 8) = 0")
    assert not skipped("100   1.000005 read(5<anon_inode:[timerfd]>, \"\\1\", 8) = 8")
    assert not skipped('100   1.000005 write(5<anon_inode:[eventfd]>, "vfio_x", 6) = 6')
    assert not skipped("100   1.000005 ioctl(3</dev/kvm>, KVM_CREATE_VCPU, 1) = 10")
    assert not skipped("100   1.000005 close(5<anon_inode:[eventfd]>) = 0")
    assert not skipped("100   1.000005 ioctl(05, KVM_RUN, 0) = 0")
    # a split call: the first half only when its thread's next line resumes it, within
    # the window, and the pair cannot matter; a second half of a thread with nothing
    # pending always (the reader proves by counting that it ends a pair stepped over)
    assert skipped("100   1.000005 <... futex resumed>) = 0")
    assert not skipped("101   1.000005 <... futex resumed>) = 0")
    first = "100   1.000006 futex(0x1, FUTEX_WAIT_PRIVATE, 2, NULL <unfinished ...>"
    assert skipped(first + "\n100   1.000007 <... futex resumed>) = 0")
    assert not skipped(first + "\n100   1.000007 <... ioctl resumed>, 0) = 0")
    assert not skipped(first + "\n100   1.000007 futex(0x1, FUTEX_WAKE_PRIVATE, 1) = 1")
    assert not skipped(first + "\n" + "\n".join(
        ["101   1.000007 madvise(0x7f0c, 2097152, MADV_DONTNEED) = 0"] * (scan.PAIR_WINDOW + 1))
        + "\n100   1.000008 <... futex resumed>) = 0")
    run = "100   1.000006 ioctl(9<anon_inode:kvm-vcpu:0>, KVM_RUN <unfinished ...>"
    assert skipped(run + "\n101   1.000007 getpid() = 101\n100   1.000008 <... ioctl resumed>"
                   ", 0) = 0")
    assert not skipped(run.replace("KVM_RUN", "VFIO_GROUP_GET_DEVICE_FD")
                       + "\n100   1.000008 <... ioctl resumed>, 0) = 0")
    assert not skipped(run.replace("9<anon_inode:kvm-vcpu:0>", "31<anon_inode:mtty_mig>")
                       + "\n100   1.000008 <... ioctl resumed>, 0) = 0")


# --- hypothesis mixes -----------------------------------------------------------------------

_DATA = "31<anon_inode:mtty_mig>"
_BODIES = [
    # setup and fd traffic that changes the table
    'openat(AT_FDCWD</>, "/dev/vfio/0", O_RDWR) = 4</dev/vfio/0>',
    "ioctl(4</dev/vfio/0>, VFIO_GROUP_GET_DEVICE_FD, 0x4bf160) = 22<anon_inode:[vfio-device]>",
    "ioctl(22<anon_inode:[vfio-device]>, VFIO_DEVICE_FEATURE or VFIO_IOMMU_DIRTY_PAGES or "
    "VFIO_IOMMU_SPAPR_REGISTER_MEMORY, 0x7ffd1d1be1f0) = 0",
    f'read({_DATA}, "\\1\\2", 65536) = 2',
    f"ioctl({_DATA}, VFIO_EEH_PE_OP or VFIO_MIG_GET_PRECOPY_INFO, 0x7f) = 0",
    f"close({_DATA}) = 0",
    "eventfd2(0, EFD_CLOEXEC) = 5<anon_inode:[eventfd]>",
    "eventfd2(0, EFD_CLOEXEC) = 6<anon_inode:[eventfd]>",
    "close(6<anon_inode:[eventfd]>) = 0",
    "ioctl(3</dev/kvm>, KVM_CREATE_VCPU, 0) = 9<anon_inode:kvm-vcpu:0>",
    "epoll_create1(EPOLL_CLOEXEC) = 7<anon_inode:[eventpoll]>",
    f"epoll_ctl(7<anon_inode:[eventpoll]>, EPOLL_CTL_ADD, {_DATA}, {{events=EPOLLIN, "
    "data={u32=31, u64=31}}) = 0",
    "recvmsg(15<socket:[77]>, {msg_name=NULL, msg_control=[{cmsg_len=20, cmsg_level="
    "SOL_SOCKET, cmsg_type=SCM_RIGHTS, cmsg_data=[30<pipe:[88]>]}], msg_flags=0}, 0) = 9",
    "dup2(5<anon_inode:[eventfd]>, 9<anon_inode:kvm-vcpu:0>) = 9<anon_inode:[eventfd]>",
    # everyday noise
    "futex(0x55d0, FUTEX_WAKE_PRIVATE, 1) = 1",
    "madvise(0x7f0c, 2097152, MADV_DONTNEED) = 0",
    "ioctl(9<anon_inode:kvm-vcpu:0>, KVM_RUN, 0) = 0",
    "ioctl(9, KVM_RUN, 0) = 0",
    "ioctl(9<anon_inode:kvm-vcpu:1>, KVM_RUN, 0) = 0",
    'read(5<anon_inode:[eventfd]>, "\\1\\0", 16) = 8',
    'read(5, "\\1\\0", 16) = 8',
    'read(05, "\\1\\0", 16) = 8',
    'read(-5, "\\1\\0", 16) = -1 EBADF (Bad file descriptor)',
    'write(5<anon_inode:[eventfd]>, "\\1\\0", 8) = 8',
    'write(2</dev/pts/0<char 136:0>>, "vfio_migration_set_state  (0000:3b:00.1) new state '
    'STOP, recover state ERROR\\n", 70) = 70',
    "ppoll([{fd=5<anon_inode:[eventfd]>, events=POLLIN}, {fd=15<socket:[77]>, events=POLLIN}]"
    ", 2, NULL, NULL, 8) = 1 ([{fd=5, revents=POLLIN}])",
    f"ppoll([{{fd=5, events=POLLIN}}, {{fd={_DATA}, events=POLLIN}}], 2, NULL, NULL, 8) = 0",
    "ppoll([{fd=-1, events=POLLIN}, {fd=40, events=POLLIN}], 2, NULL, NULL, 8) = 0",
    "ppoll([{fd=-0, events=POLLIN}], 1, NULL, NULL, 8) = 0",
    "ppoll([{fd=41<anon_inode:mlx5vf_mig>, events=POLLIN}], 1, NULL, NULL, 8) = 0",
    "select(16, [5 15], NULL, NULL, NULL) = 1 (in [5])",
    "epoll_wait(7<anon_inode:[eventpoll]>, [], 8, 0) = 0",
    "epoll_wait(8, [], 8, 0) = 0",
    "recvmsg(15<socket:[77]>, {msg_namelen=0}, MSG_CMSG_CLOEXEC) = -1 EAGAIN (Resource "
    "temporarily unavailable)",
    "io_uring_enter(13<anon_inode:[io_uring]>, 1, 0, 0, NULL, 8) = 1",
    "getpid() = 100",
]
_SPLIT = [
    ("ioctl(9<anon_inode:kvm-vcpu:0>, KVM_RUN", ", 0) = 0"),
    ("futex(0x55d0, FUTEX_WAIT_PRIVATE, 2, NULL", ") = 0"),
    ("ppoll([{fd=5<anon_inode:[eventfd]>, events=POLLIN}], 1, NULL, NULL, 8", ") = 0"),
    (f"read({_DATA}", ', "", 65536) = 0'),
    ("ioctl(22<anon_inode:[vfio-device]>, VFIO_DEVICE_FEATURE or VFIO_IOMMU_DIRTY_PAGES or "
     "VFIO_IOMMU_SPAPR_REGISTER_MEMORY", ", 0x7f) = 0"),
    ('write(5<anon_inode:[eventfd]>, "vfio', '_x", 6) = 6'),
    ("clone3({flags=CLONE_VM|CLONE_FILES|CLONE_THREAD, exit_signal=0}", ", 88) = 104"),
]
_STAMPS = st.sampled_from(["epoch", "tod", "none"])
_PREFIX = st.sampled_from(["plain", "bracket", "none"])


def _render(shape: tuple, tid: int, second: int, stamp: str, prefix: str) -> list[str]:
    when = {"epoch": f"{1767225600 + second}.{second % 997:06d} ",
            "tod": f"09:{second // 60 % 60:02d}:{second % 60:02d}.{second % 997:06d} ",
            "none": ""}[stamp]
    pid = {"plain": f"{tid:<5} ", "bracket": f"[pid {tid:5}] ", "none": ""}[prefix]
    kind, index, tail = shape
    if kind == "line":
        return [pid + when + _BODIES[index] + tail]
    head, rest = _SPLIT[index]
    name = head.split("(", 1)[0]
    return [pid + when + head + " <unfinished ...>", f"<... {name} resumed>{rest}" + tail]


_SHAPE = st.one_of(
    st.tuples(st.just("line"), st.integers(0, len(_BODIES) - 1),
              st.sampled_from(["", " <0.000010>"])),
    st.tuples(st.just("split"), st.integers(0, len(_SPLIT) - 1), st.just("")),
)


def _mix(items, stamp: str, prefix: str) -> list[str]:
    """Lines of several threads; a split call's second half comes `delay` lines later."""
    lines: list[str] = []
    waiting: list[tuple[int, str]] = []   # second halves, printed after `delay` more lines
    second = 0
    for shape, tid, delay in items:
        second += 1
        first, *rest = _render(shape, tid, second, stamp, prefix)
        lines.append(first)
        for item in list(waiting):
            if item[0] <= len(lines):
                waiting.remove(item)
                lines.append(item[1])
        if rest:
            pid = {"plain": f"{tid:<5} ", "bracket": f"[pid {tid:5}] ", "none": ""}[prefix]
            when = "" if stamp == "none" else _render(("line", 0, ""), tid, second + 1, stamp,
                                                      "none")[0].split(" ", 1)[0] + " "
            waiting.append((len(lines) + delay, pid + when + rest[0]))
    lines += [text for _, text in waiting]
    return lines


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_SHAPE, st.integers(100, 103), st.integers(0, 3)), max_size=60),
       _STAMPS, _PREFIX)
def test_scanner_matches_on_random_mixes(items, stamp: str, prefix: str) -> None:
    # the scanner against the same loop without it; the inlined loop itself differs
    # from Session.line on some malformed interleavings (a thread starting a call
    # while another of its calls is pending), before this work too
    assert_same_lines(_mix(items, stamp, prefix))


def assert_same_lines(lines: list[str]) -> None:
    """:func:`assert_same` (scanner on and off, not per line) on a capture of ``lines``;
    for hypothesis tests, which cannot take the function-scoped pytest fixtures."""
    monkeypatch = pytest.MonkeyPatch()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "capture.strace"
        path.write_text("".join(line + "\n" for line in lines))
        try:
            assert_same(path, monkeypatch, per_line=False)
        finally:
            monkeypatch.undo()
