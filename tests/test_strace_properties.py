"""Property tests: the strace reader never raises and accounts for every line.

Inputs mix real capture lines, the same lines cut or garbled at random points, split-call
fragments with random tids, random text and raw bytes (NUL, invalid UTF-8, CRLF, a final
line without newline). Whatever comes in, each line must end up parsed into events,
irrelevant, or unreadable — exactly once.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from vfio_migcheck.traces.events import ReadSummary, Unreadable
from vfio_migcheck.traces.lines import compression_of
from vfio_migcheck.traces.strace.reader import read

CORPUS = Path(__file__).parent / "fixtures"
REAL_LINES = [
    line
    for name in ("mtty-6.12/f_y_tt_T/threads.strace", "mtty-6.12/f/errors.strace",
                 "strace/unfinished_resumed.strace", "strace/poll_epoll.strace",
                 "strace/dup_close_range.strace", "strace/decorations_yy.strace",
                 "strace/stderr_prefixes.strace", "strace/qemu_stderr.strace")
    for line in (CORPUS / name).read_text().splitlines()
]

_real = st.sampled_from(REAL_LINES)
_cut = st.builds(lambda line, at: line[:at], _real, st.integers(0, 200))
_garbled = st.builds(lambda line, at, junk: line[:at] + junk + line[at:], _real,
                     st.integers(0, 200), st.text(max_size=6))
_fragment = st.builds(
    lambda tid, body: f"{tid:<5} {body}",
    st.integers(1, 5),
    st.sampled_from(["read(6,  <unfinished ...>", "<... read resumed>\"\", 8) = 0",
                     "ioctl(5, VFIO_DEVICE_FEATURE <unfinished #3 ...>",
                     "<... ioctl resumed #3>, 0x7f) = 0", "close(6 <unfinished ...>",
                     "<... close resumed>) = 0", "+++ exited with 0 +++",
                     "+++ killed by SIGKILL +++", "--- SIGTERM {si_signo=SIGTERM} ---",
                     "clone3({flags=CLONE_VM|CLONE_FILES|CLONE_THREAD} <unfinished ...>",
                     "<... clone3 resumed> => {parent_tid=[9]}, 88) = 9",
                     "execve(\"/bin/x\", [\"x\"], 0x7f /* 1 var */) = 0",
                     "close_range(3, ~0U, 0) = 0", "dup2(6, 9) = 9",
                     "write(2, \"vfio_save_cleanup  (0000:3b:00.1)\\n\", 34) = 34"]))
_noise = st.text(max_size=80)
_line = st.one_of(_real, _real, _cut, _garbled, _fragment, _noise)
_bytes_line = st.one_of(
    _line.map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.binary(max_size=40),
    _real.map(lambda text: text.encode() + b"\r"),
)


def _read_bytes(files: list[bytes]) -> tuple[ReadSummary, list]:
    with tempfile.TemporaryDirectory() as tmp:
        if len(files) == 1:
            paths = [Path(tmp) / "capture.strace"]
        else:
            paths = [Path(tmp) / f"capture.strace.{100 + i}" for i in range(len(files))]
        for path, data in zip(paths, files):
            path.write_bytes(data)
        summary = ReadSummary()
        events = list(read(paths, summary))
    return summary, events


def _lines_of(data: bytes) -> int:
    if not data:
        return 0
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


def _check_accounting(files: list[bytes], summary: ReadSummary, events: list) -> None:
    assert summary.lines == sum(_lines_of(data) for data in files)
    event_lines = set()
    for event in events:
        if isinstance(event, Unreadable):
            continue
        event_lines.add((event.origin.file, event.origin.line))
        if event.origin.last_line:
            event_lines.add((event.origin.file, event.origin.last_line))
    unreadable_lines = {(e.origin.file, e.origin.line) for e in events
                        if isinstance(e, Unreadable)}
    assert len(summary.unreadable) >= len(unreadable_lines)
    assert not (event_lines & unreadable_lines)
    assert len(event_lines) + summary.irrelevant + len(summary.unreadable) == summary.lines


def _join(lines: list[bytes], final_newline: bool) -> bytes:
    data = b"\n".join(line.replace(b"\n", b" ") for line in lines)
    return data + b"\n" if (final_newline and lines) else data


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_bytes_line, max_size=40), st.booleans())
def test_one_file_of_anything_is_fully_accounted(lines: list[bytes], newline: bool) -> None:
    data = _join(lines, newline)
    # a valid gzip/xz/bzip2 header makes it a compressed stream: tests/test_compressed_traces.py
    assume(compression_of(data[:12]) is None)
    summary, events = _read_bytes([data])
    _check_accounting([data], summary, events)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(_line.map(str.encode), max_size=15), min_size=2, max_size=3))
def test_ff_files_of_anything_are_fully_accounted(files: list[list[bytes]]) -> None:
    datas = [_join(lines, True) for lines in files]
    summary, events = _read_bytes(datas)
    _check_accounting(datas, summary, events)
