"""Whole QEMU trace logs of each era (constructed fixtures, see tests/fixtures/qemu/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vfio_migcheck.traces.events import QemuEvent, ReadSummary, Unreadable
from vfio_migcheck.traces.qemu import reader as qemu
from vfio_migcheck.traces.reading import open_trace

FIXTURES = Path(__file__).parent / "fixtures" / "qemu"


def read_log(name: str) -> tuple[list, ReadSummary]:
    summary = ReadSummary(format="qemu")
    events = list(qemu.read([FIXTURES / name], summary))
    return events, summary


def requests(events: list) -> list[tuple[str, str | None, str | None]]:
    return [(e.device, e.state, e.recover) for e in events
            if isinstance(e, QemuEvent) and e.name == "migration_set_state"]


def beliefs(events: list, device: str | None = None) -> list[str | None]:
    return [e.state for e in events if isinstance(e, QemuEvent)
            and e.name == "migration_set_device_state" and device in (None, e.device)]


def names(events: list) -> list[str]:
    return [e.name for e in events]


def test_dev_source_with_precopy() -> None:
    events, summary = read_log("dev-source-precopy.log")
    dev = "0000:3b:00.1"
    assert summary.format == "qemu"
    assert summary.lines == 47 and summary.events == 47 and not summary.unreadable
    assert requests(events) == [
        (dev, "PRE_COPY", "RUNNING"), (dev, "PRE_COPY_P2P", "ERROR"),
        (dev, "STOP_COPY", "ERROR"), (dev, "STOP_COPY", "STOP"), (dev, "STOP", "ERROR"),
    ]
    assert beliefs(events) == ["PRE_COPY", "PRE_COPY_P2P", "STOP_COPY", "STOP"]
    init = events[0]
    assert init.name == "migration_init" and init.fields["mig_flags"] == 0x7
    assert init.fields["precopy_info_v2_used"] == 1
    assert init.ts == pytest.approx(1767225600.10025) and init.tid is None
    assert init.fields["prefix"] == "iso"
    prepare = next(e for e in events if e.name == "vmstate_change_prepare")
    assert prepare.state == "PRE_COPY_P2P" and prepare.fields["reason"] == "finish-migrate"
    assert prepare.fields["running"] == 0
    pending = [e for e in events if e.name == "state_pending"]
    assert [p.fields["exact"] for p in pending] == [0, 1]
    assert pending[0].fields["stopcopy_size"] == 8388608
    assert "save_block_precopy_empty_hit" in names(events)
    notify = next(e for e in events if e.name == "vm_state_notify")
    assert notify.device == "" and notify.fields["reason_str"] == "finish-migrate"
    statuses = [e.fields["new_state"] for e in events if e.name == "migrate_set_state"]
    assert statuses == ["setup", "active", "device", "completed"]
    assert all(e.fields.get("protocol") == "v2" for e in events)


def test_dev_destination_in_message_context_style() -> None:
    events, summary = read_log("dev-destination.log")
    dev = "0000:3b:00.1"
    assert summary.events == 28 and not summary.unreadable
    assert requests(events) == [(dev, "RESUMING", "RUNNING"), (dev, "RUNNING_P2P", "ERROR"),
                                (dev, "RUNNING", "ERROR")]
    markers = [e.fields["data"] for e in events if e.name == "load_state"]
    assert markers[0] == 0xffffffffef100003 and 0xffffffffef100005 in markers
    writes = [e.fields["size"] for e in events if e.name == "load_state_device_data"]
    assert writes == [1048576] * 3
    first = events[0]
    assert first.tid == 4021 and first.fields["thread"] == "main"
    assert first.fields["guest"] == "guest-b" and first.fields["program"] == "qemu-system-x86_64"
    cleanup = names(events).index("load_cleanup")
    assert cleanup < names(events).index("vmstate_change_prepare")


def test_dev_savevm_without_prefix_and_with_noise() -> None:
    events, summary = read_log("dev-savevm.log")
    assert summary.lines == 31 and summary.irrelevant == 3 and summary.events == 28
    assert [s for _, s, _ in requests(events)] == [
        "RUNNING_P2P", "STOP", "STOP_COPY", "STOP", "RUNNING_P2P", "RUNNING"]
    assert all(e.ts is None and e.tid is None for e in events)
    reasons = [e.fields["reason"] for e in events if e.name.startswith("vmstate_change")]
    assert reasons == ["save-vm", "save-vm", "running", "running"]


def test_dev_cancel_during_precopy() -> None:
    events, _ = read_log("dev-cancel-precopy.log")
    order = names(events)
    assert order.index("save_cleanup") < order.index("migration_state_notifier")
    notifier = events[order.index("migration_state_notifier")]
    assert notifier.fields["migration_state"] == 2 and notifier.state is None
    assert requests(events)[-1] == ("0000:3b:00.1", "RUNNING", "ERROR")
    assert beliefs(events) == ["PRE_COPY", "RUNNING"]
    assert {e.fields["thread"] for e in events} == {"main", "live_migration"}


def test_two_devices_keep_their_own_flags_and_threads() -> None:
    events, _ = read_log("dev-two-devices.log")
    flags = {e.device: e.fields["mig_flags"] for e in events if e.name == "migration_init"}
    assert flags == {"0000:3b:00.1": 0x7, "0000:3b:00.2": 0x3}
    assert beliefs(events, "0000:3b:00.1") == ["PRE_COPY", "PRE_COPY_P2P", "STOP_COPY", "STOP"]
    assert beliefs(events, "0000:3b:00.2") == ["RUNNING_P2P", "STOP", "STOP_COPY", "STOP"]


def test_multifd_era_hex_sizes_and_old_names_are_normalised() -> None:
    events, summary = read_log("mfd-source.log")
    assert summary.irrelevant == 1            # migration_thread_setup_complete
    setup = next(e for e in events if e.name == "save_setup")
    assert setup.fields["data_buffer_size"] == 0x100000
    renamed = {e.fields["event"]: e.name for e in events}
    assert renamed["vfio_save_iterate_started"] == "save_iterate_start"
    assert renamed["vfio_save_iterate_empty_hit"] == "save_block_precopy_empty_hit"
    assert renamed["vfio_save_complete_precopy_thread_started"] == \
        "save_complete_precopy_thread_start"
    assert renamed["vfio_save_complete_precopy_thread_finished"] == \
        "save_complete_precopy_thread_end"
    assert renamed["vfio_state_pending_estimate"] == "state_pending"
    exact = next(e for e in events if e.fields["event"] == "vfio_state_pending_exact")
    assert exact.fields["exact"] == 1 and exact.fields["stopcopy_size"] == 0x500000
    thread = next(e for e in events if e.name == "save_complete_precopy_thread_start")
    assert thread.fields["idstr"] == "0000:00:04.0/vfio" and thread.tid == 4051
    other = next(e for e in events if e.name == "region_write")
    assert other.device == "" and other.fields["args"].startswith("(0000:3b:00.1:region0")


def test_multifd_destination_buffers() -> None:
    events, _ = read_log("mfd-destination.log")
    loads = [e.fields["idx"] for e in events if e.name == "load_state_device_buffer_load_start"]
    assert loads == [0, 1, 2]
    assert next(e for e in events if e.name == "load_state_device_data").fields["size"] == 0x100000


def test_qemu_9_0_one_state_set_state() -> None:
    events, _ = read_log("q90-source.log")
    sets = [e for e in events if e.name == "migration_set_state"]
    assert [e.state for e in sets] == ["PRE_COPY", "PRE_COPY_P2P", "STOP_COPY", "STOP_COPY",
                                       "STOP"]
    assert all(e.recover is None and e.fields["form"] == "one_state" for e in sets)
    assert sets[0].tid == 4030 and sets[0].ts == pytest.approx(1767225600.10025)


def test_libvirt_wrapped_first_line() -> None:
    events, summary = read_log("libvirt-wrapped.log")
    first = events[0]
    assert first.name == "migration_realize" and first.tid == 4211
    assert first.fields["wrapper"].startswith("error: internal error: qemu unexpectedly")
    assert summary.irrelevant == 2 and summary.events == 6
    failed = next(e for e in events if e.name == "load_state_device_data")
    assert failed.fields["ret"] == -22


def test_glued_and_truncated_lines() -> None:
    events, summary = read_log("glued-truncated.log")
    good = [e for e in events if isinstance(e, QemuEvent)]
    bad = [e for e in events if isinstance(e, Unreadable)]
    assert [(e.origin.line, e.name) for e in good] == [
        (1, "migration_set_state"), (1, "migration_set_device_state"),
        (2, "save_iterate_start"), (3, "save_block"), (7, "vmstate_change"),
        (8, "save_cleanup"), (8, "migration_set_state")]
    assert good[1].fields["glued"] and good[1].tid == 4030 and good[1].state == "PRE_COPY"
    # the thread id after a record cut short may have eaten its last digits: not trusted
    assert good[2].tid is None and good[2].ts == pytest.approx(1767225600.20003)
    assert good[6].state == "STOP" and good[6].recover == "ERROR"
    assert [e.origin.line for e in bad] == [2, 4, 5, 6, 9]
    assert [n for n, _ in summary.unreadable] == [2, 4, 5, 6, 9]
    assert "cut off" in bad[0].reason and "STOP_CO" in bad[2].reason
    assert "vfio_migration_set_st" in bad[3].reason
    assert summary.lines == 9


def test_error_reports_become_events() -> None:
    events, summary = read_log("errors.log")
    reports = [e for e in events if e.name == "error_report"]
    assert [r.fields["error"] for r in reports] == [
        "set_state_failed", "set_state_failed", "recover_failed", "data_fd_out_of_sync",
        "reset_failed", "invalid_device_state", "buffer_alloc_failed"]
    first, second = reports[0], reports[1]
    assert first.device == "0000:3b:00.1" and first.fields["target"] == "STOP_COPY"
    assert first.fields["recover_to"] == "STOP" and first.fields["err"] == "Invalid argument"
    assert first.fields["reset"] == 0 and first.recover is None
    assert second.fields["recover_to"] == "ERROR" and second.fields["reset"] == 1
    assert reports[4].fields["err"] == "Input/output error"
    assert reports[5].fields["value"] == 3
    assert reports[6].device == "VFIO user /run/gpio.sock"
    assert summary.irrelevant == 1


def test_read_is_lazy_and_accounts_every_line() -> None:
    summary = ReadSummary()
    stream = qemu.read([FIXTURES / "dev-source-precopy.log"], summary)
    first = next(stream)
    assert first.origin.line == 1 and summary.lines == 1
    rest = list(stream)
    assert summary.lines == 47 == 1 + len(rest)


def test_open_trace_with_forced_format() -> None:
    reading = open_trace(FIXTURES / "v1-source.log", "qemu")
    events = list(reading.events)
    assert reading.summary.format == "qemu-v1" and events


def test_several_paths_are_one_log() -> None:
    summary = ReadSummary()
    events = list(qemu.read([FIXTURES / "dev-source-precopy.log",
                             FIXTURES / "dev-destination.log"], summary))
    assert summary.lines == 47 + 28
    assert {e.origin.file for e in events} == {str(FIXTURES / "dev-source-precopy.log"),
                                               str(FIXTURES / "dev-destination.log")}


def test_bad_bytes_are_unreadable_not_raised(tmp_path: Path) -> None:
    log = tmp_path / "bad.log"
    log.write_bytes(b"vfio_save_cleanup  (0000:3b:00.1)\n\xff\xfe broken\nab\x00cd\n")
    summary = ReadSummary()
    events = list(qemu.read([log], summary))
    assert [type(e).__name__ for e in events] == ["QemuEvent", "Unreadable", "Unreadable"]
    assert [n for n, _ in summary.unreadable] == [2, 3]
    assert "UTF-8" in summary.unreadable[0][1]


A, B = "0000:3b:00.1", "0000:3b:00.2"
# requested states (migration_set_state) per device, in log order, for every scenario log
SCENARIOS = {
    "q90-destination.log": {A: ["RESUMING", "RUNNING_P2P", "RUNNING"]},
    "q90-savevm.log": {A: ["RUNNING_P2P", "STOP", "STOP_COPY", "STOP", "RUNNING_P2P",
                           "RUNNING"]},
    "q90-cancel-precopy.log": {A: ["PRE_COPY", "RUNNING"]},
    "q90-two-devices.log": {A: ["PRE_COPY", "PRE_COPY_P2P", "STOP_COPY", "STOP_COPY", "STOP"],
                            B: ["RUNNING_P2P", "STOP", "STOP_COPY", "STOP"]},
    "mfd-savevm.log": {A: ["RUNNING_P2P", "STOP", "STOP_COPY", "STOP", "RUNNING_P2P",
                           "RUNNING"]},
    "mfd-cancel-precopy.log": {A: ["PRE_COPY", "RUNNING"]},
    "mfd-two-devices.log": {A: ["PRE_COPY", "PRE_COPY_P2P", "STOP_COPY", "STOP_COPY", "STOP"],
                            B: ["PRE_COPY", "PRE_COPY_P2P", "STOP_COPY", "STOP_COPY", "STOP"]},
    "mfd-destination.log": {A: ["RESUMING", "RUNNING_P2P", "RUNNING"]},
    "dev-savevm.log": {A: ["RUNNING_P2P", "STOP", "STOP_COPY", "STOP", "RUNNING_P2P",
                           "RUNNING"]},
    "dev-destination.log": {A: ["RESUMING", "RUNNING_P2P", "RUNNING"]},
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_request_sequences(name: str) -> None:
    events, summary = read_log(name)
    assert not summary.unreadable
    assert summary.irrelevant == (3 if name == "dev-savevm.log" else 0)
    got: dict[str, list[str | None]] = {}
    for device, state, _ in requests(events):
        got.setdefault(device, []).append(state)
    assert got == SCENARIOS[name]
    one_state = name.startswith("q90")
    forms = {e.fields["form"] for e in events if e.name == "migration_set_state"}
    assert forms == ({"one_state"} if one_state else {"new_recover"})
    assert all(e.fields.get("protocol") == "v2" for e in events)


def test_q90_cancel_notifier_and_cleanup_order() -> None:
    events, _ = read_log("q90-cancel-precopy.log")
    order = names(events)
    assert order.index("save_cleanup") < order.index("migration_state_notifier")
    assert events[order.index("migration_state_notifier")].fields["migration_state"] == 2


def test_q90_destination_single_config_event_and_hex_sizes() -> None:
    events, _ = read_log("q90-destination.log")
    assert "load_device_config_state" in names(events)
    sizes = [e.fields["size"] for e in events if e.name == "load_state_device_data"]
    assert sizes == [0x100000, 0x80000]


def test_mfd_two_devices_save_threads() -> None:
    events, _ = read_log("mfd-two-devices.log")
    threads = {(e.device, e.tid) for e in events
               if e.name == "save_complete_precopy_thread_start"}
    assert threads == {(A, 4051), (B, 4061)}
    ends = [e for e in events if e.name == "save_complete_precopy_thread_end"]
    assert [e.fields["ret"] for e in ends] == [0, 0]
