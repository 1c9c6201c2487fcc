"""Split calls stepped over in pairs by the scanner (traces/strace/scan.py, reader.py).

The pattern steps over the first half of a quiet split call when its thread's next line
resumes it, and over any second half of a thread with nothing pending; the reader proves
by counting that every second half it stepped over ends a pair it stepped over, reads the
first halves whose second half lies past a stop, and reads a stretch line by line when the
count does not add up. These tests drive exactly those cases — pairs across relevant
lines, orphans, a thread printing while its call is pending, ``<... `` inside a string,
halves further apart than the window, time-of-day stamps — and require the event stream and
the accounting to be those of the reader with the scanner switched off.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.timing import fastest
from tests.test_strace_scan import _BODIES, _SPLIT, assert_same_lines
from vfio_migcheck.traces.strace import scan

_SETUP = [
    'openat(AT_FDCWD</>, "/dev/kvm", O_RDWR) = 3</dev/kvm>',
    "eventfd2(0, EFD_CLOEXEC) = 5<anon_inode:[eventfd]>",
    "ioctl(3</dev/kvm>, KVM_CREATE_VCPU, 0) = 9<anon_inode:kvm-vcpu:0>",
    "ioctl(9<anon_inode:kvm-vcpu:0>, KVM_RUN, 0) = 0",
    'openat(AT_FDCWD</>, "/dev/vfio/0", O_RDWR) = 4</dev/vfio/0>',
    "ioctl(4</dev/vfio/0>, VFIO_GROUP_GET_DEVICE_FD, 0x4bf160) = 22<anon_inode:[vfio-device]>",
]
#: quiet split calls (the common case) and ones that matter, as (first half, second half)
_PAIRS = _SPLIT + [
    ("ioctl(9<anon_inode:kvm-vcpu:0>, KVM_RUN", "<unfinished ...>) = ?"),
    ("nanosleep({tv_sec=0, tv_nsec=100}", " <unfinished ...>) = ?"),
    ("ioctl(9, KVM_RUN", ", 0) = 0"),
    ("ioctl(9<anon_inode:kvm-vcpu:0>, VFIO_GROUP_GET_DEVICE_FD", ", 0x1) = 23"),
]
_STRAY = 'write(5<anon_inode:[eventfd]>, "<... futex resumed>", 8) = 8'


def _stamp(second: int, kind: str) -> str:
    if kind == "tod":
        return f"23:59:{second % 60:02d}.{second:06d} "
    return f"{1767225600 + second}.{second % 997:06d} "


def _render(ops: list[tuple[int, int, int]], kind: str, bracket: bool) -> list[str]:
    """Lines of four threads from (thread, action, index) triples; every action keeps
    strace's rules unless it is one of the deliberate breaches (orphan, busy thread)."""
    lines: list[str] = []
    pending: dict[int, str] = {}
    second = 0

    def emit(tid: int, body: str) -> None:
        nonlocal second
        second += 1
        pid = f"[pid {tid:5}] " if bracket else f"{tid:<5} "
        lines.append(pid + _stamp(second, kind) + body)

    for tid in (100, 101, 102, 103):
        emit(tid, "getpid() = 1")
    for body in _SETUP:
        emit(100, body)
    for tid, action, index in ops:
        if action == 0 and tid not in pending:          # start a split call
            head, rest = _PAIRS[index % len(_PAIRS)]
            pending[tid] = head.split("(", 1)[0] + "\0" + rest
            emit(tid, head + " <unfinished ...>")
        elif action == 1 and tid in pending:            # resume it
            name, rest = pending.pop(tid).split("\0")
            emit(tid, f"<... {name} resumed>{rest}")
        elif action == 2:                               # a complete line (maybe while busy)
            emit(tid, _BODIES[index % len(_BODIES)])
        elif action == 3:                               # an orphan second half
            emit(tid, "<... futex resumed>) = 0" if index % 2 else "<... ioctl resumed>, 0) = 0")
        elif action == 4:
            emit(tid, _STRAY)
        elif action == 5:                               # many lines of one other thread
            for _ in range(scan.PAIR_WINDOW + 2):
                emit(103 if tid != 103 else 102, "madvise(0x7f0c, 4096, MADV_DONTNEED) = 0")
        elif action == 6 and tid in pending:           # the thread exits mid-call
            pending.pop(tid)
            emit(tid, "+++ exited with 0 +++")
    for tid in list(pending):
        name, rest = pending.pop(tid).split("\0")
        emit(tid, f"<... {name} resumed>{rest}")
    return lines


# mostly well-formed traffic (starts and resumptions), with every breach now and then
_ACTION = st.sampled_from([0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 3, 4, 5, 6])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(100, 103), _ACTION, st.integers(0, 60)), max_size=90),
       st.sampled_from(["epoch", "tod"]), st.booleans())
def test_pairs_stepped_over_give_the_per_line_result(ops, kind: str, bracket: bool) -> None:
    assert_same_lines(_render(ops, kind, bracket))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(100, 103), st.sampled_from([0, 0, 1, 1, 2]),
                          st.integers(0, 60)), max_size=120))
def test_well_formed_pairs_give_the_per_line_result(ops) -> None:
    assert_same_lines(_render(ops, "epoch", False))


def test_a_pair_whose_second_half_comes_after_a_relevant_line() -> None:
    """The first half was stepped over; the reader must read it before the VFIO line."""
    ops = [(101, 0, 0), (100, 2, 2), (101, 1, 0), (102, 0, 1), (100, 2, 5), (100, 2, 3),
           (102, 1, 0)]
    assert_same_lines(_render(ops, "epoch", False))


def test_orphans_and_strays_are_read_line_by_line() -> None:
    ops = [(101, 0, 1), (101, 1, 0), (102, 3, 1), (101, 0, 1), (100, 4, 0), (101, 1, 0),
           (103, 3, 0), (102, 2, 14), (102, 3, 1)]
    assert_same_lines(_render(ops, "epoch", True))


def test_the_skip_pattern_is_linear_on_hostile_lines() -> None:
    """The built pattern (pair rule included) on lines of one repeated piece: a line four
    times longer must take less than eight times as long (ratios, never absolute times)."""
    from vfio_migcheck.traces.events import ReadSummary
    from vfio_migcheck.traces.strace.session import Session

    session = Session(ReadSummary())
    for number, body in enumerate(_SETUP, 1):
        session.line("t", number, f"100   1.{number:06d} {body}")
    session.line("t", 9, "101   1.000009 getpid() = 1")
    pattern = scan.skip_pattern(session.threads, True, session.saw_pid_column)
    pair = scan.pair_pattern(session.threads, True, session.saw_pid_column)
    assert pair is not None

    def cost(head: str, piece: str, tail: str, size: int) -> float:
        text = "\n" + head + piece * (size // len(piece)) + tail + "\n"
        return fastest(lambda: (pattern.search(text), pair.match(text)))

    for head in ("100   1.5 ", "100   1.5 ioctl(9<anon_inode:kvm-vcpu:0>, ", "100   1.5 futex(",
                 "100   1.5 ppoll([", "101   1.5 <... ", "100   1.5 write(5, "):
        for piece in (" ", "a", "1", "<", ",", ",a", "<... ", "{fd=5, ", "1 1 ", "\\"):
            for tail in ("", " <unfinished ...>",
                         " <unfinished ...>\n100   1.6 <... ioctl resumed>, 0) = 0"):
                small = max(cost(head, piece, tail, 1500), 2e-4)
                big = cost(head, piece, tail, 6000)
                assert big < 8 * small + 0.002, (head, piece, tail, small, big)



# odd spellings around what the pattern reads once per line: the pid column, the stamp's
# digit runs (the pattern takes them possessively), the line's end ("...>" or not, a
# first half whose rest is shorter than " <unfinished ...>"), a resumed line's end
_ODD_PID = st.sampled_from(["{} ", "{}   ", "[pid   {}] ", "[pid {}] ", "{}", "{}0 ", "0{} ", ""])
_DIGITS = st.integers(1, 24).map(lambda n: "1" * n)
_ODD_STAMP = st.one_of(
    st.just(""),
    st.just("1767225600.000001 "),
    st.tuples(_DIGITS, _DIGITS).map(lambda d: f"{d[0]}.{d[1]} "),
    st.tuples(_DIGITS, st.sampled_from(["", ".5", ".123456"])).map(
        lambda d: f"{d[0][:2].zfill(2)}:59:59{d[1]} "),
    _DIGITS.map(lambda d: d + " "),
    st.sampled_from(["1.5", "1.5  ", "23:59:59", "1.x "]),
)
_ODD_FIRST = st.sampled_from([
    "futex(0x55d0, FUTEX_WAIT, 2, NULL <unfinished ...>",
    "futex( <unfinished ...>",
    "futex(<unfinished ...>",
    "futex(0x1 <unfinished ...>x",
    "futex(0x1 ...>",
    "futex(0x1) = 0 ...>",
    "ioctl(9 <unfinished ...>",
    "ioctl(9, <unfinished ...>",
    "ioctl(9<anon_inode:kvm-vcpu:0>, KVM_RUN <unfinished ...>",
    "ioctl(9<anon_inode:kvm-vcpu:0>, KVM_RUN ...>",
    "ppoll([{fd=5<anon_inode:[eventfd]>, events=POLLIN}], 1, NULL, NULL, 8 <unfinished ...>",
    "madvise(0x7f0c, 4096, MADV_DONTNEED) = 0",
])
_ODD_SECOND = st.sampled_from([
    "<... {} resumed>) = 0",
    "<... {} resumed>, 0) = 0",
    "<... {} resumed>) = 0 ...>",
    "<... {} resumed> <unfinished ...>",
    "<... {} resumed>) = 0 (Timeout)",
    "<... {} resumed>",
    "<... >",
])
_OTHER = "102   1767225600.000002 madvise(0x7f0c, 4096, MADV_DONTNEED) = 0"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from([100, 101]), _ODD_PID, _ODD_STAMP, _ODD_FIRST,
                          _ODD_PID, _ODD_STAMP, _ODD_SECOND, st.integers(0, 3)),
                max_size=25))
def test_odd_spellings_give_the_per_line_result(items) -> None:
    lines = [f"{tid:<5} {_stamp(n, 'epoch')}getpid() = 1" for n, tid in enumerate((100, 101, 102))]
    lines += [f"100   {_stamp(n, 'epoch')}{body}" for n, body in enumerate(_SETUP, 4)]
    for tid, pid, stamp, first, pid2, stamp2, second, gap in items:
        name = first.split("(", 1)[0]
        lines.append(pid.format(tid) + stamp + first)
        lines += [_OTHER] * gap
        lines.append(pid2.format(tid) + stamp2 + second.format(name))
    assert_same_lines(lines)


def _crossing_by_the_pair_rule(block: str, pos: int, start: int, pair) -> list[int] | None:
    """What reader._crossing_pairs must find, the long way: the pair rule matched again at
    every first half near the stop, its second half's line read from the match."""
    halves = block.count("...>\n", pos, start + 1)
    resumed = block.count("<... ", pos, start + 1)
    crossing = []
    at = start + 1
    while halves:
        end = block.rfind("...>\n", pos, at)
        if end < 0:
            break
        begin = block.rfind("\n", pos, end)
        if block.count("\n", begin, start) > scan.PAIR_WINDOW + 1:
            break
        found = pair.match(block, begin)
        if found is None:
            return None
        if found.start("r") > start:
            crossing.append(begin)
        at = begin + 1
    if resumed != halves - len(crossing):
        return None
    return crossing[::-1]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(100, 103), st.sampled_from([0, 0, 0, 1, 1, 1, 2, 2, 3, 5]),
                          st.integers(0, 60)), max_size=90),
       st.booleans(), st.lists(st.integers(1, 6), min_size=1, max_size=8),
       st.sets(st.integers(0, 120), max_size=6))
def test_crossing_pairs_are_those_the_pair_rule_finds(ops, bracket: bool, steps,
                                                      odd_ends) -> None:
    """At every stop of the search, the first halves whose second half lies past it, found
    by the thread's next line (and the shortcut for a second half right after its first),
    are the ones a second match of the pair rule finds. The search is also cut short
    every few lines, as the reader cuts it in front of a thread with a call pending, so
    that a stop may fall on the second half of the line before it; some second halves end
    in "...>", which the pair rule takes and the pattern does not step over alone."""
    from vfio_migcheck.traces.events import ReadSummary
    from vfio_migcheck.traces.strace.reader import _crossing_pairs
    from vfio_migcheck.traces.strace.session import Session

    lines = _render(ops, "epoch", bracket)
    setup = 4 + len(_SETUP)
    lines = [text + " ...>" if index in odd_ends and "<... " in text else text
             for index, text in enumerate(lines)]
    session = Session(ReadSummary())
    for number, text in enumerate(lines[:setup], 1):
        session.line("t", number, text)
    pattern = scan.skip_pattern(session.threads, True, session.saw_pid_column)
    pair = scan.pair_pattern(session.threads, True, session.saw_pid_column)
    assert pair is not None
    block = "\n" + "\n".join(lines[setup:]) + "\n"
    pos, last = 0, len(block) - 1
    turn = 0
    while pos < last:
        bound = pos
        for _ in range(steps[turn % len(steps)]):
            bound = block.find("\n", bound + 1) if bound < last else last
        turn += 1
        start = pattern.search(block, pos, bound + 1).start()
        if start != pos:
            assert _crossing_pairs(block, pos, start) == _crossing_by_the_pair_rule(
                block, pos, start, pair)
        if start == last:
            break
        pos = block.find("\n", start + 1)
