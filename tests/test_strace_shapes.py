"""One hand-written capture per strace option combination (tests/fixtures/strace/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vfio_migcheck.traces.events import (
    UNKNOWN,
    DataClose,
    DataFcntl,
    DataIO,
    DataPoll,
    DataSeek,
    DeviceAccess,
    DeviceClose,
    DeviceOpen,
    DeviceReset,
    FdAppeared,
    FdDup,
    FeatureCall,
    PrecopyInfo,
    ProcessEvent,
    QemuEvent,
    Unreadable,
)
from vfio_migcheck.traces.reading import detect_format, open_trace

HERE = Path(__file__).parent / "fixtures" / "strace"


def read(name: str):
    reading = open_trace(HERE / name)
    events = list(reading.events)
    return reading.summary, events


def of(events, kind):
    return [e for e in events if isinstance(e, kind)]


def assert_accounted(summary, events) -> None:
    lines = set()
    for event in events:
        if not isinstance(event, Unreadable):
            lines.add((event.origin.file, event.origin.line))
            if event.origin.last_line:
                lines.add((event.origin.file, event.origin.last_line))
    # a line may hold readable QEMU records and cut ones: it is then both read and listed
    unreadable = {number for number, _ in summary.unreadable}
    unreadable -= {line for _, line in lines}
    assert len(lines) + summary.irrelevant + len(unreadable) == summary.lines
    assert sum(isinstance(e, Unreadable) for e in events) == len(summary.unreadable)


@pytest.mark.parametrize("name", sorted(p.name for p in HERE.glob("*.strace")))
def test_every_fixture_is_detected_as_strace_and_accounted(name: str) -> None:
    assert detect_format(HERE / name) == "strace"
    summary, events = read(name)
    assert_accounted(summary, events)


def test_stderr_prefixes_unprefixed_main_then_pid_brackets() -> None:
    summary, events = read("stderr_prefixes.strace")
    assert summary.unreadable == []
    (device,) = of(events, DeviceOpen)
    assert (device.device, device.fd) == ("group12/dev0", 5)
    (appeared,) = of(events, FdAppeared)
    assert (appeared.fd, appeared.tid) == (6, 4300)
    assert appeared.device_hint == "group12/dev0"
    attach = [e for e in of(events, ProcessEvent) if e.what == "attach"]
    assert [e.child for e in attach] == [4300]
    # the unprefixed process is known as 4299 once its pid shows up
    (close,) = of(events, DeviceClose)
    assert (close.pid, close.tid) == (4299, 4299)
    # events emitted before that cannot know it (events are never rewritten)
    assert of(events, FeatureCall)[0].pid is None
    # the VMM's stderr text glued before a strace line is skipped, the line is read
    assert any("glued" in note for note in summary.notes)


def test_decode_pids_comm_prefixes() -> None:
    summary, events = read("decode_pids_comm.strace")
    assert summary.unreadable == []
    (feature,) = of(events, FeatureCall)
    assert (feature.tid, feature.pid) == (7002, 7001)
    (io,) = of(events, DataIO)
    assert (io.tid, io.direction, io.requested, io.ret) == (7002, "write", 64, 64)
    assert io.ts == pytest.approx(36000.000006)
    assert of(events, DataClose)[0].tid == 7001


def test_ff_files_merged_by_timestamp_across_midnight() -> None:
    summary, events = read("ff_tt/cap.strace")
    assert summary.lines == 12 and summary.unreadable == []
    (appeared,) = of(events, FdAppeared)
    # 501's read at 00:00:00.1 comes after 500's FEATURE at 23:59:59.9 (next day)
    assert appeared.origin.file.endswith("cap.strace.501")
    assert appeared.tid == 501 and appeared.pid == 500
    assert appeared.ts == pytest.approx(86400.1)
    stamps = [e.ts for e in events]
    assert stamps == sorted(stamps)
    # 502's file starts after midnight: the next day, after 500's lines of 23:59
    exit_502 = [e for e in of(events, ProcessEvent) if e.tid == 502]
    assert exit_502[0].ts == pytest.approx(86400.15)
    assert any("midnight" in note for note in summary.notes)


def test_ff_files_without_timestamps_are_concatenated_with_a_note() -> None:
    summary, events = read("ff_untimed/cap.strace")
    assert any("relative order is unknown" in note for note in summary.notes)
    (appeared,) = of(events, FdAppeared)
    assert appeared.origin.file.endswith("cap.strace.601")
    assert appeared.ts is None


@pytest.mark.parametrize("name, expected", [
    ("timestamps_t.strace", [40953.0, 40954.0, 40955.0]),
    ("timestamps_tt_midnight.strace", [86399.999, 86399.9995, 86400.0005]),
    ("timestamps_ttt_ns.strace", [1767225600.123456789, 1767225600.123457, 1767225600.223457]),
    ("timestamps_r.strace", [0.0, 0.00025, 0.501]),
    ("timestamps_unix_seconds.strace", [1767225600.0, 1767225601.0, 1767225602.0]),
])
def test_timestamp_modes(name: str, expected: list[float]) -> None:
    summary, events = read(name)
    assert summary.unreadable == []
    opened = of(events, DeviceOpen)[0]
    feature = of(events, FeatureCall)[0]
    io = of(events, DataIO)[0]
    assert [opened.ts, feature.ts, io.ts] == pytest.approx(expected, abs=1e-9)


def test_durations_of_dash_T() -> None:
    _summary, events = read("timestamps_ttt_ns.strace")
    assert of(events, FeatureCall)[0].duration == pytest.approx(0.000123456)


def test_yy_decorations_name_devices_and_data_fds() -> None:
    summary, events = read("decorations_yy.strace")
    assert summary.unreadable == [] and summary.notes == []
    (device,) = of(events, DeviceOpen)
    assert (device.device, device.api, device.fd) == ("/dev/vfio/devices/vfio2", "cdev", 3)
    (appeared,) = of(events, FdAppeared)
    assert (appeared.fd, appeared.name) == (9, "anon_inode:mlx5vf_mig")
    # eventfd, pipe, TCP and UNIX sockets are never data fds
    assert [e.fd for e in of(events, DataIO)] == [9]
    assert [e.device for e in of(events, DeviceClose)] == ["/dev/vfio/devices/vfio2"]


@pytest.mark.parametrize("name", ["ioctl_x_raw.strace", "ioctl_x_verbose.strace",
                                  "ioctl_ioc.strace"])
def test_ioctl_requests_in_every_x_style(name: str) -> None:
    summary, events = read(name)
    assert summary.unreadable == []
    assert [e.fd for e in of(events, DeviceOpen)] == [5]
    assert [e.fd for e in of(events, FeatureCall)] == [5]  # not the container's 0x3b75
    assert [e.fd for e in of(events, FdAppeared)] == [6]
    assert [e.fd for e in of(events, PrecopyInfo)] == [6]
    assert [e.fd for e in of(events, DeviceReset)] == [5]


def test_unfinished_resumed_pairs_tags_and_orphans() -> None:
    summary, events = read("unfinished_resumed.strace")
    feature = of(events, FeatureCall)[0]
    assert (feature.origin.line, feature.origin.last_line) == (5, 7)
    read_io = of(events, DataIO)[0]
    assert (read_io.origin.line, read_io.origin.last_line, read_io.ret) == (6, 8, 2)
    (precopy,) = of(events, PrecopyInfo)
    assert (precopy.origin.line, precopy.origin.last_line) == (9, 11)  # the #7 pair
    (reset,) = of(events, DeviceReset)
    assert (reset.origin.line, reset.origin.last_line) == (10, 12)  # the #8 pair
    write = of(events, DataIO)[1]
    assert (write.direction, write.errno, write.origin.last_line) == ("write", "EBADF", 14)
    # orphan resumed line: a diagnostic, not a crash
    assert [line for line, _ in summary.unreadable] == [15]
    assert "without its '<unfinished ...>'" in summary.unreadable[0][1]
    # close(6) never resumed (the thread was killed): outcome unknown
    (close,) = of(events, DataClose)
    assert close.ret is UNKNOWN and close.origin.line == 16
    killed = [e for e in of(events, ProcessEvent) if e.what == "killed"]
    assert [(e.tid, e.signal) for e in killed] == [(201, "SIGKILL")]


def test_signals_exits_and_unknown_results() -> None:
    summary, events = read("signals_exits.strace")
    assert summary.unreadable == []
    process = [(e.what, e.tid, e.signal, e.status) for e in of(events, ProcessEvent)]
    assert process == [
        ("signal", 400, "SIGINT", UNKNOWN), ("signal", 400, "SIGCHLD", UNKNOWN),
        ("signal", 400, "SIGSTOP", UNKNOWN), ("signal", 400, "SIGRT_1", UNKNOWN),
        ("exit", 401, None, 3),
        ("killed", 402, "SIGSEGV", UNKNOWN), ("exit", 400, None, 0),
    ]


def test_fork_copies_the_table_and_exec_closes_cloexec_fds() -> None:
    summary, events = read("fork_exec_cloexec.strace")
    assert summary.unreadable == []
    reads = of(events, DataIO)
    # the child reads the inherited data fd before its exec, not after
    assert [(e.pid, e.ret) for e in reads] == [(10, 4096), (11, 4096), (10, 0)]
    assert len(of(events, FdAppeared)) == 1
    # the child's exec closed only its copy: no DataClose for it
    assert [(e.fd, e.how, e.pid) for e in of(events, DataClose)] == [(6, "close", 10)]
    # the parent's exec closes the O_CLOEXEC device fd
    assert [(e.fd, e.how) for e in of(events, DeviceClose)] == [(5, "exec")]
    clone = [e for e in of(events, ProcessEvent) if e.what == "clone"]
    assert [(e.child, e.thread) for e in clone] == [(11, False)]


def test_dup_family_and_close_range() -> None:
    summary, events = read("dup_close_range.strace")
    assert summary.unreadable == []
    dups = [(e.old_fd, e.new_fd, e.call) for e in of(events, FdDup)]
    assert dups == [(6, 20, "fcntl"), (6, 7, "dup"), (7, 9, "dup2"), (5, 12, "dup3")]
    files = {e.file for e in of(events, FdDup)[:3]}
    assert files == {of(events, FdAppeared)[0].file}  # one open file description
    assert [e.fd for e in of(events, DataIO)] == [9]
    closes = [(e.fd, e.how) for e in of(events, DataClose)]
    assert closes == [(6, "close"), (7, "close_range"), (9, "close_range"),
                      (20, "close_range")]
    assert [(e.fd, e.how) for e in of(events, DeviceClose)] == [(12, "close_range")]
    # fd 6 reused for a plain file after the data fd was closed: no new candidate
    assert len(of(events, FdAppeared)) == 1


def test_qemu_trace_lines_inside_stderr_writes() -> None:
    summary, events = read("qemu_stderr.strace")
    assert summary.unreadable == []
    qemu = of(events, QemuEvent)
    assert [(e.name, e.device, e.state) for e in qemu] == [
        ("migration_set_state", "0000:3b:00.1", "STOP_COPY"),
        ("save_cleanup", "0000:3b:00.1", None),
        ("vmstate_change", "0000:3b:00.1", "STOP_COPY"),
    ]
    assert qemu[0].recover == "ERROR"
    assert [e.origin.line for e in qemu] == [1, 3, 4]
    assert all(e.pid == 4242 and e.ts is not None for e in qemu)


def test_qemu_trace_lines_cut_by_dash_s() -> None:
    summary, events = read("qemu_stderr_cut.strace")
    # a record cut in the middle: the line is unreadable, with the reason and the remedy
    assert [line for line, _ in summary.unreadable] == [1, 2]
    assert "larger -s" in summary.unreadable[0][1]
    # a payload with one whole record and one cut: the whole one is kept, the cut one is
    # listed in the summary like every other unreadable record
    assert sum(isinstance(e, Unreadable) for e in events) == len(summary.unreadable)
    assert [(e.name, e.origin.line) for e in of(events, QemuEvent)] == [("save_setup", 2)]
    assert any("raise strace -s" in note for note in summary.notes)


def test_wrapper_text_before_first_line_and_garbage_after() -> None:
    summary, events = read("wrapper_text.strace")
    assert [line for line, _ in summary.unreadable] == [7]
    assert any("wrapper text" in note for note in summary.notes)
    assert any("strace -c" in note for note in summary.notes)  # the count table at the end
    assert [e.what for e in of(events, ProcessEvent)] == ["exit"]


def test_poll_epoll_seek_positioned_and_mmap() -> None:
    summary, events = read("poll_epoll.strace")
    assert summary.unreadable == []
    polls = [(e.call, e.ready) for e in of(events, DataPoll)]
    assert polls == [("poll", True), ("ppoll", False), ("pselect6", True),
                     ("epoll_ctl(EPOLL_CTL_ADD)", UNKNOWN), ("epoll_wait", True),
                     ("epoll_wait", False)]
    (fcntl,) = of(events, DataFcntl)
    assert (fcntl.cmd, fcntl.ret) == ("F_GETFL", 0x802)
    (seek,) = of(events, DataSeek)
    assert seek.errno == "ESPIPE"
    pread, readv, *splice = of(events, DataIO)
    assert pread.positioned and pread.errno == "ESPIPE"
    assert (readv.call, readv.requested, readv.positioned) == ("readv", 16, False)
    assert [(e.fd, e.direction) for e in splice] == [(6, "read"), (8, "write")]
    (mmap,) = of(events, DeviceAccess)
    assert (mmap.call, mmap.fd) == ("mmap", 5)


def test_attached_mid_session_learns_fds_from_their_ioctls() -> None:
    summary, events = read("attach_midsession.strace")
    # the capture began inside a KVM_RUN: its resumed half is a diagnostic
    assert [line for line, _ in summary.unreadable] == [2]
    (appeared,) = of(events, FdAppeared)
    # PRECOPY_INFO is only accepted by a data fd: no FEATURE needed to know it
    assert (appeared.fd, appeared.after_feature, appeared.origin.line) == (31, None, 5)
    # fd 22 was first seen in a plain pread64; its FEATURE ioctl shows it is a device
    (device,) = of(events, DeviceOpen)
    assert (device.device, device.fd, device.origin.line) == ("vfio-device@fd22", 22, 7)
    assert [e.origin.line for e in of(events, FeatureCall)] == [7, 10]
    assert [(e.errno, e.ret) for e in of(events, DataIO)] == [(None, 1048576), ("ENOMSG", -1)]
    assert [e.what for e in of(events, ProcessEvent)] == ["attach", "detach"]


def test_bad_bytes_are_unreadable_lines_with_reasons(tmp_path) -> None:
    good = b'7     read(3, "x", 1) = 1\n'
    capture = tmp_path / "bad.strace"
    capture.write_bytes(good + b"7     read(3, \"\xff\xfe\", 2) = 2\n" + good
                        + b"7     write(1, \"a\0b\", 3) = 3\n" + b"x" * (1 << 20 | 5) + b"\n"
                        + good + b"7     ioctl(5, VFIO_DEV")
    reading = open_trace(capture, "strace")
    events = list(reading.events)
    reasons = dict(reading.summary.unreadable)
    assert sorted(reasons) == [2, 4, 5, 7]
    assert "invalid UTF-8" in reasons[2] and "NUL" in reasons[4]
    assert "longer than" in reasons[5] and "truncated final line" in reasons[7]
    assert reading.summary.lines == 7
    assert len(of(events, Unreadable)) == 4


def test_advice_for_missing_strace_options(tmp_path) -> None:
    capture = tmp_path / "no_f.strace"
    capture.write_text(
        'openat(AT_FDCWD, "/dev/vfio/devices/vfio0", O_RDWR|O_CLOEXEC) = 3\n'
        "clone3({flags=CLONE_VM|CLONE_FILES|CLONE_THREAD, exit_signal=0}, 88) = 77\n"
        "ioctl(3, VFIO_DEVICE_FEATURE or VFIO_IOMMU_DIRTY_PAGES, 0x7f) = 0\n"
        'read(4, ""..., 16) = 16\n')
    reading = open_trace(capture, "strace")
    list(reading.events)
    notes = " | ".join(reading.summary.notes)
    assert "no timestamps" in notes and "without strace -f" in notes and "no -y" in notes
    _summary, _events = read("decorations_yy.strace")
    assert _summary.notes == []  # -f -ttt -T -yy: nothing to advise


def test_sniff_scores_strace_and_not_other_formats() -> None:
    from vfio_migcheck.traces.strace.reader import sniff

    assert sniff((HERE / "poll_epoll.strace").read_text().splitlines()) >= 0.9
    assert sniff((HERE / "ff_tt" / "cap.strace.501").read_text().splitlines()) >= 0.9
    assert sniff(["vfio_migration_set_state  (0000:3b:00.1) new state STOP_COPY, recover "
                  "state ERROR", "vfio_save_cleanup  (0000:3b:00.1)"]) == 0.0
    assert sniff(["# vmc-trace 1", "@1.0 [5] device group0/dev0 fd=5 api=group"]) == 0.0
    assert sniff([]) == 0.0


def test_reading_is_lazy(tmp_path) -> None:
    capture = tmp_path / "big.strace"
    head = (HERE / "decorations_yy.strace").read_text()
    filler = "300   1767225600.000100 futex(0x5601b0, FUTEX_WAKE_PRIVATE, 1) = 0 <0.000010>\n"
    capture.write_text(head + filler * 60000)
    reading = open_trace(capture, "strace")
    first = next(reading.events)
    assert isinstance(first, DeviceOpen)
    assert reading.summary.lines < 60000  # the rest of the file is not read yet
    rest = list(reading.events)
    assert reading.summary.lines == 60013 and reading.summary.irrelevant >= 60000
    assert rest


def test_group_device_names_reuse_the_lowest_free_index() -> None:
    summary, events = read("group_device_names.strace")
    assert summary.unreadable == []
    opened = [(e.device, e.fd) for e in of(events, DeviceOpen)]
    assert opened == [
        ("group9/dev0", 5), ("group9/dev1", 6),
        ("group9/dev2", 5),  # dev0 is still open through its dup (fd 7)
        ("group9/dev0", 7),  # ... and free again once fd 7 is closed
        ("group@fd9/dev0", 8),  # a group fd whose open the capture does not show
    ]
    assert [(e.device, e.fd) for e in of(events, DeviceClose)] == [
        ("group9/dev0", 5), ("group9/dev0", 7)]


def test_execve_in_a_non_leader_thread_resumes_under_the_leader() -> None:
    summary, events = read("thread_execve.strace")
    assert summary.unreadable == []
    (exec_event,) = [e for e in of(events, ProcessEvent) if e.what == "exec"]
    # "<pid changed to 200 ...>" on 201, "superseded", then "200 <... execve resumed>"
    assert (exec_event.origin.line, exec_event.origin.last_line, exec_event.tid) == (6, 9, 200)
    assert [(e.fd, e.how) for e in of(events, DeviceClose)] == [(5, "exec")]


def test_hex_dumps_and_stack_traces_under_calls_are_irrelevant() -> None:
    summary, _events = read("dumps_and_stacks.strace")
    assert summary.unreadable == [] and summary.irrelevant == 4
    assert any("hex dumps" in n for n in summary.notes)
    assert any("stack traces" in n for n in summary.notes)


def test_fds_returned_inside_ioctl_replies_are_not_data_fds() -> None:
    # KVM_CREATE_DEVICE returns its fd in the struct ("=> {fd=6}"), after a FEATURE call
    summary, events = read("kvm_device_fd.strace")
    assert summary.unreadable == []
    assert of(events, FdAppeared) == [] and of(events, DataIO) == []
    assert len(of(events, FeatureCall)) == 1


def test_qemu_device_names_are_linked_at_realize() -> None:
    summary, events = read("qemu_two_devices.strace")
    assert summary.unreadable == []
    named = [(e.name, e.device, e.fields.get("qemu_device")) for e in of(events, QemuEvent)]
    assert named == [
        ("migration_realize", "group40/dev0", "0000:3b:00.0"),
        ("migration_realize", "/dev/vfio/devices/vfio3", "0000:3b:00.1"),
        ("migration_set_state", "group40/dev0", "0000:3b:00.0"),
        ("migration_set_state", "/dev/vfio/devices/vfio3", "0000:3b:00.1"),
        ("migration_set_state", "0000:3b:00.2", None),  # never realized in the capture
    ]


def test_linked_qemu_records_are_whole_events() -> None:
    # link_qemu_device builds the renamed record without the frozen __init__: it must
    # hold exactly the fields that dataclasses.replace would have set
    from dataclasses import fields, replace

    _summary, events = read("qemu_two_devices.strace")
    linked = [e for e in of(events, QemuEvent) if "qemu_device" in e.fields]
    assert len(linked) == 4
    for event in linked:
        assert type(event) is QemuEvent
        assert set(event.__dict__) == {f.name for f in fields(QemuEvent)}
        again = replace(event)
        assert again == event and again.__dict__ == event.__dict__
