"""Inputs the fuzz campaign found after the branches were merged: each bad value costs its
own line (unreadable, with the reason), never the trace, and convert's round trip holds."""

from __future__ import annotations

from pathlib import Path

from fuzz.targets import roundtrip
from vfio_migcheck.traces.events import Unreadable
from vfio_migcheck.traces.reading import open_trace

BPF_HEAD = "vfio-mig-bt 1 attached ts=1 pids=618\n"
BPF_GOOD = ("47838720742 618 618 65127 feature fd=5 argsz=16 flags=0x20002 "
            "in=0x7,0x0 out=0x7,0x0 ret=0\n")


def _unreadable(path: Path, fmt: str = "auto") -> list[Unreadable]:
    reading = open_trace(path, fmt)
    events = list(reading.events)
    bad = [e for e in events if isinstance(e, Unreadable)]
    assert len(bad) == len(reading.summary.unreadable)
    return bad


def test_bpftrace_value_beyond_64_bits_is_one_unreadable_line(tmp_path) -> None:
    path = tmp_path / "cap.bpftrace"
    path.write_text(BPF_HEAD + "47838662985 618 618 37837 feature fd=18446744073709551616 "
                    "argsz=16 flags=0x20002 in=0x1,0x0 out=0x1,0x0 ret=0\n" + BPF_GOOD)
    bad = _unreadable(path)
    assert [e.origin.line for e in bad] == [2]
    assert "64-bit" in bad[0].reason
    roundtrip(path)   # raises on a difference


def test_strace_duration_beyond_any_time_is_one_unreadable_line(tmp_path) -> None:
    path = tmp_path / "cap.strace"
    huge = "1" * 400 + ".015262"
    path.write_text(
        '1635  09:59:03.594253 openat(AT_FDCWD, "/dev/vfio/0", O_RDWR) = 4 <0.000010>\n'
        f"1635  09:59:03.640620 ioctl(4, VFIO_GROUP_GET_DEVICE_FD, 0x6eade0) = 5 <{huge}>\n"
        "1635  09:59:03.650620 close(5) = 0 <0.000010>\n")
    bad = _unreadable(path, "strace")
    assert [e.origin.line for e in bad] == [2]
    assert "duration" in bad[0].reason
    roundtrip(path)


def test_bpftrace_feature_without_a_name_survives_convert(tmp_path) -> None:
    """A feature number this tool has no name for is written FEATURE_<n>, not '?'."""
    path = tmp_path / "cap.bpftrace"
    path.write_text(BPF_HEAD + "45312391220 562 562 39469 feature fd=5 argsz=16 flags=0x2002 "
                    "in=0x8,0x0 out=0x8,0x0 ret=-22\n" + BPF_GOOD)
    assert not _unreadable(path)
    events = list(open_trace(path, "auto").events)
    assert events[0].feature == "FEATURE_8194"
    roundtrip(path)
