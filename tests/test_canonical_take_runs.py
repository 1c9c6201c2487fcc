"""Runs of hot lines taken by one pattern a block (reader.py ``_take_run``) must change nothing.

``read_runs`` joins a block's lines and, once a line starts or continues a run of hot lines
on one fd, takes every following line of that run with one match of
``hotline.run_patterns`` (their shapes with one ``findall``) instead of one ``fullmatch``
a line. Held here against the line-by-line way (``_take_run`` made to take nothing):

- the collapsed read gives the very same runs (texts, shapes, samples, io, origin, time
  stamp) and the same events when expanded, with the same summary, on generated blocks of
  hot lines in every spelling, near misses, closes and device calls, cut into blocks
  anywhere (a run goes on across a block's end) and with unreadable lines among them;
- the run pattern takes exactly the lines ``HOT_LINE.fullmatch`` gives that fd, and the
  shape pattern gives each one's shape (group 5 or 10);
- the patterns spelled with "(?:X|)" match as the "(?:X)?" spelling they replace;
- the take is made (so the comparison is not vacuous).
"""

from __future__ import annotations

import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_canonical_hotline import PREAMBLE, device_lines, hot_like
from vfio_migcheck.traces.canonical import reader
from vfio_migcheck.traces.canonical.hotline import CLOSE_LINE, HOT_LINE, run_patterns
from vfio_migcheck.traces.canonical.reader import DEVICE_LINE, CanonicalTrace, read_runs
from vfio_migcheck.traces.events import DataRun, ReadSummary, Run
from vfio_migcheck.traces.lines import BadLine

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

RUN_LINES = ["@100.002054 [4250] fd 45 read 1048576 = 1048576",
             "@100.002440 [4250] fd 45 precopy_info argsz=24 = 0 initial=1048576 dirty=4096",
             "fd 45 read 1048576 = -1 ENOMSG", "[7/8] fd 46 write 4 = 4",
             "@1.5 fd 46 precopy_info argsz=24 = -1 EINVAL initial=0 dirty=0",
             "fd 045 read 4 = 4", "fd 45 close = 0"]


def read(blocks: list[list[Any]], take: bool) -> tuple[list, dict, int]:
    """(the runs and events of a collapsed read, its summary, lines taken by pattern)."""
    taken = []
    original = reader._take_run

    def counted(*args: Any) -> int:
        count = original(*args) if take else 0
        taken.append(count)
        return count
    reader._take_run = counted     # (no monkeypatch: hypothesis runs this many times)
    try:
        summary = ReadSummary(format="canonical")
        out: list = []
        for event in read_runs("t.vmc", blocks, CanonicalTrace(summary)):
            if isinstance(event, Run):
                out.append((type(event).__name__, event.origin, event.ts, list(event.texts),
                            list(getattr(event, "shapes", ())), getattr(event, "samples", None),
                            getattr(event, "io", None), getattr(event, "fd", None),
                            getattr(event, "file", None)))
                out.extend((e, e.text, e.to_json(), list(vars(e))) for e in event.expand())
            else:
                out.append((event, event.text, event.to_json(), list(vars(event))))
    finally:
        reader._take_run = original
    return out, summary.to_json(), sum(taken)


def blocks_of(lines: list[Any], cuts: list[int]) -> list[list[Any]]:
    bounds = sorted({cut % (len(lines) + 1) for cut in cuts} | {0, len(lines)})
    return [lines[a:b] for a, b in zip(bounds, bounds[1:])]


def assert_same(blocks: list[list[Any]]) -> int:
    taken, by_line = (read(blocks, take) for take in (True, False))
    assert taken[:2] == by_line[:2], blocks
    return taken[2]


run_like = st.one_of(st.sampled_from(RUN_LINES), hot_like())


@SETTINGS
@given(st.lists(st.one_of(run_like, run_like, device_lines().map(lambda x: x[0])),
                min_size=1, max_size=40),
       st.lists(st.integers(0, 60), max_size=4), st.booleans())
def test_taken_runs_read_as_line_by_line(lines: list[str], cuts: list[int], bad: bool) -> None:
    lines = [*PREAMBLE, "fd 46 appeared device=d0", *lines]
    if bad:                             # a block with an unreadable line is never joined
        lines.insert(len(lines) // 2, BadLine(len(lines) // 2 + 1, "NUL byte"))
    assert_same(blocks_of(lines, cuts))


def test_runs_are_taken_and_cross_blocks() -> None:
    run = [RUN_LINES[0], RUN_LINES[1]] * 20 + [RUN_LINES[2]]
    lines = [*PREAMBLE, *run, "fd 45 close = 0"]
    for cuts in ([], [7], [3, 4, 5, 30], [len(lines) - 1]):
        assert assert_same(blocks_of(lines, cuts)) >= len(run) - 1 - len(cuts)
    out = read([lines], True)[0]
    runs = [item for item in out if item[0] == "DataRun"]
    assert len(runs) == 1 and len(runs[0][3]) == len(run)


@SETTINGS
@given(st.lists(run_like, min_size=1, max_size=12), st.sampled_from(["45", "46", "045"]))
def test_run_pattern_takes_what_fullmatch_gives_that_fd(lines: list[str], fd: str) -> None:
    joined = "\n".join(lines) + "\n"
    whole, shape = run_patterns(fd)
    found = whole.match(joined)
    want = []
    for line in lines:
        m = HOT_LINE.fullmatch(line)
        if m is None or m.group(4) != fd:
            break
        want.append(m.group(5) or m.group(10))
    if not want:
        assert found is None
        return
    assert found is not None and joined.count("\n", 0, found.end()) == len(want)
    assert shape.findall(joined, 0, found.end()) == want


def _optional(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """``pattern`` with its "(?:X|)" parts spelled "(?:X)?"."""
    return re.compile(pattern.pattern.replace("|)", ")?"))


@SETTINGS
@given(st.lists(st.one_of(run_like, device_lines().map(lambda x: x[-1])), min_size=1,
                max_size=8))
def test_branch_spelling_matches_as_the_optional_one(lines: list[str]) -> None:
    for pattern in (HOT_LINE, CLOSE_LINE, DEVICE_LINE):
        assert "|)" in pattern.pattern
        other = _optional(pattern)
        for line in [*lines, *RUN_LINES]:
            m, n = pattern.fullmatch(line), other.fullmatch(line)
            assert (m and m.groups()) == (n and n.groups()), (pattern.pattern, line)


def test_a_short_run_of_taken_lines_is_its_events() -> None:
    lines = [*PREAMBLE, RUN_LINES[0], RUN_LINES[1], "fd 45 close = 0"]
    assert assert_same([lines]) == 1
    out = read([lines], True)[0]
    assert not any(item[0] == "DataRun" for item in out if isinstance(item[0], str))
    assert DataRun not in {type(item[0]) for item in out}


@SETTINGS
@given(st.lists(st.one_of(run_like, device_lines().map(lambda x: x[-1])), min_size=1,
                max_size=8))
def test_lines_without_fd_blank_are_never_hot(lines: list[str]) -> None:
    # read_runs tries HOT_LINE only on lines holding "fd " (its prefilter)
    for line in [*lines, *RUN_LINES]:
        if HOT_LINE.fullmatch(line) is not None:
            assert "fd " in line, line
        if "fd " not in line:
            assert HOT_LINE.search(line) is None, line


def test_a_line_holding_a_newline_is_not_taken_for_two() -> None:
    # no block of iter_line_blocks has one; read_runs then reads the block line by line
    lines = [*PREAMBLE, RUN_LINES[0], f"{RUN_LINES[0]}\n{RUN_LINES[0]}", RUN_LINES[0]]
    assert reader._joined(lines) == ("", [])
    assert assert_same([lines]) == 0
