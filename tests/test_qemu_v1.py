"""The deprecated v1 protocol is recognised from the whole log and never read as v2."""

from __future__ import annotations

from pathlib import Path

import pytest

from vfio_migcheck.traces.events import Origin, QemuEvent, ReadSummary
from vfio_migcheck.traces.qemu import reader as qemu

FIXTURES = Path(__file__).parent / "fixtures" / "qemu"
V2_NAMES = {"ERROR", "STOP", "RUNNING", "STOP_COPY", "RESUMING", "RUNNING_P2P", "PRE_COPY",
            "PRE_COPY_P2P"}


def read(path: Path) -> tuple[list[QemuEvent], ReadSummary]:
    summary = ReadSummary()
    return list(qemu.read([path], summary)), summary


def test_v1_source_log() -> None:
    events, summary = read(FIXTURES / "v1-source.log")
    assert summary.format == "qemu-v1"
    assert any("v1" in note and "v1_state" in note for note in summary.notes)
    sets = [e for e in events if e.name == "migration_set_state"]
    assert [e.fields["v1_state"] for e in sets] == [3, 2, 0]
    assert all(e.state is None and e.recover is None for e in events)
    change = next(e for e in events if e.name == "vmstate_change")
    assert change.fields["v1_state"] == 2 and "device_state" not in change.fields
    assert all(e.fields["protocol"] == "v1" for e in events)
    buffers = [e.fields for e in events if e.name == "save_buffer"]
    assert buffers[0] == {**buffers[0], "offset": 0x1000, "size": 0x100000, "pending": 0x300000}
    notifier = next(e for e in events if e.name == "migration_state_notifier")
    assert notifier.fields["migration_state"] == "setup"


def test_v1_destination_state_4_is_not_v2_resuming_by_number() -> None:
    events, summary = read(FIXTURES / "v1-destination.log")
    assert summary.format == "qemu-v1"
    values = [e.fields["v1_state"] for e in events if "v1_state" in e.fields]
    assert values == [4, 1, 1]
    assert not any(e.state in V2_NAMES for e in events)
    data = next(e for e in events if e.name == "load_state_device_data")
    assert data.fields["offset"] == 0x1000 and data.fields["protocol"] == "v1"


@pytest.mark.parametrize("line", [
    "vfio_migration_probe  (0000:00:04.0) Region 9",
    "vfio_migration_set_state  (0000:00:04.0) state 2",
    "vfio_vmstate_change  (0000:00:04.0) running 0 reason paused device state 0",
    "vfio_migration_v1_set_state  (0000:00:04.0) state 3",
    "vfio_v1_save_setup  (0000:00:04.0)",
    "vfio_update_pending  (0000:00:04.0) pending 0x1000",
    "vfio_save_pending  (0000:00:04.0) precopy 0x0 postcopy 0x0 compatible 0x0",
])
def test_each_v1_form_is_evidence(tmp_path: Path, line: str) -> None:
    log = tmp_path / "one.log"
    log.write_text("vfio_save_cleanup  (0000:00:04.0)\n" + line + "\n")
    events, summary = read(log)
    assert summary.format == "qemu-v1"
    # the ambiguous event before the evidence is attributed to the log's era too
    assert events[0].fields["protocol"] == "v1"


def test_integer_state_without_whole_log_context_stays_v1() -> None:
    [event] = qemu.parse_qemu_text("vfio_migration_set_state  (0000:00:04.0) state 4",
                                   Origin("strace.log", 7))
    assert event.state is None and event.fields["v1_state"] == 4
    assert event.fields["protocol"] == "v1"


def test_mixed_evidence_is_reported_and_each_event_keeps_its_form(tmp_path: Path) -> None:
    log = tmp_path / "mixed.log"
    log.write_text("vfio_migration_set_state  (a) state 3\n"
                   "vfio_migration_set_state  (b) new state STOP, recover state ERROR\n"
                   "vfio_save_cleanup  (a)\n")
    events, summary = read(log)
    assert summary.format == "qemu"
    assert any(note.startswith("both v1 evidence") for note in summary.notes)
    assert events[0].state is None and events[0].fields["v1_state"] == 3
    assert events[1].state == "STOP"
    assert "protocol" not in events[2].fields


def test_no_evidence_leaves_the_era_open(tmp_path: Path) -> None:
    log = tmp_path / "plain.log"
    log.write_text("vfio_save_cleanup  (a)\nvfio_load_cleanup  (a)\n")
    events, summary = read(log)
    assert summary.format == "qemu"
    assert any("undetermined" in note for note in summary.notes)
    assert all("protocol" not in e.fields for e in events)


def test_v2_names_with_integer_recover_are_rejected() -> None:
    [bad] = qemu.parse_qemu_text(
        "vfio_migration_set_state  (a) new state STOP, recover state 3", Origin("x", 1))
    assert bad.kind == "unreadable" and "integer recover state" in bad.reason
