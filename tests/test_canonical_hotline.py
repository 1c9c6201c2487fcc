"""The hot-line path (traces/canonical/hotline.py) must give exactly the general path's events.

(Closes in their plain spelling, ``CLOSE_LINE``, take it too, in context.)

Every line is read twice, in the same trace context: through ``read_blocks`` (which takes
the hot pattern where it matches) and through ``read_lines`` (the statement path, never
the hot pattern). The events (with their text), the summary and the notes must be equal.
Lines come from the hot shapes with every optional part and number spelling, near misses
(other verbs, extra keys, ``?``, hex, comments, odd blanks) and the real corpus lines.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_canonical_fastline import REAL
from vfio_migcheck.traces.canonical.hotline import HOT_LINE
from vfio_migcheck.traces.canonical.reader import CanonicalTrace, read_blocks, read_lines
from vfio_migcheck.traces.events import ReadSummary
from vfio_migcheck.traces.lines import Line

PREAMBLE = ["device d0 fd=9 flags=STOP_COPY|PRE_COPY state=RUNNING",
            "d0 SET STATE PRE_COPY = 0 data_fd=45",
            "fd 46 appeared device=d0"]


def both_ways(lines: list[str]) -> tuple[list, list]:
    """(events, summary) of ``lines`` read the hot way and the general way."""
    out = []
    for hot in (True, False):
        summary = ReadSummary(format="canonical")
        trace = CanonicalTrace(summary)
        if hot:
            events = list(read_blocks("t.vmc", [lines], trace))
        else:
            numbered = (Line(n, t) for n, t in enumerate(lines, start=1))
            events = list(read_lines("t.vmc", numbered, trace))
        out.append(([(e, e.text, e.to_json()) for e in events], summary.to_json()))
    return out[0], out[1]


def assert_same(lines: list[str]) -> None:
    hot, general = both_ways(lines)
    assert hot == general, lines


numbers = st.one_of(st.integers(0, 10**18 - 1).map(str), st.sampled_from(
    ["0", "007", "-1", "-0", "0x10", "?", "1" * 19, "+5", "1e3", ""]))
errnos = st.sampled_from(["", " ENOMSG", " EAGAIN", " ?", " -", " enomsg", " E1"])
stamps = st.sampled_from(["", "@100.000574 ", "@7.5 ", "@12 ", "@-1.5 ", "@1e3 ", "@.5 ",
                          "@100.000574  "])
threads = st.sampled_from(["", "[4250] ", "[4242/4250] ", "[1/-] ", "[0x10] ", "[-3] ",
                           "[42]"])
fds = st.sampled_from(["45", "46", "47", "9", "045", "0x2d", "-1", "?"])
tails = st.sampled_from(["", " <0.5>", " # note", " call=readv", " positioned=yes", " ",
                         "\t", " x"])


@st.composite
def hot_like(draw) -> str:
    head = draw(stamps) + draw(threads) + "fd " + draw(fds) + " "
    verb = draw(st.sampled_from(["read", "write", "READ", "readv", "pread64", "precopy_info",
                                 "close", "poll"]))
    if verb == "close" and draw(st.booleans()):     # the close shape (hotline.CLOSE_LINE)
        body = f"close = {draw(numbers)}{draw(errnos)}"
    elif verb == "precopy_info":
        body = (f"precopy_info argsz={draw(numbers)} = {draw(numbers)}{draw(errnos)}"
                f" initial={draw(numbers)} dirty={draw(numbers)}")
    else:
        body = f"{verb} {draw(numbers)} = {draw(numbers)}{draw(errnos)}"
    return head + body + draw(tails)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(hot_like(), min_size=1, max_size=6))
def test_generated_lines_read_alike(lines: list[str]) -> None:
    assert_same([*PREAMBLE, *lines])


@settings(max_examples=100, deadline=None)
@given(st.lists(hot_like(), min_size=1, max_size=4))
def test_fds_the_trace_never_created_are_left_to_the_general_path(lines: list[str]) -> None:
    assert_same(lines)   # no preamble: every fd is unknown, the general path notes each


def test_the_hot_shapes_do_take_the_pattern() -> None:
    for line in ("@100.002054 [4250] fd 45 read 1048576 = 1048576",
                 "fd 45 write 4 = -1 EPIPE",
                 "[1/2] fd 45 precopy_info argsz=24 = 0 initial=1048576 dirty=4096"):
        assert HOT_LINE.fullmatch(line), line
        assert_same([*PREAMBLE, line])


def test_real_lines_read_alike() -> None:
    fd_lines = [line for line in REAL if " fd " in line or line.startswith("fd ")]
    assert sum(HOT_LINE.fullmatch(line) is not None for line in fd_lines) > 20
    assert_same([*PREAMBLE, *fd_lines])


# --- device calls read again from their remembered payload -----------------------------------

devices = st.sampled_from(["d0", "d1", "fd", "0000:3b:00.1", "d0#x", "RESET"])
calls = st.sampled_from([
    "SET STATE PRE_COPY argsz=16 = 0 data_fd=45", "SET STATE STOP_COPY = 0 data_fd=-1",
    "SET STATE RUNNING = -1 EINVAL data_fd=47", "SET STATE ? = 0 data_fd=46",
    "GET MIGRATION argsz=16 = 0 flags=STOP_COPY|P2P|PRE_COPY", "GET STATE = 0 state=STOP",
    "SET DMA_LOGGING_START argsz=32 = 0", "GET DMA_LOGGING_REPORT argsz=40 = 0",
    "? ? = 0", "SET ? = 0 data_fd=48", "PROBE MIGRATION GET|SET = 0", "SET STATE = 0",
    "GET MIGRATION = 0 flags=NOPE", "SET STATE RUNNING fd=12 = 0", "SET STATE RUNNING fd=x = 0",
    "GET MIG_DATA_SIZE = 0 size=4096", "SET STATE 3 = 0 target=STOP", "RESET = 0",
    "access region_read = 4", "close = 0", "GET STATE = 0 state=STOP data_fd=45 data_fd=46",
    "SET STATE STOP = 0 rawflags=0x80000 argsz=8"])
durations = st.sampled_from(["", " <0.000210>", " <1>", " <0.5> "])
redeclare = st.sampled_from(["device d0 fd=11 flags=STOP_COPY|PRE_COPY",
                             "device d1 fd=12", "d0 close = 0", "fd 45 close = 0"])


@st.composite
def device_lines(draw) -> list[str]:
    made = [draw(stamps) + draw(threads) + draw(devices) + " " + draw(calls) + draw(durations)
            for _ in range(draw(st.integers(1, 6)))]
    out = []
    for _ in range(draw(st.integers(1, 14))):   # the same statements again and again
        out.append(draw(st.one_of(st.sampled_from(made), redeclare, hot_like())))
    return out


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(device_lines())
def test_remembered_device_calls_read_alike(lines: list[str]) -> None:
    assert_same([*PREAMBLE, "device d1 fd=10", *lines])


def test_repeated_device_calls_are_remembered(monkeypatch) -> None:
    line = "@1.5 [7] d0 SET STATE PRE_COPY argsz=16 = 0 data_fd=47 <0.1>"
    general = []
    original = CanonicalTrace._device_call
    monkeypatch.setattr(CanonicalTrace, "_device_call",
                        lambda self, *a: general.append(1) or original(self, *a))
    trace = CanonicalTrace(ReadSummary(format="canonical"))
    list(read_blocks("t.vmc", [[*PREAMBLE, line, "fd 47 close = 0", line, line]], trace))
    assert len(trace.payloads) == 2   # the preamble's SET and this one
    assert len(general) == 2          # the repeats came from the remembered payload
    monkeypatch.undo()
    assert_same([*PREAMBLE, line, "fd 47 close = 0", line, line])


def test_a_plain_close_is_read_in_context_by_its_pattern(monkeypatch) -> None:
    general = []
    original = CanonicalTrace._fd_call
    monkeypatch.setattr(CanonicalTrace, "_fd_call",
                        lambda self, *a: general.append(1) or original(self, *a))
    trace = CanonicalTrace(ReadSummary(format="canonical"))
    lines = [*PREAMBLE, "@1.5 [7] fd 45 close = 0", "fd 45 close = 0", "fd 46 close = -1 EBADF"]
    events = list(read_blocks("t.vmc", [lines], trace))
    assert [e.kind for e in events[-3:]] == ["data_close"] * 3
    assert len(general) == 1          # the second close of fd 45: not open, the general path
    assert 45 not in trace.fds and 46 not in trace.fds
    assert_same(lines)
