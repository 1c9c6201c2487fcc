"""The canonical reader: every statement kind, file identities, accounting and errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from vfio_migcheck.traces.canonical import syntax as canonical
from vfio_migcheck.traces.canonical.reader import read, read_text, sniff
from vfio_migcheck.traces.events import (
    UNKNOWN,
    DataClose,
    DataFcntl,
    DataIO,
    DataIoctl,
    DataPoll,
    DataSeek,
    DeviceAccess,
    DeviceClose,
    DeviceOpen,
    DeviceReset,
    FdAppeared,
    FdDup,
    FeatureCall,
    Origin,
    PrecopyInfo,
    ProcessEvent,
    QemuEvent,
    ReadSummary,
    Unreadable,
)

DECL = "device src fd=5 flags=0x7\n"


def events(text: str, summary: ReadSummary | None = None) -> list:
    return list(read_text(text, file="t.vmc", summary=summary))


def one(line: str, prelude: str = DECL):
    """The event of the last line of ``prelude + line``."""
    evs = events(prelude + line)
    assert evs[-1].origin.line == (prelude + line).count("\n") + 1
    return evs[-1]


# --- declarations and decorations ---------------------------------------------------------


def test_device_declaration_with_every_key() -> None:
    ev = one('device "0000:3b:00.1" fd=31 flags=STOP_COPY|P2P state=vfio_device_state_stop '
             "path=/dev/vfio/devices/vfio0 api=cdev driver=mlx5-vfio-pci", prelude="")
    assert ev == DeviceOpen(Origin("t.vmc", 1), device="0000:3b:00.1", fd=31, flags=3,
                            state="STOP", path="/dev/vfio/devices/vfio0", api="cdev",
                            driver="mlx5-vfio-pci")


def test_device_declaration_defaults_are_unknown() -> None:
    ev = one("device d", prelude="")
    assert (ev.fd, ev.flags, ev.state, ev.path, ev.api, ev.driver) == (UNKNOWN,) * 6


def test_decorations_timestamp_threads_duration_and_comment() -> None:
    ev = one("@1767225600.100400 [4242/4250] src RESET = 0 <0.000210>  # after a failure")
    assert (ev.ts, ev.pid, ev.tid, ev.duration) == (1767225600.1004, 4242, 4250, 0.00021)
    assert one("[77] src RESET = 0").tid == 77
    ev = one("[77/-] src RESET = 0")
    assert (ev.pid, ev.tid) == (77, None)
    assert ev.text == "[77/-] src RESET = 0"


# --- feature calls --------------------------------------------------------------------------


def test_set_state_with_reply_creates_a_data_fd() -> None:
    ev = one("src SET STATE pre_copy argsz=16 rawflags=0x20002 = 0 data_fd=6 state=PRE_COPY")
    assert isinstance(ev, FeatureCall)
    assert (ev.device, ev.fd, ev.op, ev.feature) == ("src", 5, "SET", "MIG_DEVICE_STATE")
    assert (ev.target, ev.reply_state, ev.data_fd) == ("PRE_COPY", "PRE_COPY", 6)
    assert (ev.argsz, ev.raw_flags, ev.ret, ev.errno) == (16, 0x20002, 0, None)
    assert (ev.mig_flags, ev.data_size, ev.probe_ops) == (None, None, None)
    read_ev = one("fd 6 read 16 = 16", prelude=DECL + "src SET STATE PRE_COPY = 0 data_fd=6\n")
    assert read_ev.file == "src:fd6#1"


def test_set_state_accepts_numbers_and_keeps_out_of_range_ones() -> None:
    assert one("src SET STATE 6 = 0").target == "PRE_COPY"
    assert one("src SET STATE 8 = -1 EINVAL").target == 8
    assert one("src SET STATE ? = 0").target is UNKNOWN
    assert one("src SET STATE target=STOP = 0").target == "STOP"


def test_get_features_fill_only_their_fields() -> None:
    mig = one("src GET MIGRATION = 0 flags=STOP_COPY|PRE_COPY")
    assert (mig.feature, mig.mig_flags, mig.target, mig.data_fd) == ("MIGRATION", 5, None, None)
    size = one("src GET mig_data_size = 0 size=96")
    assert (size.feature, size.data_size, size.reply_state) == ("MIG_DATA_SIZE", 96, None)
    state = one("src GET VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE = 0 state=RUNNING data_fd=-1")
    assert (state.reply_state, state.data_fd, state.target) == ("RUNNING", -1, None)
    left_out = one("src GET STATE = 0")
    assert (left_out.reply_state, left_out.data_fd) == (None, None)
    marked = one("src GET STATE = 0 state=? data_fd=?")
    assert (marked.reply_state, marked.data_fd) == (UNKNOWN, UNKNOWN)


def test_probe_ops() -> None:
    assert one("src PROBE STATE GET|SET = 0").probe_ops == ("GET", "SET")
    assert one("src PROBE DMA_LOGGING_START SET = 0").probe_ops == ("SET",)
    assert one("src PROBE MIGRATION NONE = 0").probe_ops == ()
    assert one("src PROBE MIGRATION ops=? = 0").probe_ops is UNKNOWN
    assert one("src PROBE MIGRATION = 0").probe_ops is None


def test_dma_logging_features() -> None:
    for name in ("DMA_LOGGING_START", "DMA_LOGGING_STOP", "DMA_LOGGING_REPORT"):
        ev = one(f"src SET {name} = 0")
        assert ev.feature == name
        assert all(getattr(ev, f) is None for f in canonical.PAYLOAD_FIELDS)


def test_unknown_op_or_feature_makes_possible_payload_unknown() -> None:
    ev = one("src ? ? = 0")
    assert (ev.op, ev.feature) == (UNKNOWN, UNKNOWN)
    assert all(getattr(ev, f) is UNKNOWN for f in canonical.PAYLOAD_FIELDS)
    ev = one("src SET ? = 0")
    assert (ev.target, ev.reply_state, ev.data_fd) == (UNKNOWN,) * 3
    assert (ev.mig_flags, ev.data_size, ev.probe_ops) == (None,) * 3
    ev = one("src ? MIGRATION = 0")
    assert (ev.mig_flags, ev.probe_ops, ev.target) == (UNKNOWN, UNKNOWN, None)
    ev = one("src ? ? = 0 target=- data_fd=7")
    assert (ev.target, ev.data_fd) == (None, 7)


def test_results() -> None:
    assert (one("src RESET = 0").ret, one("src RESET = 0").errno) == (0, None)
    ev = one("src RESET = -1 EBUSY")
    assert (ev.ret, ev.errno) == (-1, "EBUSY")
    ev = one("src RESET = -1 ?")
    assert (ev.ret, ev.errno) == (-1, UNKNOWN)
    ev = one("src RESET = ?")
    assert (ev.ret, ev.errno) == (UNKNOWN, UNKNOWN)
    ev = one("src RESET = ? ERESTARTSYS")
    assert (ev.ret, ev.errno) == (UNKNOWN, "ERESTARTSYS")
    ev = one("src RESET = ? -")
    assert (ev.ret, ev.errno) == (UNKNOWN, None)
    assert one("fd 6 fcntl F_GETFL = 0x8001").ret == 0x8001


def test_leading_zeros_are_decimal_everywhere() -> None:
    ev = one("[007/010] src SET STATE 006 = 010")
    assert (ev.tid, ev.pid, ev.target, ev.ret) == (10, 7, "PRE_COPY", 10)
    assert one("device d flags=007", prelude="").flags == 7


def test_device_statements_on_another_fd_of_the_device() -> None:
    assert one("src RESET fd=12 = 0").fd == 12
    assert one("src SET STATE STOP fd=12 = 0").fd == 12
    assert one("src close fd=? how=close_range = 0").fd is UNKNOWN
    assert one("src access mmap = 0").fd == 5


def test_device_reset_access_close() -> None:
    assert isinstance(one("src RESET = 0"), DeviceReset)
    acc = one("src access pwrite64 = 1")
    assert isinstance(acc, DeviceAccess) and (acc.call, acc.fd, acc.ret) == ("pwrite64", 5, 1)
    close = one("src close = 0")
    assert isinstance(close, DeviceClose) and close.how == "close"
    assert one("src close how=exit = ?").how == "exit"


# --- data fds -----------------------------------------------------------------------------


SESSION = DECL + "src SET STATE PRE_COPY = 0 data_fd=6\n"


@pytest.mark.parametrize("call,direction,positioned", [
    ("read", "read", False), ("readv", "read", False), ("pread64", "read", True),
    ("preadv", "read", True), ("preadv2", "read", True), ("write", "write", False),
    ("writev", "write", False), ("pwrite64", "write", True), ("pwritev", "write", True),
    ("pwritev2", "write", True),
])
def test_io_family(call: str, direction: str, positioned: bool) -> None:
    ev = one(f"fd 6 {call} 4096 = -1 ESPIPE", prelude=SESSION)
    assert isinstance(ev, DataIO)
    assert (ev.call, ev.direction, ev.positioned, ev.requested) == (
        call, direction, positioned, 4096)
    assert (ev.fd, ev.file, ev.ret, ev.errno) == (6, "src:fd6#1", -1, "ESPIPE")


def test_io_with_unknown_count_and_other_calls() -> None:
    assert one("fd 6 read ? = ?", prelude=SESSION).requested is UNKNOWN
    ev = one("fd 6 read 4096 call=splice = 4096", prelude=SESSION)
    assert (ev.call, ev.direction, ev.positioned) == ("splice", "read", False)
    assert one("fd 6 write 1 positioned=yes = 1", prelude=SESSION).positioned is True


def test_fd_operations_are_case_insensitive() -> None:
    assert isinstance(one("fd 6 PRECOPY_INFO = 0", prelude=SESSION), PrecopyInfo)
    assert one("fd 6 Read 4 = 4", prelude=SESSION).call == "read"


def test_other_fd_statements() -> None:
    info = one("fd 6 precopy_info argsz=24 = 0 initial=24 dirty=0", prelude=SESSION)
    assert isinstance(info, PrecopyInfo)
    assert (info.argsz, info.initial_bytes, info.dirty_bytes, info.file) == (
        24, 24, 0, "src:fd6#1")
    assert one("fd 6 precopy_info = -1 EINVAL", prelude=SESSION).initial_bytes is UNKNOWN
    poll = one("fd 6 ppoll = 1 ready=yes", prelude=SESSION)
    assert isinstance(poll, DataPoll) and (poll.call, poll.ready) == ("ppoll", True)
    assert one("fd 6 poll = 0", prelude=SESSION).ready is UNKNOWN
    seek = one("fd 6 lseek = -1 ESPIPE", prelude=SESSION)
    assert isinstance(seek, DataSeek) and (seek.call, seek.errno) == ("lseek", "ESPIPE")
    fcntl = one("fd 6 fcntl F_SETFL = 0", prelude=SESSION)
    assert isinstance(fcntl, DataFcntl) and fcntl.cmd == "F_SETFL"
    ioctl = one('fd 6 ioctl "VFIO_EEH_PE_OP or X" = -1 ENOTTY', prelude=SESSION)
    assert isinstance(ioctl, DataIoctl) and ioctl.request == "VFIO_EEH_PE_OP or X"
    close = one("fd 6 close = 0", prelude=SESSION)
    assert isinstance(close, DataClose) and (close.file, close.how) == ("src:fd6#1", "close")


def test_generations_and_dup_share_identity() -> None:
    text = SESSION + (
        "fd 6 dup = 9\n"
        "fd 6 close = 0\n"
        "fd 9 read 8 = 8\n"
        "fd 6 dup2 9 = 9\n"  # 6 is closed: an unaccounted fd, noted
        "src SET STATE RUNNING = 0 data_fd=-1\n"
        "src SET STATE RESUMING = 0 data_fd=6\n"
        "fd 6 write 8 = 8\n"
    )
    summary = ReadSummary()
    evs = events(text, summary)
    dup, close, read9, dup2, _, _, write6 = evs[2:]
    assert isinstance(dup, FdDup) and (dup.old_fd, dup.new_fd, dup.file) == (6, 9, "src:fd6#1")
    assert close.file == "src:fd6#1" and read9.file == "src:fd6#1"
    assert dup2.file == "fd6#2" and dup2.call == "dup2"
    assert write6.file == "src:fd6#3"
    assert any("fd 6 is used but no SET STATE reply" in n and "t.vmc:6" in n
               for n in summary.notes)


def test_fd_statements_on_the_device_fd_name_the_device() -> None:
    summary = ReadSummary()
    evs = events(DECL + "fd 5 precopy_info = -1 ENOTTY\nfd 5 dup = 12\nsrc close fd=12 = 0\n"
                 "src close = 0\nfd 5 read 1 = 1\n", summary)
    info, dup, _, _, after = evs[1:]
    assert info.file == dup.file == "src"
    assert after.file == "fd5#1"  # the device fd was closed: a new, unaccounted file
    assert len(summary.notes) == 1 and "t.vmc:6: fd 5" in summary.notes[0]


def test_fd_without_creator_is_read_and_noted() -> None:
    summary = ReadSummary()
    ev = events("fd 12 read 4 = 4\nfd 12 read 4 = 0\n", summary)
    assert [e.file for e in ev] == ["fd12#1", "fd12#1"]
    assert len(summary.notes) == 1 and "t.vmc:1: fd 12" in summary.notes[0]


def test_appeared_opens_a_file_without_a_note() -> None:
    summary = ReadSummary()
    evs = events('fd 7 appeared name=anon_inode:mtty_mig after="save.strace:120-122" '
                 "device=src\nfd 7 read 1 = 1\n", summary)
    app, io = evs
    assert isinstance(app, FdAppeared)
    assert (app.name, app.after_feature, app.device_hint) == (
        "anon_inode:mtty_mig", Origin("save.strace", 120, 122), "src")
    assert app.file == io.file == "src:fd7#1"
    assert summary.notes == []


def test_failed_set_with_data_fd_creates_nothing() -> None:
    summary = ReadSummary()
    events(DECL + "src SET STATE PRE_COPY = -1 EINVAL data_fd=6\nfd 6 read 1 = 1\n", summary)
    assert any("failed SET" in n for n in summary.notes)
    assert any("fd 6 is used" in n for n in summary.notes)


# --- qemu and process ---------------------------------------------------------------------


def test_qemu_set_state_is_normalised() -> None:
    ev = one("qemu 0000:3b:00.1 vfio_migration_set_state new=stop_copy recover=STOP count=3 "
             'label="7" note=? reason=finish-migrate', prelude="")
    assert isinstance(ev, QemuEvent)
    assert (ev.device, ev.name, ev.state, ev.recover) == (
        "0000:3b:00.1", "migration_set_state", "STOP_COPY", "STOP")
    assert ev.fields == {"new": "stop_copy", "recover": "STOP", "count": 3, "label": "7",
                         "note": UNKNOWN, "reason": "finish-migrate"}
    v1 = one("qemu dev migration_set_state state=4", prelude="")
    assert v1.state is None and v1.fields == {"state": 4}


def test_process_events() -> None:
    ev = one("[4242] process clone child=4250 thread=yes", prelude="")
    assert ev == ProcessEvent(Origin("t.vmc", 1), what="clone", child=4250, thread=True,
                              tid=4242)
    ev = one("process killed signal=SIGKILL status=?", prelude="")
    assert (ev.what, ev.signal, ev.status, ev.child) == ("killed", "SIGKILL", UNKNOWN, None)
    assert one("process exit status=0", prelude="").status == 0


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("line,reason", [
    ("src SET STATE foo = 0", "column 15: unknown state 'foo'"),
    ("dst GET STATE = 0", "column 1: device 'dst' is used before its declaration"),
    ("src GET STATE = 0 flags=7", "column 19: GET STATE has no key flags="),
    ("src GET STATE = 0 state=STOP state=STOP", "column 30: key state= is given twice"),
    ("src SET STATE STOP", "column 19: expected '= RESULT' or key=value, found the end"),
    ("src SET STATE = 0", "column 15: SET STATE needs the target state"),
    ("src GET BOGUS = 0", "column 9: unknown feature 'BOGUS'"),
    ("src GET MIGRATION STOP = 0", "column 19: GET MIGRATION takes no argument"),
    ("src FROB STATE = 0", "column 5: expected GET, SET or PROBE"),
    ("fd 6 frob 1 = 0", "column 6: unknown fd operation 'frob'"),
    ("fd 6 read = 0", "column 11: read needs the requested byte count"),
    ("fd 6 read 1 2 = 0", "column 13: read takes no further argument"),
    ("fd 6 dup = -1 EBADF", "column 10: dup must show the new fd"),
    ("fd 6 dup2 9 = 8", "column 11: dup2 to fd 9 returned 8"),
    ("fd 6 ioctl = 0", "column 12: ioctl needs its request"),
    ("fd ? close = 0", "column 4: expected a number, found '?'"),
    ("fd 6 close how=later = 0", "column 16: how= must be one of"),
    ("fd 6 poll = 1 ready=maybe", "column 21: ready must be yes or no"),
    ("process spawn", "column 9: unknown process event 'spawn'"),
    ("device fd", "column 8: 'fd' is a keyword"),
    ("device x api=pci", "column 14: api= must be group, cdev or ?"),
    ("device x flags=TURBO", "column 16: unknown flag 'TURBO'"),
    ("src RESET = 0 junk", "column 15: expected"),
    ("hello world", "column 7: expected GET, SET or PROBE"),
    ("= 0", "column 1: expected a statement"),
    ("src PROBE STATE GET|FOO = 0", "column 17: PROBE ops must be"),
    ("@1e999 src RESET = 0", "column 1: timestamp '@1e999' is not a finite number"),
    ("src RESET = 0 <1e999>", "column 15: duration '<1e999>' is not a finite number"),
    ('fd 7 appeared after="nowhere"', "column 21: after= must be FILE:LINE"),
])
def test_bad_lines_are_unreadable_with_column_and_reason(line: str, reason: str) -> None:
    summary = ReadSummary()
    evs = events(DECL + line + "\n", summary)
    bad = evs[-1]
    assert isinstance(bad, Unreadable)
    assert bad.origin == Origin("t.vmc", 2) and bad.text == line
    assert bad.reason.startswith(reason), bad.reason
    assert summary.unreadable == [(2, bad.reason)]
    assert (summary.lines, summary.events) == (2, 1)


def test_a_bad_line_does_not_change_the_trace_state() -> None:
    summary = ReadSummary()
    evs = events(DECL + "src SET STATE PRE_COPY = 0 data_fd=6 bogus=1\nfd 6 read 1 = 1\n",
                 summary)
    assert isinstance(evs[1], Unreadable)
    assert evs[2].file == "fd6#1" and any("fd 6 is used" in n for n in summary.notes)


def test_accounting_and_bad_bytes(tmp_path: Path) -> None:
    trace = tmp_path / "t.vmc"
    trace.write_bytes(b"# vmc-trace 1\n\n" + DECL.encode() + b"src RESET = 0\n"
                      b"src RESET = \xff\nsrc RESET\x00 = 0\nsrc RESET = 0")
    summary = ReadSummary()
    evs = list(read([trace], summary))
    assert (summary.lines, summary.events, summary.irrelevant) == (7, 3, 2)
    assert [n for n, _ in summary.unreadable] == [5, 6]
    assert "invalid UTF-8" in summary.unreadable[0][1]
    assert "NUL byte" in summary.unreadable[1][1]
    assert [type(e) for e in evs] == [DeviceOpen, DeviceReset, Unreadable, Unreadable,
                                      DeviceReset]
    assert summary.lines == summary.events + summary.irrelevant + len(summary.unreadable)


def test_several_files_are_one_trace(tmp_path: Path) -> None:
    first, second = tmp_path / "a.vmc", tmp_path / "b.vmc"
    first.write_text(DECL + "src SET STATE STOP_COPY = 0 data_fd=6\n")
    second.write_text("fd 6 read 4 = 0\n")
    summary = ReadSummary()
    evs = list(read([first, second], summary))
    assert evs[-1].file == "src:fd6#1" and evs[-1].origin == Origin(str(second), 1)
    assert summary.notes == []


# --- detection ------------------------------------------------------------------------------


def test_sniff() -> None:
    assert sniff(["# vmc-trace 1"]) == 1.0
    assert sniff(["device a fd=3", "a RESET = 0"]) == pytest.approx(0.95)
    assert sniff(["device a", "garbage here"]) == pytest.approx(0.475)
    strace = ['212   18:21:25.847924 ioctl(3</dev/vfio/vfio>, VFIO_GET_API_VERSION, 0) = 0']
    assert sniff(strace) == 0.0
    qemu = ["vfio_migration_set_state  (0000:3b:00.1) new state STOP_COPY, recover state STOP"]
    assert sniff(qemu) == 0.0
    assert sniff([]) == 0.0
