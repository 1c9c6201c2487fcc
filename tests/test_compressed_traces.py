"""Compressed captures (gzip, xz, bzip2) read exactly like the plain files they hold.

Detection is by magic bytes, so a misnamed file still works; strace ``-ff`` groups may mix
plain and compressed per-pid files; a corrupt or truncated stream is one clear report naming
the file, never a traceback; ``convert``, ``check`` and ``audit`` need nothing special.
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vfio_migcheck.audit.collect import collect_captures
from vfio_migcheck.checker.api import check_trace
from vfio_migcheck.cli import cli
from vfio_migcheck.traces.lines import (
    BadLine,
    Line,
    TraceOpenError,
    compressed_twin,
    compression_of,
    iter_lines,
    read_text,
    strip_compression_suffix,
)
from vfio_migcheck.traces.reading import detect_format, expand_paths, open_trace

FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXAMPLES = Path(__file__).resolve().parent.parent / "vfio_migcheck" / "examples"
CANONICAL = EXAMPLES / "source-precopy.vmc"
CANONICAL_BAD = FIXTURES / "canonical" / "bad-lines.vmc"
STRACE = FIXTURES / "mtty-6.12" / "f_y_tt_T" / "save.strace"
QEMU = FIXTURES / "qemu" / "dev-source-precopy.log"
FF_DIR = FIXTURES / "mtty-6.12" / "ff_o"
FF_PREFIX = "threads.strace"          # two pids: threads.strace.940 and .941

COMPRESSORS: dict[str, tuple[str, Callable[[bytes], bytes]]] = {
    "gzip": (".gz", lambda data: gzip.compress(data, compresslevel=9, mtime=0)),
    "xz": (".xz", lzma.compress),
    "bzip2": (".bz2", bz2.compress),
}
SINGLE_FILES = {"canonical": CANONICAL, "canonical-bad-lines": CANONICAL_BAD,
                "strace": STRACE, "qemu": QEMU}


def compress_to(source: Path, target: Path, kind: str) -> Path:
    target.write_bytes(COMPRESSORS[kind][1](source.read_bytes()))
    return target


def reading_of(path: Path, fmt: str = "auto") -> tuple[str, list[dict], dict]:
    """Format, events and line accounting, each file name replaced by its rank in the read."""
    reading = open_trace(path, fmt)
    text = json.dumps([[e.to_json() for e in reading.events], reading.summary.to_json()])
    names = sorted(((str(p), i) for i, p in enumerate(reading.paths)), key=lambda x: -len(x[0]))
    for name, rank in names:
        text = text.replace(json.dumps(name)[1:-1], f"<file {rank}>")
    events, summary = json.loads(text)
    return reading.format, events, summary


# --- each compression, each format ----------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
@pytest.mark.parametrize("name", sorted(SINGLE_FILES))
def test_compressed_file_reads_like_the_plain_one(tmp_path: Path, kind: str, name: str) -> None:
    plain = SINGLE_FILES[name]
    packed = compress_to(plain, tmp_path / (plain.name + COMPRESSORS[kind][0]), kind)
    assert compression_of(packed.read_bytes()[:12]) == kind
    expected = reading_of(plain)
    assert expected[1], "the fixture must yield events for the comparison to mean anything"
    assert reading_of(packed) == expected


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_detection_is_by_contents_not_by_name(tmp_path: Path, kind: str) -> None:
    misnamed = compress_to(STRACE, tmp_path / "capture.txt", kind)
    assert detect_format(misnamed) == "strace"
    assert reading_of(misnamed) == reading_of(STRACE)


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_ff_group_of_compressed_files(tmp_path: Path, kind: str) -> None:
    suffix = COMPRESSORS[kind][0]
    members = sorted(FF_DIR.glob(FF_PREFIX + ".*"))
    assert len(members) == 2
    compress_to(members[0], tmp_path / (members[0].name + suffix), kind)
    shutil.copy(members[1], tmp_path / members[1].name)        # a mixed group is fine too
    prefix = tmp_path / FF_PREFIX
    assert [p.name for p in expand_paths(prefix)] == [members[0].name + suffix,
                                                       members[1].name]
    assert reading_of(prefix) == reading_of(FF_DIR / FF_PREFIX)


def test_ff_pids_sort_numerically_through_compression(tmp_path: Path) -> None:
    for pid in (1000, 99, 200):
        (tmp_path / f"run.{pid}.gz").write_bytes(gzip.compress(b"+++ exited with 0 +++\n"))
    (tmp_path / "run.log.gz").write_bytes(b"")        # not a pid
    (tmp_path / "run.12x.gz").write_bytes(b"")        # not a pid
    assert [p.name for p in expand_paths(tmp_path / "run")] == [
        "run.99.gz", "run.200.gz", "run.1000.gz"]


def test_ff_pid_both_plain_and_compressed_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "run.7").write_text("+++ exited with 0 +++\n")
    (tmp_path / "run.7.gz").write_bytes(gzip.compress(b"+++ exited with 0 +++\n"))
    with pytest.raises(TraceOpenError, match=r"pid 7 is there twice"):
        expand_paths(tmp_path / "run")


# --- corrupt and truncated streams ----------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_truncated_stream_is_one_bad_line_at_the_end(tmp_path: Path, kind: str) -> None:
    data = COMPRESSORS[kind][1](QEMU.read_bytes())
    cut = tmp_path / "cut.log"
    cut.write_bytes(data[: len(data) // 2])
    items = list(iter_lines(cut))
    assert all(isinstance(item, Line) for item in items[:-1])
    assert isinstance(items[-1], BadLine)
    assert f"corrupt or truncated {kind} stream" in items[-1].reason
    assert [i.number for i in items] == list(range(1, len(items) + 1))


def test_corrupt_gzip_body_is_reported_by_the_canonical_reader(tmp_path: Path) -> None:
    data = bytearray(gzip.compress(CANONICAL.read_bytes(), mtime=0))
    data[20:40] = bytes(20)                            # wreck the deflate data
    bad = tmp_path / "bad.vmc.gz"
    bad.write_bytes(bytes(data))
    reading = open_trace(bad, "canonical")
    list(reading.events)
    reasons = [reason for _, reason in reading.summary.unreadable]
    assert len(reasons) == 1 and "corrupt or truncated gzip stream" in reasons[0]


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_truncated_strace_capture_is_one_error_naming_the_file(tmp_path: Path,
                                                               kind: str) -> None:
    data = COMPRESSORS[kind][1](STRACE.read_bytes())
    cut = tmp_path / ("save.strace" + COMPRESSORS[kind][0])
    cut.write_bytes(data[: len(data) * 2 // 3])
    result = check_trace(cut, spec="linux-6.12", fmt="strace")
    assert result.error is not None
    assert str(cut) in result.error and f"truncated {kind} stream" in result.error


def test_convert_cli_on_a_truncated_capture_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    data = gzip.compress(STRACE.read_bytes(), mtime=0)
    cut = tmp_path / "save.strace.gz"
    cut.write_bytes(data[:-30])
    result = CliRunner().invoke(cli, ["convert", str(cut)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert f"{cut}: corrupt or truncated gzip stream" in result.output


# --- the commands, unchanged ----------------------------------------------------------------

def test_convert_and_check_cli_on_compressed_files(tmp_path: Path) -> None:
    packed = compress_to(STRACE, tmp_path / "save.strace.xz", "xz")
    runner = CliRunner()
    plain_out = runner.invoke(cli, ["convert", str(STRACE)])
    packed_out = runner.invoke(cli, ["convert", str(packed)])
    assert packed_out.exit_code == plain_out.exit_code == 0
    assert packed_out.output.replace(str(packed), "X") == plain_out.output.replace(
        str(STRACE), "X")
    plain_check = runner.invoke(cli, ["check", str(STRACE), "--spec", "linux-6.12"])
    packed_check = runner.invoke(cli, ["check", str(packed), "--spec", "linux-6.12"])
    assert packed_check.exit_code == plain_check.exit_code


def test_audit_collects_compressed_captures(tmp_path: Path) -> None:
    root = tmp_path / "captures"
    root.mkdir()
    compress_to(STRACE, root / "save.strace.gz", "gzip")
    for member in sorted(FF_DIR.glob(FF_PREFIX + ".*")):
        compress_to(member, root / (member.name + ".gz"), "gzip")
    compress_to(CANONICAL, root / "source.vmc.gz", "gzip")
    compress_to(QEMU, root / "qemu.log.gz", "gzip")
    compress_to(QEMU, root / "qemu.log.1.gz", "bzip2")      # a rotated log is its own capture
    compress_to(STRACE, root / "unnamed.gz", "xz")            # found by sniffing through xz
    (root / "run.predict.json.gz").write_bytes(gzip.compress(b'{"calls": []}\n'))
    (root / "notes.txt.gz").write_bytes(gzip.compress(b"nothing to see\n"))
    captures = collect_captures([str(root)])
    by_path = {Path(c.path).name: [Path(f).name for f in c.files] for c in captures}
    assert by_path == {
        "qemu.log.1.gz": ["qemu.log.1.gz"],
        "qemu.log.gz": ["qemu.log.gz"],
        "save.strace.gz": ["save.strace.gz"],
        "source.vmc.gz": ["source.vmc.gz"],
        FF_PREFIX: [FF_PREFIX + ".940.gz", FF_PREFIX + ".941.gz"],
        "unnamed.gz": ["unnamed.gz"],
    }


def test_audit_cli_checks_a_compressed_ff_group(tmp_path: Path) -> None:
    for member in sorted(FF_DIR.glob(FF_PREFIX + ".*")):
        compress_to(member, tmp_path / (member.name + ".gz"), "gzip")
    out = tmp_path / "audit.json"
    result = CliRunner().invoke(cli, ["audit", str(tmp_path), "--json", str(out)])
    assert "Traceback" not in result.output
    doc = json.loads(out.read_text())
    assert [c["path"] for c in doc["captures"]] == [str(tmp_path / FF_PREFIX)]
    direct = check_trace(FF_DIR / FF_PREFIX, spec="linux-6.12")
    assert doc["captures"][0]["verdict"] == _verdict_of(direct)


def _verdict_of(result) -> str:
    verdicts = {d.verdict for d in result.devices}
    return next((v for v in ("fail", "inconclusive", "pass") if v in verdicts), "pass")


# --- helpers ----------------------------------------------------------------------------------

def test_magic_bytes_not_lookalike_text() -> None:
    assert compression_of(b"BZh9 is not a bzip2 stream\n") is None
    assert compression_of(b"\x1f\x8b") is None                  # too short to be a header
    assert compression_of(b"123 ioctl(5, VFIO_DEVICE_FEATURE") is None
    assert compression_of(bz2.compress(b"")[:10]) == "bzip2"
    assert compression_of(b"\xfd7zXZ\x00 then text") is None     # no valid stream flags
    header = lzma.compress(b"x")[:12]
    assert compression_of(header) == "xz"
    assert compression_of(header[:8] + bytes(4)) is None            # header CRC32 wrong
    assert compression_of(b"\x1f\x8b\x08\nabcd\x07\x03") is None   # XFL 7 is no gzip's


def test_names_and_twins(tmp_path: Path) -> None:
    assert strip_compression_suffix("x.strace.12.gz") == "x.strace.12"
    assert strip_compression_suffix("x.predict.json.bz2") == "x.predict.json"
    assert strip_compression_suffix(".gz") == ".gz"
    assert strip_compression_suffix("x.canon") == "x.canon"
    (tmp_path / "a.canon.gz").write_bytes(gzip.compress("é ok\n".encode()))
    twin = compressed_twin(tmp_path / "a.canon")
    assert twin.name == "a.canon.gz" and read_text(twin) == "é ok\n"
    assert compressed_twin(tmp_path / "b.canon") == tmp_path / "b.canon"


# --- property: compression never changes what is read ---------------------------------------

_READ_CACHE: dict[Path, tuple] = {}


def _plain_reading(path: Path) -> tuple:
    if path not in _READ_CACHE:
        _READ_CACHE[path] = reading_of(path)
    return _READ_CACHE[path]


_ALL_FIXTURES = sorted(
    [*FIXTURES.glob("canonical/*.vmc"), *FIXTURES.glob("qemu/*.log"),
     *FIXTURES.glob("strace/*.strace"), *FIXTURES.glob("mtty-6.12/f*/*.strace")])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(fixture=st.sampled_from(_ALL_FIXTURES), kind=st.sampled_from(sorted(COMPRESSORS)),
       level=st.integers(1, 9), named=st.booleans())
def test_compressing_any_fixture_never_changes_the_events(tmp_path: Path, fixture: Path,
                                                          kind: str, level: int,
                                                          named: bool) -> None:
    data = fixture.read_bytes()
    if kind == "gzip":
        packed_bytes = gzip.compress(data, compresslevel=level, mtime=0)
    elif kind == "bzip2":
        packed_bytes = bz2.compress(data, compresslevel=level)
    else:
        packed_bytes = lzma.compress(data, preset=level)
    target = tmp_path / (fixture.name + (COMPRESSORS[kind][0] if named else ".packed"))
    target.write_bytes(packed_bytes)
    assert reading_of(target) == _plain_reading(fixture)
