"""Complete QEMU-style flows (qemu.md sections 2-3) in canonical form pass clean; broken
variants fail where they break; hidden payloads pinned by QEMU trace events are settled."""

from __future__ import annotations

from pathlib import Path

import pytest

from vfio_migcheck.checker.api import check_events, check_trace
from vfio_migcheck.traces.canonical.reader import read_text
from vfio_migcheck.traces.events import ReadSummary

EXAMPLES = Path(__file__).parent.parent / "vfio_migcheck" / "examples"
HEAD = ("# vmc-trace 1\ndevice d0 fd=5 flags={flags} state=RUNNING\n"
        "d0 GET MIGRATION = 0 flags={flags}\n")

SOURCE_NO_PRECOPY = HEAD.format(flags="0x3") + """\
d0 GET MIG_DATA_SIZE = 0 size=4096
d0 SET STATE RUNNING_P2P = 0 data_fd=-1
d0 SET STATE STOP = 0 data_fd=-1
d0 SET STATE STOP_COPY = 0 data_fd=7
fd 7 read 1048576 = 4096
fd 7 read 1048576 = 0
d0 SET STATE STOP = 0 data_fd=-1
fd 7 close = 0
"""

SAVEVM = HEAD.format(flags="0x7") + """\
d0 SET STATE RUNNING_P2P = 0 data_fd=-1
d0 SET STATE STOP = 0 data_fd=-1
d0 GET MIG_DATA_SIZE = 0 size=8192
d0 SET STATE STOP_COPY = 0 data_fd=9
fd 9 read 1048576 = 8192
fd 9 read 1048576 = 0
d0 SET STATE STOP = 0 data_fd=-1
fd 9 close = 0
d0 SET STATE RUNNING_P2P = 0 data_fd=-1
d0 SET STATE RUNNING = 0 data_fd=-1
"""

CANCEL_IN_PRECOPY = HEAD.format(flags="0x7") + """\
d0 SET DMA_LOGGING_START = 0
d0 SET STATE PRE_COPY = 0 data_fd=8
fd 8 precopy_info argsz=24 = 0 initial=65536 dirty=0
fd 8 read 1048576 = 65536
fd 8 read 1048576 = -1 ENOMSG
fd 8 close = 0
d0 SET STATE RUNNING = 0 data_fd=-1
d0 SET DMA_LOGGING_STOP = 0
"""

DESTINATION_NO_P2P = HEAD.format(flags="0x1") + """\
d0 SET STATE RESUMING = 0 data_fd=40
fd 40 write 4096 = 4096
fd 40 close = 0
d0 SET STATE RUNNING = 0 data_fd=-1
"""

# QEMU's trace events pin the hidden payload of each FEATURE call (strace + QEMU trace).
PINNED = """\
# vmc-trace 1
device d0 fd=5 state=RUNNING
qemu d0 migration_init mig_flags=0x7
d0 ? ? = 0
qemu d0 migration_set_state new=PRE_COPY recover=RUNNING
d0 ? ? = 0
fd 8 appeared device=d0
fd 8 read 1048576 = 4096
qemu d0 migration_set_state new=PRE_COPY_P2P recover=ERROR
d0 ? ? = 0
qemu d0 migration_set_state new=STOP_COPY recover=ERROR
d0 ? ? = 0
fd 8 read 1048576 = 100
fd 8 read 1048576 = 0
qemu d0 migration_set_state new=STOP recover=ERROR
d0 ? ? = 0
fd 8 close = 0
"""


def check_text(text: str):
    summary = ReadSummary(format="canonical")
    events = list(read_text(text, file="flow.vmc", summary=summary))
    assert not summary.unreadable, summary.unreadable
    return check_events(events, spec="linux-6.12", summary=summary)


@pytest.mark.parametrize("name", ["source-precopy.vmc", "destination.vmc",
                                  "two-devices-p2p.vmc"])
def test_bundled_flows_pass(name: str) -> None:
    result = check_trace(EXAMPLES / name, spec="linux-6.12")
    assert result.findings == ()
    assert {d.verdict for d in result.devices} == {"pass"}


@pytest.mark.parametrize("text,final", [
    (SOURCE_NO_PRECOPY, ("STOP",)), (SAVEVM, ("RUNNING",)),
    (CANCEL_IN_PRECOPY, ("RUNNING",)), (DESTINATION_NO_P2P, ("RUNNING",)),
])
def test_reference_flows_pass(text: str, final: tuple[str, ...]) -> None:
    result = check_text(text)
    assert result.findings == ()
    (device,) = result.devices
    assert device.verdict == "pass" and device.final_states == final


def test_source_session_statistics() -> None:
    (device,) = check_trace(EXAMPLES / "source-precopy.vmc", spec="linux-6.12").devices
    (session,) = device.sessions
    assert session.kind == "saving" and session.fd == 45
    assert session.bytes_read_precopy == 2 * 1048576
    assert session.bytes_read_stopcopy == 1048576 + 524288
    assert session.eof_line is not None and session.closed_line is not None
    assert session.stop_copy_ts == pytest.approx(201.0003)
    assert device.first_ts == pytest.approx(100.0) and device.last_ts is not None
    targets = [r.target for r in device.requests]
    assert targets == ["PRE_COPY", "PRE_COPY_P2P", "STOP_COPY", "STOP"]
    assert device.requests[0].src == "RUNNING" and device.requests[0].path == ("PRE_COPY",)
    assert device.states[-1].states == ("STOP",)


def test_destination_statistics() -> None:
    (device,) = check_trace(EXAMPLES / "destination.vmc", spec="linux-6.12").devices
    (session,) = device.sessions
    assert session.kind == "resuming" and session.bytes_written == 3 * 1048576 + 524288
    assert device.requests[0].path == ("RUNNING_P2P", "STOP", "RESUMING")


def test_ending_mid_migration_is_inconclusive() -> None:
    text = SAVEVM.split("fd 9 read 1048576 = 0")[0]
    (device,) = check_text(text).devices
    assert device.verdict == "inconclusive"
    assert any("mid-migration" in r for r in device.inconclusive_reasons)


def test_wrong_p2p_order_is_reported() -> None:
    text = (EXAMPLES / "two-devices-p2p.vmc").read_text()
    broken = text.replace("@21.000100 [710] gpu0 SET STATE RUNNING_P2P argsz=16 = 0 data_fd=-1\n",
                          "")
    broken = broken.replace("@21.000300 [710] gpu0 SET STATE STOP argsz=16 = 0 data_fd=-1\n",
                            "@21.000300 [710] gpu0 SET STATE STOP argsz=16 = 0 data_fd=-1\n")
    result = check_text(broken)
    assert [f.rule for f in result.findings] == ["U015"]
    assert "gpu0" in result.findings[0].message


def test_qemu_trace_events_settle_hidden_payloads() -> None:
    result = check_text(PINNED)
    (device,) = result.devices
    assert result.findings == ()
    assert device.flags == "0x7" and device.final_states == ("STOP",)
    assert device.verdict == "pass"
    assert [r.target for r in device.requests if r.target] == [
        "PRE_COPY", "PRE_COPY_P2P", "STOP_COPY", "STOP"]


def test_without_qemu_events_the_same_capture_is_inconclusive() -> None:
    hidden = "\n".join(line for line in PINNED.splitlines() if not line.startswith("qemu"))
    (device,) = check_text(hidden + "\n").devices
    assert device.verdict == "inconclusive"
    assert len(device.final_states) > 1


QEMU_LOGS = Path(__file__).parent / "fixtures" / "qemu"


@pytest.mark.parametrize("name", sorted(p.name for p in QEMU_LOGS.glob("*.log")
                                        if p.name.split("-")[0] in ("dev", "mfd", "q90")))
def test_qemu_trace_logs_of_reference_flows_pass(name: str) -> None:
    """A QEMU log shows requests, not ioctls: each set_device_state stands for a SET that
    succeeded; data I/O is not in such a log, so no data rule can fire."""
    result = check_trace(QEMU_LOGS / name, spec="linux-6.12")
    assert result.error is None
    assert result.findings == ()
    assert {d.verdict for d in result.devices} == {"pass"}
    assert len(result.devices) == (2 if "two-devices" in name else 1)


def test_qemu_recover_after_failed_set() -> None:
    result = check_trace(QEMU_LOGS / "errors.log", spec="linux-6.12")
    device = next(d for d in result.devices if d.name == "0000:3b:00.1")
    assert device.final_states == ("STOP",) and device.verdict == "pass"
