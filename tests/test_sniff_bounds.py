"""Format detection skips readers by their sniff bounds (traces/<format>/sniff.py).

``detect_format`` asks a format's ``bound(lines)`` before importing its reader and skips the
reader when the bound cannot beat the best answer so far. That keeps every detection what
it was only if ``bound(lines) >= reader.sniff(lines)`` for every input: held here on the
first lines of every file the tests ship, on generated mixtures of their lines, and, for
the two bounds that stand in for a grammar, on generated near-statements and near-records.
"""

from __future__ import annotations

import importlib
import random
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.timing import fastest
from vfio_migcheck.traces import reading
from vfio_migcheck.traces.bpftrace.sniff import may_be_record
from vfio_migcheck.traces.bpftrace.syntax import Record, SyntaxProblem, parse_line
from vfio_migcheck.traces.canonical.sniff import may_be_statement
from vfio_migcheck.traces.canonical.syntax import LineError, parse_statement
from vfio_migcheck.traces.lines import TraceOpenError

ROOT = Path(__file__).parent.parent
SHIPPED = sorted(p for base in (ROOT / "tests" / "corpus", ROOT / "tests" / "fixtures",
                                ROOT / "vfio_migcheck" / "examples")
                 for p in base.rglob("*") if p.is_file())


def _heads() -> dict[Path, list[str]]:
    heads = {}
    for path in SHIPPED:
        try:
            heads[path] = reading.sniff_lines(path)
        except (OSError, TraceOpenError):
            continue
    return heads


HEADS = _heads()
SAMPLE_LINES = sorted({line for head in HEADS.values() for line in head[:12]})


def _bound(fmt: str, lines: list[str]) -> float:
    return importlib.import_module(reading.SNIFFERS[fmt]).bound(lines)


def _sniff(fmt: str, lines: list[str]) -> float:
    return importlib.import_module(reading.READERS[fmt]).sniff(lines)


def _detected_by_asking_every_reader(lines: list[str]) -> str | None:
    """The detection before bounds: every reader asked in turn, the first best kept."""
    best, score = None, 0.0
    for fmt in reading.READERS:
        confidence = _sniff(fmt, lines)
        if confidence > score:
            best, score = fmt, confidence
        if score >= 1.0:
            break
    return best


def test_every_format_has_a_sniff_module() -> None:
    assert set(reading.SNIFFERS) == set(reading.READERS)
    assert len(HEADS) > 900 and len(SAMPLE_LINES) > 500      # the corpus was found


def test_bounds_hold_and_detection_is_unchanged_on_every_shipped_file() -> None:
    turned_away = 0
    for path, head in HEADS.items():
        for fmt in reading.READERS:
            bound = _bound(fmt, head)
            assert bound >= _sniff(fmt, head), (path, fmt)
            turned_away += bound == 0.0
        try:
            got = reading.detect_format(path)
        except reading.UnknownFormatError:
            got = None
        assert got == _detected_by_asking_every_reader(head), path
    assert turned_away > len(HEADS)          # the bounds do turn readers away


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(SAMPLE_LINES), max_size=50))
def test_bounds_hold_on_mixtures_of_shipped_lines(lines: list[str]) -> None:
    for fmt in reading.READERS:
        assert _bound(fmt, lines) >= _sniff(fmt, lines), fmt
    assert _detected_by_asking_every_reader(lines) == reading.detect_lines(lines)



# --- the canonical grammar's line starts ----------------------------------------------------

_gap = st.sampled_from(["", " ", "\t", "  ", " "])
_stamp = st.sampled_from(["", "@1.5", "@-2", "@3.", "@1e5", "@7.25E-3", "@x"])
_thread = st.sampled_from(["", "[5]", "[ 5 ]", "[1/2]", "[1/-]", "[0x1f / 3]", "[", "[]"])
_head = st.sampled_from(["device", "fd", "qemu", "process", "dev0", "group0/dev0", "a.b:c-d",
                         '"my dev"', '"q\\"x"', "devGET", "fdx", "7", "'x'", ""])
_tokens = st.sampled_from(["GET", "SET", "PROBE", "?", "RESET", "access", "close", "STATE",
                           "MIGRATION", "3", "0x5", "-1", "read", "appeared", "=", "0",
                           "EINVAL", "-", "state=RUNNING", "data_fd=7", "x=\"a b\"",
                           "<0.25>", "# note", "[", "]", "/", '"s"', "vfio_x", "dev0"])


_name = st.sampled_from(["dev0", "group0/dev0", "a.b:c-d", '"my dev"', '"q\\"x"', "7", "fdx"])
_field = st.sampled_from(["state=RUNNING", "data_fd=7", 'x="a b"', "flags=0x5"])
_templates = [
    ["device", _name, _field],
    [_name, st.sampled_from(["GET", "SET", "PROBE", "?"]), st.sampled_from(["STATE", "?"]),
     st.sampled_from(["RUNNING", "?", ""]), "=", st.sampled_from(["0", "-1 EINVAL", "?"]),
     _field],
    [_name, "RESET", "=", "0"],
    [_name, "access", st.sampled_from(["mmap", '"x y"']), "=", "0"],
    [_name, "close", "=", "0"],
    ["fd", st.sampled_from(["3", "0x10"]), "appeared", _field],
    ["fd", "3", st.sampled_from(["read", "close", "ioctl"]), st.sampled_from(["16", "?", ""]),
     "=", st.sampled_from(["16", "?", "-1 EBADF"])],
    ["qemu", _name, "vfio_x", _field],
    ["process", "exec", _field],
]


@st.composite
def near_statements(draw) -> str:
    """Statements of every kind with optional stamps, threads and durations and random
    blanks (none at all between some tokens), or a random soup of their tokens."""
    if draw(st.booleans()):
        body = [part if isinstance(part, str) else draw(part)
                for part in draw(st.sampled_from(_templates))]
        body = draw(st.lists(st.sampled_from(body), max_size=2)) + body \
            if draw(st.integers(0, 9)) == 0 else body
        parts = [draw(_stamp), draw(_thread), *body, draw(st.sampled_from(["", "<0.5>"]))]
    else:
        parts = [draw(_stamp), draw(_thread), draw(_head), *draw(st.lists(_tokens, max_size=8))]
    return draw(_gap) + "".join(part + draw(_gap) for part in parts)


@settings(max_examples=600, deadline=None)
@given(near_statements())
def test_a_line_the_canonical_grammar_reads_passes_the_prefilter(text: str) -> None:
    try:
        parse_statement(text)
    except LineError:
        return
    assert may_be_statement(text)


def test_the_canonical_prefilter_is_not_vacuous() -> None:
    assert may_be_statement("@1.5 [3] dev0 SET STATE RUNNING = 0")
    assert may_be_statement('"my dev"?')
    assert not may_be_statement("212   18:21:25.841477 close(3) = 0")
    assert not may_be_statement("12@1700000000.000001:vfio_migration_set_state (x) state 2")


@st.composite
def near_records(draw) -> str:
    """Records (four integers, a call, fields) with random blanks, or a soup of their
    pieces."""
    pieces = ["1", "-2", "300", "0", "1-2", "18:21", "x", "open", "feature", "Lost", "events",
              "fd=3", "ret=0", "vfio-mig-bt", "_x", "9"]
    if draw(st.booleans()):
        count = draw(st.sampled_from([3, 4, 4, 4, 5]))
        parts = [*draw(st.lists(st.sampled_from(["1", "300", "0", "12", "-2"]),
                                min_size=count, max_size=count)),
                 draw(st.sampled_from(["open", "feature", "_x"])),
                 *draw(st.lists(st.sampled_from(["fd=3", "ret=0", "a="]), max_size=3,
                                unique=True))]
    else:
        parts = draw(st.lists(st.sampled_from(pieces), max_size=8))
    return draw(_gap) + "".join(part + draw(_gap) for part in parts)


@settings(max_examples=500, deadline=None)
@given(near_records())
def test_a_bpftrace_record_passes_the_prefilter(text: str) -> None:
    try:
        parsed = parse_line(text)
    except SyntaxProblem:
        return
    if isinstance(parsed, Record):
        assert may_be_record(text)


def test_the_bpftrace_prefilter_is_not_vacuous() -> None:
    assert may_be_record("100 7 7 20 feature fd=5 ret=0")
    assert not may_be_record("212   18:21:25.841477 close(3) = 0")


# --- linear time on hostile lines (sizes compared, never absolute times) --------------------

def _hostile(shape: int, n: int) -> str:
    """Lines that make a careless pattern backtrack: long runs of what a piece may take."""
    rng = random.Random(shape)
    return [
        "@" + "1" * n, '"' + "x" * n, "a" * n, "[" + "1" * n, "1 " * n, "-1" * n,
        "@1.5 [" + " " * n, "".join(rng.choice("1 -\t") for _ in range(n)),
    ][shape]


def _seconds(check, text: str) -> float:
    return fastest(lambda: check(text))


@pytest.mark.parametrize("check", [may_be_statement, may_be_record])
@pytest.mark.parametrize("shape", range(8))
def test_prefilters_take_linear_time(check, shape: int) -> None:
    small, big = (_seconds(check, _hostile(shape, n)) for n in (25_000, 100_000))
    assert big < 8 * max(small, 1e-4)


def test_checking_a_strace_capture_imports_no_other_reader() -> None:
    code = ("import sys\n"
            "from vfio_migcheck.traces.reading import detect_format\n"
            f"print(detect_format({str(ROOT / 'vfio_migcheck/examples/mtty-save.strace')!r}))\n"
            "print(sorted(m for m in sys.modules if m.endswith('.reader') or m == 'lark'))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, check=True, timeout=120)
    fmt, modules = done.stdout.splitlines()
    assert fmt == "strace"
    assert modules == "['vfio_migcheck.traces.strace.reader']"
