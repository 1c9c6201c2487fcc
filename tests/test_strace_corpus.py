"""Every real capture of tests/fixtures/mtty-6.12 against its ground truth (.gt).

The test program that made each capture logged every call with the payloads strace
cannot show (``out.data_fd=N`` of a SET, ``device_fd=N`` at setup). The reader must find
exactly those device fds, and the data fds at exactly their first use, with no line
left unreadable.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from vfio_migcheck.traces.events import (
    DataClose,
    DataIO,
    DeviceOpen,
    FdAppeared,
    FeatureCall,
    PrecopyInfo,
    Unreadable,
)
from vfio_migcheck.traces.reading import open_trace

CORPUS = Path(__file__).parent / "fixtures" / "mtty-6.12"
VARIANTS = ("f", "f_y_tt_T", "ff_o", "f_y_filtered")
SCENARIOS = ("save", "restore", "migrate2", "matrix", "matrix-resumed", "errors", "threads")
_FIELD = re.compile(r"(\S+?)=(\S+)")
_FD_OPS = ("read", "write", "ioctl", "close", "poll", "fcntl", "lseek", "pread", "pwrite")


def ground_truth(gt: Path) -> tuple[list[int], list[int], int]:
    """(device fds at setup, data fds in order of first use, successful SETs with a fd)."""
    devices: list[int] = []
    unused: set[int] = set()
    first_uses: list[int] = []
    created = 0
    for line in gt.read_text().splitlines():
        fields = dict(_FIELD.findall(line))
        if fields.get("op") == "setup_done":
            devices.append(int(fields["device_fd"]))
            continue
        if fields.get("kind") != "call":
            continue
        fd = int(fields["fd"]) if "fd" in fields else None
        if fd is not None and fd in unused and fields.get("op") in _FD_OPS:
            unused.discard(fd)
            first_uses.append(fd)
        data_fd = int(fields.get("out.data_fd", "-1"))
        if "flags=SET" in line and fields.get("rc") == "0" and data_fd >= 0:
            unused.add(data_fd)
            created += 1
    return devices, first_uses, created


def capture_path(variant: str, scenario: str) -> Path:
    """The capture (for ff_o a PREFIX that open_trace expands to the PREFIX.TID files)."""
    return CORPUS / variant / f"{scenario}.strace"


def read_all(path: Path):
    reading = open_trace(path)
    events = list(reading.events)
    return reading, events


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_devices_and_data_fds_match_ground_truth(variant: str, scenario: str) -> None:
    reading, events = read_all(capture_path(variant, scenario))
    assert reading.format == "strace"
    assert reading.summary.unreadable == []
    assert not [e for e in events if isinstance(e, Unreadable)]

    devices, first_uses, created = ground_truth(CORPUS / variant / f"{scenario}.gt")
    assert created > 0
    assert [e.fd for e in events if isinstance(e, DeviceOpen)] == devices
    appeared = [e for e in events if isinstance(e, FdAppeared)]
    if scenario == "threads":
        # two threads log to the ground truth in their own order: compare as multisets
        assert Counter(e.fd for e in appeared) == Counter(first_uses)
    else:
        assert [e.fd for e in appeared] == first_uses
    for event in appeared:
        assert event.after_feature is not None
    if len(devices) == 1:
        names = {e.device for e in events if isinstance(e, DeviceOpen)}
        assert {e.device_hint for e in appeared} == names


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_line_is_accounted_for(variant: str, scenario: str) -> None:
    reading, events = read_all(capture_path(variant, scenario))
    summary = reading.summary
    event_lines = set()
    for event in events:
        if isinstance(event, Unreadable):
            continue
        event_lines.add((event.origin.file, event.origin.line))
        if event.origin.last_line:
            event_lines.add((event.origin.file, event.origin.last_line))
    assert len(event_lines) + summary.irrelevant + len(summary.unreadable) == summary.lines
    assert summary.events == len(events)


def test_save_capture_events_in_detail() -> None:
    """save.strace (-f -y -tt -T): the whole VFIO story of the capture, in order."""
    _reading, events = read_all(CORPUS / "f_y_tt_T" / "save.strace")
    device = next(e for e in events if isinstance(e, DeviceOpen))
    assert (device.device, device.fd, device.api) == ("group0/dev0", 5, "group")
    features = [e for e in events if isinstance(e, FeatureCall)]
    gt = (CORPUS / "f_y_tt_T" / "save.gt").read_text()
    assert len(features) == gt.count("req=VFIO_DEVICE_FEATURE(0x3b75)") == 13
    # the data fd's first use follows FEATURE #6 (SET PRE_COPY is #5, then a GET)
    assert all(f.ret == 0 and f.errno is None for f in features)
    appeared = next(e for e in events if isinstance(e, FdAppeared))
    assert (appeared.fd, appeared.name) == (6, "anon_inode:mtty_mig")
    assert appeared.after_feature == features[5].origin
    precopy = [e for e in events if isinstance(e, PrecopyInfo)]
    assert [p.fd for p in precopy] == [6, 6, 6, 6]
    reads = [e for e in events if isinstance(e, DataIO)]
    assert [r.ret for r in reads] == [16, 8, 0, 16, 16, 16, 16, 8, 0, 0]
    assert all(r.direction == "read" and r.requested == 16 for r in reads)
    closes = [e for e in events if isinstance(e, DataClose)]
    assert [(c.fd, c.how) for c in closes] == [(6, "close")]
    assert reads[0].ts is not None and reads[0].duration == pytest.approx(0.000293)


def test_errors_capture_keeps_failed_calls_and_wrong_fds() -> None:
    _reading, events = read_all(CORPUS / "f_y_tt_T" / "errors.strace")
    device_precopy = [e for e in events if isinstance(e, PrecopyInfo) and e.fd == 5]
    assert len(device_precopy) == 1
    assert (device_precopy[0].ret, device_precopy[0].errno) == (-1, "ENOTTY")
    failed = [e for e in events if isinstance(e, DataIO) and e.errno == "ENODEV"]
    assert failed and all(e.ret == -1 for e in failed)
