"""Line prefixes, wrapper text, glued records, error reports and sniffing."""

from __future__ import annotations

import pytest

from vfio_migcheck.traces.events import Origin, QemuEvent, Unreadable
from vfio_migcheck.traces.qemu import reader as qemu
from vfio_migcheck.traces.qemu.lines import find_segments, iso_to_epoch

ORIGIN = Origin("log", 1)
RECORD = "vfio_migration_set_state  (0000:3b:00.1) new state STOP_COPY, recover state STOP"


def one(text: str) -> QemuEvent:
    events = qemu.parse_qemu_text(text, ORIGIN)
    assert len(events) == 1 and isinstance(events[0], QemuEvent), events
    return events[0]


@pytest.mark.parametrize(("line", "style", "tid", "ts", "thread"), [
    ("40211@1767225600.123456:" + RECORD, "tid", 40211, 1767225600.123456, None),
    (RECORD, "none", None, None, None),
    ("2026-01-01T00:00:00.123456Z " + RECORD, "iso", None, 1767225600.123456, None),
    ("2026-01-01T00:00:00.123456Z [fish food] qemu-system-x86_64(1168876:main): " + RECORD,
     "message", 1168876, 1767225600.123456, "main"),
    ("qemu-system-x86_64(1184284:CPU 0/KVM): " + RECORD, "message", 1184284, None, "CPU 0/KVM"),
    ("[vm-a] qemu-system-x86_64(77:live_migration): " + RECORD, "message", 77, None,
     "live_migration"),
    ("2026-01-01T00:00:00.123456Z qemu-system-x86_64: " + RECORD, "message", None,
     1767225600.123456, None),
])
def test_each_prefix_style(line: str, style: str, tid: int | None, ts: float | None,
                           thread: str | None) -> None:
    event = one(line)
    assert (event.name, event.device, event.state, event.recover) == (
        "migration_set_state", "0000:3b:00.1", "STOP_COPY", "STOP")
    assert event.fields["prefix"] == style
    assert event.tid == tid and event.fields.get("thread") == thread
    assert event.ts == (pytest.approx(ts) if ts is not None else None)
    assert "wrapper" not in event.fields


def test_message_style_keeps_guest_and_program() -> None:
    event = one("2026-01-01T00:00:00.5Z [fish food] qemu-kvm(9:main): " + RECORD)
    assert event.fields["guest"] == "fish food" and event.fields["program"] == "qemu-kvm"


def test_one_space_between_name_and_device_is_tolerated() -> None:
    event = one("vfio_save_setup (0000:3b:00.1) data buffer size 1048576")
    assert event.fields["data_buffer_size"] == 1048576


def test_device_names_of_vfio_user_devices_have_spaces() -> None:
    event = one("vfio_save_cleanup  (VFIO user /run/vfio-user/gpio.sock)")
    assert event.device == "VFIO user /run/vfio-user/gpio.sock"


def test_wrapper_text_on_the_same_line() -> None:
    event = one("error: internal error: qemu unexpectedly closed the monitor: "
                "4211@1635250000.123456:vfio_save_cleanup  (0000:00:04.0)")
    assert event.tid == 4211
    assert event.fields["wrapper"].endswith("closed the monitor:")


def test_wrapper_colon_is_not_a_program_name() -> None:
    event = one("libvirt: qemu unexpectedly closed the monitor: " + RECORD)
    assert event.fields["prefix"] == "none" and "program" not in event.fields
    assert event.fields["wrapper"].endswith("the monitor:")


def test_wrapper_without_any_prefix() -> None:
    event = one("qemu output: vfio_save_cleanup  (0000:00:04.0)")
    assert event.fields["wrapper"] == "qemu output:" and event.fields["prefix"] == "none"


def test_glued_iso_records() -> None:
    line = ("2026-01-01T00:00:00.000001Z " + RECORD +
            "2026-01-01T00:00:00.000002Z vfio_save_cleanup  (0000:3b:00.1)")
    first, second = qemu.parse_qemu_text(line, ORIGIN)
    assert first.recover == "STOP" and second.name == "save_cleanup"
    assert second.fields["glued"] and second.ts == pytest.approx(1767225600.000002)


def test_thread_id_after_a_cut_record_is_dropped() -> None:
    line = ("1@1.000001:vfio_save_block  (a) data_size 10485762@1.000002:"
            "vfio_save_cleanup  (a)")
    bad, good = qemu.parse_qemu_text(line, ORIGIN)
    assert isinstance(bad, Unreadable) and "vfio_save_block" in bad.reason
    assert good.name == "save_cleanup" and good.tid is None


def test_unknown_state_name_is_unreadable() -> None:
    [bad] = qemu.parse_qemu_text("vfio_migration_set_device_state  (a) state STOP_CO", ORIGIN)
    assert isinstance(bad, Unreadable) and "STOP_CO" in bad.reason


def test_mig_state_to_str_fallback_is_kept_as_text() -> None:
    event = one("vfio_migration_set_device_state  (a) state UNKNOWN STATE")
    assert event.state is None and event.fields["state"] == "UNKNOWN STATE"


def test_caller_timing_wins_and_prefix_timing_is_kept() -> None:
    [event] = qemu.parse_qemu_text("40211@1767225600.123456:vfio_save_cleanup  (a)\n",
                                   ORIGIN, pid=40200, tid=40211, ts=5.5)
    assert (event.pid, event.tid, event.ts) == (40200, 40211, 5.5)
    assert event.fields["trace_tid"] == 40211
    assert event.fields["trace_ts"] == pytest.approx(1767225600.123456)


def test_payload_with_several_lines_and_noise() -> None:
    text = ("qemu-system-x86_64: warning: something else\n"
            "vfio_save_setup  (a) data buffer size 1048576\n"
            "\n"
            "vfio_save_cleanup  (a)\n")
    events = qemu.parse_qemu_text(text, ORIGIN, pid=1)
    assert [e.name for e in events] == ["save_setup", "save_cleanup"]
    assert all(e.origin == ORIGIN and e.pid == 1 for e in events)


def test_no_vfio_text_gives_nothing() -> None:
    assert qemu.parse_qemu_text("Hello, world\n", ORIGIN) == []
    assert qemu.parse_qemu_text("", ORIGIN) == []


def test_text_mentioning_vfio_functions_is_not_a_record() -> None:
    assert qemu.parse_qemu_text(
        "qemu-system-x86_64: vfio_listener_region_add received unaligned region", ORIGIN) == []
    assert qemu.parse_qemu_text(
        "qemu-system-x86_64: vfio_container_dma_map(0x1, 0x2) = -22 (Invalid argument)",
        ORIGIN) == []


def test_other_vfio_events_are_kept_unparsed() -> None:
    event = one("5@1.5:vfio_region_read  (0000:00:02.0:region0+0x0, 4) = 0x1")
    assert event.name == "region_read" and event.device == ""
    assert event.fields["args"] == "(0000:00:02.0:region0+0x0, 4) = 0x1" and event.tid == 5


def test_unprefixed_other_vfio_words_need_the_record_shape() -> None:
    assert qemu.parse_qemu_text("vfio_pci 16384 0", ORIGIN) == []
    event = one("vfio_intx_enable  (0000:00:02.0)")
    assert event.name == "intx_enable" and event.fields["args"] == "(0000:00:02.0)"


def test_record_cut_after_its_name() -> None:
    [bad] = qemu.parse_qemu_text("5@1.5:vfio_save_setup", ORIGIN)
    assert isinstance(bad, Unreadable) and "cut off" in bad.reason


def test_non_vfio_correlation_events() -> None:
    notify = one("vm_state_notify running 0 reason 7 (finish-migrate)")
    assert notify.device == "" and notify.fields["running"] == 0
    assert notify.fields["reason"] == 7 and notify.fields["reason_str"] == "finish-migrate"
    status = one("12@3.000004:migrate_set_state new state cancelling")
    assert status.fields["new_state"] == "cancelling" and status.tid == 12


def test_other_subsystems_are_irrelevant() -> None:
    assert qemu.parse_qemu_text("12@3.000004:migration_thread_setup_complete ", ORIGIN) == []
    assert qemu.parse_qemu_text("qcrypto_tls_creds_get_path TLS creds path", ORIGIN) == []


def test_error_report_with_message_context() -> None:
    event = one("2026-01-01T00:00:00.5Z [vm] qemu-system-x86_64(77:live_migration): "
                "0000:3b:00.1: data_fd out of sync")
    assert event.name == "error_report" and event.device == "0000:3b:00.1"
    assert event.fields["error"] == "data_fd_out_of_sync"
    assert event.tid == 77 and event.ts == pytest.approx(1767225600.5)


def test_find_segments_positions() -> None:
    segments = find_segments("junk 1@2.3:vfio_save_cleanup  (a)4@5.6:vfio_load_cleanup  (b)")
    assert [(s.raw_name, s.body, s.wrapper, s.glued) for s in segments] == [
        ("vfio_save_cleanup", "vfio_save_cleanup  (a)", "junk", False),
        ("vfio_load_cleanup", "vfio_load_cleanup  (b)", "", True)]
    assert [s.prefix.tid for s in segments] == [1, 4]


def test_iso_to_epoch() -> None:
    assert iso_to_epoch("2026-01-01T00:00:00Z") == 1767225600.0
    assert iso_to_epoch("2026-01-01T00:00:01.25Z") == pytest.approx(1767225601.25)


@pytest.mark.parametrize(("lines", "low", "high"), [
    (["40211@1767225600.123456:" + RECORD], 0.9, 1.0),
    (["2026-01-01T00:00:00.123456Z " + RECORD], 0.9, 1.0),
    (["qemu-system-x86_64(1:main): " + RECORD], 0.9, 1.0),
    (["random text", RECORD], 0.9, 1.0),
    (["error: internal error: qemu closed: 1@2.3:" + RECORD], 0.6, 0.8),
    (["hello", "world"], 0.0, 0.0),
    (["4211@1635250000.123456:kvm_run_exit cpu_index 0, reason 2"], 0.3, 0.5),
    (["12345 ioctl(3, VFIO_DEVICE_FEATURE, 0x7ffd) = 0",
      '12345 write(2, "1@2.3:vfio_save_cleanup  (a)\\n", 30) = 30',
      "12345 close(3) = 0"], 0.0, 0.2),
])
def test_sniff(lines: list[str], low: float, high: float) -> None:
    assert low <= qemu.sniff(lines) <= high


@pytest.mark.parametrize("text", [
    RECORD, "x: 0000:3b:00.1: data_fd out of sync", "migrate_set_state new state active",
    "qemu: hardware error: 0000:3b:00.1: Failed resetting device, err: EIO",
])
def test_pre_check_admits_every_kind_of_record(text: str) -> None:
    assert qemu.may_hold_qemu_text(text) and qemu.parse_qemu_text(text, ORIGIN)


def test_pre_check_rejects_plain_text() -> None:
    assert not qemu.may_hold_qemu_text("qemu-system-x86_64: terminating on signal 15")


def test_qmp_vfio_migration_events() -> None:
    from pathlib import Path

    from vfio_migcheck.traces.events import ReadSummary

    summary = ReadSummary()
    log = Path(__file__).parent / "fixtures" / "qemu" / "qmp-events.log"
    events = list(qemu.read([log], summary))
    good = [e for e in events if isinstance(e, QemuEvent)]
    assert [(e.device, e.state, e.fields["qapi_state"]) for e in good] == [
        ("hostdev0", "PRE_COPY", "pre-copy"), ("hostdev0", None, "pre-copy-p2p-prepare"),
        ("hostdev0", "PRE_COPY_P2P", "pre-copy-p2p"), ("hostdev0", "STOP_COPY", "stop-copy"),
        ("hostdev0", "STOP", "stop")]
    assert all(e.name == "qmp_vfio_migration" for e in good)
    assert good[0].ts == pytest.approx(1767225600.1)
    assert good[0].fields["qom_path"] == "/machine/peripheral/hostdev0"
    assert summary.irrelevant == 1                      # the STOP event of the VM
    assert [n for n, _ in summary.unreadable] == [7]    # cut-off JSON


def test_qmp_event_with_unknown_state_is_unreadable() -> None:
    [bad] = qemu.parse_qemu_text(
        '{"event": "VFIO_MIGRATION", "data": {"device-id": "h", "device-state": "odd"}}',
        ORIGIN)
    assert isinstance(bad, Unreadable) and "odd" in bad.reason
