"""The skip pattern's cheaper spellings (scan.py) against the per-line path.

Digits are read as ``[0-9]`` only (``\\d`` on text costs a Unicode look-up per character):
lines spelling a number with other decimal digits go to the per-line path, which must read
them as it always did; the pattern itself steps over none of them (one with ``\\d`` would),
and generated mixes whose numbers are partly spelled in other scripts read the same with
the scanner on and off. The free threads' pid column is a prefix tree with no look past
each number (pids that prefix each other), and an ioctl's first argument is read up to its
first ", " by one run unless a comma without a blank comes first (``_first_comma``).
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_strace_scan import _BODIES, _SHAPE, _mix, assert_same_lines
from vfio_migcheck.traces.events import ReadSummary
from vfio_migcheck.traces.strace import scan
from vfio_migcheck.traces.strace.session import Session

#: ASCII digit -> the same digit in Arabic-Indic, Devanagari and fullwidth script
_OTHER_DIGITS = ["\u0660", "\u0966", "\uff10"]


def _spelled(text: str, script: int, every: int) -> str:
    """``text`` with every ``every``-th ASCII digit in another script."""
    out = []
    seen = 0
    for char in text:
        if char.isascii() and char.isdigit():
            seen += 1
            if seen % every == 0:
                char = chr(ord(_OTHER_DIGITS[script]) + int(char))
        out.append(char)
    return "".join(out)


def _session() -> Session:
    session = Session(ReadSummary())
    setup = [
        '100   1.000001 openat(AT_FDCWD</>, "/dev/kvm", O_RDWR) = 3</dev/kvm>',
        "100   1.000002 eventfd2(0, EFD_CLOEXEC) = 5<anon_inode:[eventfd]>",
        "100   1.000003 ioctl(3</dev/kvm>, KVM_CREATE_VCPU, 0) = 9<anon_inode:kvm-vcpu:0>",
        "100   1.000004 epoll_create1(EPOLL_CLOEXEC) = 7<anon_inode:[eventpoll]>",
        "100   1.000005 ioctl(9<anon_inode:kvm-vcpu:0>, KVM_RUN, 0) = 0",
    ]
    for number, text in enumerate(setup, 1):
        session.line("t", number, text)
    return session


def test_lines_with_other_digits_are_left_to_the_per_line_path() -> None:
    session = _session()
    pattern = scan.skip_pattern(session.threads, True, session.saw_pid_column)
    assert pattern is not scan.EVERY_LINE

    def skipped(text: str) -> bool:
        return pattern.search("\n" + text + "\n").start() > text.find("\n") \
            if "\n" in text else pattern.search("\n" + text + "\n").start() == len(text) + 1

    plain = "100   1.000005 futex(0x1, FUTEX_WAKE_PRIVATE, 1) = 1"
    assert skipped(plain)
    assert not skipped(plain.replace("1.000005", "1.00000\u0665"))
    assert not skipped(plain.replace("1.000005", "1767225600"[:9] + "\u0660"))
    assert not skipped("100   09:00:0\u0661.000005 futex(0x1, FUTEX_WAKE_PRIVATE, 1) = 1")
    assert skipped("100   1.000005 epoll_wait(8, [], 8, 0) = 0")
    assert not skipped("100   1.000005 epoll_wait(\u0668, [], 8, 0) = 0")
    # a known fd's number followed by another script's digit is another number for the
    # per-line path (int() reads "9\u0660" as 90): never a call on the known fd
    assert skipped("100   1.000005 ioctl(9, KVM_RUN, 0) = 0")
    assert not skipped("100   1.000005 ioctl(9\u0660, KVM_RUN, 0) = 0")
    assert not skipped("100   1.000005 epoll_wait(8\u0660, [], 8, 0) = 0")
    first = "100   1.000006 futex(0x1, FUTEX_WAIT_PRIVATE, 2, NULL <unfinished ...>"
    assert skipped(first + "\n101   1.000007 getpid() = 101\n100   1.000008 <... futex "
                   "resumed>) = 0")
    assert not skipped(first + "\n10\u0661   1.000007 getpid() = 101\n100   1.000008 <... "
                       "futex resumed>) = 0")
    assert not skipped(first + "\n100   1.00000\u0668 <... futex resumed>) = 0")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_SHAPE, st.integers(100, 103), st.integers(0, 3)), max_size=50),
       st.sampled_from(["epoch", "tod"]), st.sampled_from(["plain", "bracket"]),
       st.lists(st.tuples(st.integers(0, 2), st.integers(1, 6)), max_size=50))
def test_other_digits_read_the_same_with_and_without_the_scanner(items, stamp, prefix,
                                                                 spellings) -> None:
    lines = _mix(items, stamp, prefix)
    for index, (script, every) in enumerate(spellings):
        if index < len(lines):
            lines[index * 7 % len(lines)] = _spelled(lines[index * 7 % len(lines)], script,
                                                     every)
    assert_same_lines(lines)


def test_the_bodies_are_still_there() -> None:
    # the mixes above draw from test_strace_scan's bodies: a numbered fd among them
    assert any("epoll_wait(8" in body for body in _BODIES)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_SHAPE, st.sampled_from([4, 42, 424, 4242, 4250, 425]),
                          st.integers(0, 3)), max_size=50),
       st.sampled_from(["epoch", "tod", "none"]), st.sampled_from(["plain", "bracket"]))
def test_pids_that_prefix_each_other_read_the_same(items, stamp, prefix) -> None:
    # scan._free_pid reads the pid column by a prefix tree without a look past the
    # number: 42 must not be taken for 4242's column, nor the other way round
    assert_same_lines(_mix(items, stamp, prefix))


_COMMA_IOCTLS = [
    "ioctl(9<anon_inode:kvm-vcpu:0>, KVM_RUN, 0) = 0",
    "ioctl(9<anon_inode:kvm,vcpu:0>, KVM_RUN, 0) = 0",
    "ioctl(9,x, KVM_RUN, 0) = 0",
    "ioctl(9,,x, KVM_CREATE_VCPU, 1) = 10",
    "ioctl(9,x, KVM_CREATE_VCPU, 1) = 10",
    "ioctl(9,x,y) = 0",
    "ioctl(9) = 0",
    "ioctl(9, 0x4, 0) = 0",
    "ioctl(5<anon_inode:[eventfd]>, VFIO_GROUP_GET_DEVICE_FD, 0x1) = 0",
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(_COMMA_IOCTLS) - 1), st.booleans(),
                          st.sampled_from([100, 101])), max_size=40),
       st.sampled_from(["plain", "bracket"]))
def test_ioctls_with_commas_in_the_first_argument(items, prefix) -> None:
    # scan._first_comma: the first ", " past the fd decides, however many commas
    # without a blank come before it; split or whole
    setup = _mix([(("line", 9, ""), 100, 0), (("line", 6, ""), 100, 0)], "epoch", prefix)
    lines = list(setup)
    for second, (index, split, tid) in enumerate(items, 10):
        pid = f"{tid:<5} " if prefix == "plain" else f"[pid {tid:5}] "
        when = f"{1767225600 + second}.000001 "
        body = _COMMA_IOCTLS[index]
        cut = body.find(", ", body.find(", ") + 1)
        if split and cut > 0:
            lines.append(pid + when + body[:cut] + " <unfinished ...>")
            lines.append(pid + when + f"<... ioctl resumed>{body[cut:]}")
        else:
            lines.append(pid + when + body)
    assert_same_lines(lines)


def test_first_comma_is_held_by_the_pattern() -> None:
    session = _session()
    pattern = scan.skip_pattern(session.threads, True, session.saw_pid_column)

    def skipped(text: str) -> bool:
        return pattern.search("\n" + text + "\n").start() == len(text) + 1

    assert skipped("100   1.000005 ioctl(9<anon_inode:kvm-vcpu:0>, KVM_RUN, 0) = 0")
    assert skipped("100   1.000005 ioctl(9,x, KVM_RUN, 0) = 0")
    assert skipped("100   1.000005 ioctl(9) = 0")
    assert not skipped("100   1.000005 ioctl(9,x, KVM_CREATE_VCPU, 1) = 10")
    assert not skipped("100   1.000005 ioctl(9,,x, KVM_CREATE_VCPU, 1) = 10")
    assert not skipped("100   1.000005 ioctl(9, KVM_CREATE_VCPU, 1) = 10")
