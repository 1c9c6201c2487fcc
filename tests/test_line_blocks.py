"""``iter_line_blocks`` must give, line for line, what ``iter_lines`` gives.

Files are generated from lines of every kind ``iter_lines`` has a verdict for (plain text,
UTF-8, NUL bytes, invalid UTF-8, CR before the newline, over-long lines, no final
newline), with the chunk size and the line limit made small so that lines straddle chunks
and go over the limit in every position; and a gzip stream cut short.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vfio_migcheck.traces import blocks, lines
from vfio_migcheck.traces.lines import BadLine, Line, iter_lines


def flat(path: Path) -> list:
    """iter_line_blocks' lines as iter_lines gives them: a Line or a BadLine."""
    out: list = []
    for block in blocks.iter_line_blocks(path):
        for item in block:
            out.append(Line(len(out) + 1, item) if isinstance(item, str) else item)
    return out


def reference(path: Path) -> list:
    return list(iter_lines(path))


pieces = st.sampled_from([b"fd 45 read 4 = 4", b"", b"x" * 9, b"caf\xc3\xa9", b"a\0b",
                          b"\xff\xfe", b"line\r", b"\r", b"y" * 40, b"z" * 70, b"#c", b" "])


@pytest.fixture()
def small(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in (lines, blocks):
        monkeypatch.setattr(module, "_CHUNK", 16)
        monkeypatch.setattr(module, "MAX_LINE_BYTES", 32)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(pieces, max_size=12), st.booleans())
def test_same_lines_as_iter_lines(small, tmp_path: Path, parts: list[bytes],
                                  final_newline: bool) -> None:
    path = tmp_path / "t.vmc"
    data = b"\n".join(parts) + (b"\n" if final_newline and parts else b"")
    path.write_bytes(data)
    assert flat(path) == reference(path)


def test_big_clean_file_in_few_blocks(tmp_path: Path) -> None:
    path = tmp_path / "t.vmc"
    path.write_text("".join(f"fd 45 read 4 = {n}\n" for n in range(20000)))
    assert flat(path) == reference(path)
    assert sum(1 for _ in blocks.iter_line_blocks(path)) < 20000 // 100


def test_cut_gzip_stream(tmp_path: Path) -> None:
    path = tmp_path / "t.vmc.gz"
    whole = gzip.compress("".join(f"fd 45 read 4 = {n}\n" for n in range(5000)).encode())
    path.write_bytes(whole[: len(whole) // 2])
    got, want = flat(path), reference(path)
    assert got == want and isinstance(want[-1], BadLine)
