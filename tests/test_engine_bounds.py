"""Bounded engine cost on hostile shapes (issue 11 item 2, issue 12): many devices whose data
fds have no known owner, and long runs of hidden FEATURE calls. The cost of one event must
not grow with the trace; where the readings are cut, the cut is a T002 note and the device's
verdict is inconclusive, never a pass."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

from tests.support.timing import fastest
from vfio_migcheck.checker.api import check_trace

FIXTURES = Path(__file__).parent / "fixtures" / "robustness"
R8 = FIXTURES / "R8-strace-engine-many-devices.strace"
R9 = FIXTURES / "R9-strace-engine-hidden-feature-57k.strace.gz"


def _cpu(path: Path) -> float:
    return fastest(lambda: check_trace(path), repeat=2, clock=time.process_time)


def _cut_honestly(path: Path) -> None:
    result = check_trace(path)
    assert result.error is None
    assert result.devices
    t002 = {f.device for f in result.findings if f.rule == "T002"}
    for device in result.devices:
        assert device.verdict != "pass"
        if device.name in t002:
            assert any("dropped" in reason for reason in device.inconclusive_reasons)


def test_r8_many_devices_is_cut_and_reported() -> None:
    _cut_honestly(R8)
    result = check_trace(R8)
    assert sum(f.rule == "T002" for f in result.findings) == len(result.devices) == 50


def test_r9_hidden_features_is_checked_within_the_bound() -> None:
    _cut_honestly(R9)


def test_hidden_features_scale_linearly(tmp_path) -> None:
    body = gzip.decompress(R9.read_bytes()).decode().splitlines(keepends=True)
    once = tmp_path / "once.strace"
    four = tmp_path / "four.strace"
    once.write_text("".join(body[:100]))
    four.write_text("".join(body[:100] + body[1:100] * 3))
    # 4x the hidden calls must cost < 8x the time (quadratic would be 16x)
    small, large = _cpu(once), _cpu(four)
    assert large < 8 * max(small, 0.01), (small, large)
