"""The eBPF capture format (vfio-mig.bt output): syntax, decoding tables, the reader's fd
tables, gaps, auto-detection, and its equivalence with the canonical reader (hypothesis)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vfio_migcheck.checker.api import check_events
from vfio_migcheck.conformance.bpftrace_check import call_view, compare_calls
from vfio_migcheck.conformance.strace_check import CALL_KINDS
from vfio_migcheck.traces.bpftrace import decode
from vfio_migcheck.traces.bpftrace.reader import read_text
from vfio_migcheck.traces.bpftrace.syntax import (
    Chatter,
    Header,
    Lost,
    Record,
    SyntaxProblem,
    format_record,
    parse_line,
)
from vfio_migcheck.traces.canonical import reader as canonical
from vfio_migcheck.traces.canonical.syntax import FEATURES as CANONICAL_FEATURES
from vfio_migcheck.traces.events import UNKNOWN, ReadSummary
from vfio_migcheck.traces.reading import detect_format, open_trace

STATES = ("ERROR", "STOP", "RUNNING", "STOP_COPY", "RESUMING", "RUNNING_P2P", "PRE_COPY",
          "PRE_COPY_P2P")
HEAD = "vfio-mig-bt 1 attached ts=1000 pids=100,0,0,0,0,0,0,0"
END = "vfio-mig-bt 1 end ts=999999"
OPEN = ("2000 100 100 50 open path=/dev/vfio/0 oflags=0x80002 ret=4\n"
        "2100 100 100 50 getfd group=4 name=dev ret=5\n")


def feature(ts: int, flags: int, *, fd: int = 5, argsz: int = 16, w_in: int = 0,
            w_out: int | None = None, ret: int = 0) -> str:
    out = w_in if w_out is None else w_out
    return (f"{ts} 100 100 50 feature fd={fd} argsz={argsz} flags={flags:#x} "
            f"in={w_in:#x},0x0 out={out:#x},0x0 ret={ret}")


def set_state(ts: int, state: int, data_fd: int = -1, ret: int = 0) -> str:
    word = ((data_fd & 0xFFFFFFFF) << 32) | state
    return feature(ts, 0x20002, w_in=(0xFFFFFFFF << 32) | state, w_out=word, ret=ret)


def trace(*lines: str, head: bool = True, end: bool = True) -> str:
    body = [HEAD] if head else []
    body.append(OPEN.rstrip("\n"))
    body.extend(lines)
    if end:
        body.append(END)
    return "\n".join(body) + "\n"


def events_of(text: str, summary: ReadSummary | None = None):
    return list(read_text(text, "cap.bpftrace", summary))


# --- syntax -------------------------------------------------------------------------------


def test_line_shapes() -> None:
    assert parse_line(HEAD) == Header(1, "attached", {"ts": "1000",
                                                      "pids": "100,0,0,0,0,0,0,0"})
    assert parse_line("Lost 12 events") == Lost(12)
    assert parse_line("Attaching 51 probes...") == Chatter()
    rec = parse_line("5 1 2 3 read fd=6 count=16 ret=-11")
    assert isinstance(rec, Record)
    assert (rec.ts_ns, rec.pid, rec.tid, rec.dur_ns, rec.call) == (5, 1, 2, 3, "read")
    assert rec.fields == {"fd": "6", "count": "16", "ret": "-11"}
    assert format_record(rec) == "5 1 2 3 read fd=6 count=16 ret=-11"


@pytest.mark.parametrize("text, column", [
    ("junk here", 1), ("1 2 3", None), ("1 2 3 4 read fd=1 fd=2", 19),
    ("1 2 -3 4 read fd=1", 5), ("1 2 3 4 Read fd=1", 9),
])
def test_bad_lines_name_a_column(text: str, column: int | None) -> None:
    with pytest.raises(SyntaxProblem) as info:
        parse_line(text)
    if column is not None:
        assert info.value.column == column


@given(st.text(max_size=80))
@settings(max_examples=300, deadline=None)
def test_any_text_is_read_or_reported(text: str) -> None:
    """No line crashes the reader: each is an event, irrelevant, or unreadable."""
    summary = ReadSummary(format="bpftrace")
    lines = text.replace("\r", " ").split("\n")
    list(read_text("\n".join(lines) + "\n", "x", summary))
    assert summary.lines == len(lines)
    assert summary.irrelevant + len(summary.unreadable) + min(summary.events, 1) >= 1 or \
        summary.lines == 0


# --- decoding tables ------------------------------------------------------------------------


def test_feature_table_matches_vfio_h() -> None:
    assert decode.FEATURES[1] == "MIGRATION" and decode.FEATURES[2] == "MIG_DEVICE_STATE"
    assert decode.FEATURES[6] == "DMA_LOGGING_START" and decode.FEATURES[9] == "MIG_DATA_SIZE"
    assert decode.feature_name(0x1000c) == "FEATURE_12"
    assert set(decode.FEATURES.values()) <= set(CANONICAL_FEATURES)


@pytest.mark.parametrize("flags, op", [
    (0x10002, "GET"), (0x20002, "SET"), (0x40002, "PROBE"), (0x70002, "PROBE"),
    (0x30002, UNKNOWN), (0x00002, UNKNOWN),
])
def test_feature_op(flags: int, op) -> None:
    assert decode.feature_op(flags) == op


def test_mig_state_payload() -> None:
    word = (6 << 32) | 6                       # data_fd 6, device_state PRE_COPY
    ok = decode.feature_fields(0x20002, 16, (6, 0), (word, 0), 0)
    assert (ok["op"], ok["feature"], ok["target"], ok["data_fd"]) == \
        ("SET", "MIG_DEVICE_STATE", "PRE_COPY", 6)
    assert ok["reply_state"] is None and ok["mig_flags"] is None
    refused = decode.feature_fields(0x20002, 16, (8, 0), ((0xFFFFFFFF << 32) | 8, 0), -22)
    assert refused["target"] == 8 and refused["data_fd"] is None
    got = decode.feature_fields(0x10002, 16, (0, 0), ((0xFFFFFFFF << 32) | 3, 0), 0)
    assert (got["reply_state"], got["data_fd"], got["target"]) == ("STOP_COPY", -1, None)
    assert decode.feature_fields(0x10001, 16, (0, 0), (7, 0), 0)["mig_flags"] == 7
    assert decode.feature_fields(0x10001, 16, (0, 0), (7, 0), -25)["mig_flags"] is None
    assert decode.feature_fields(0x10009, 16, (0, 0), (96, 0), 0)["data_size"] == 96
    assert decode.feature_fields(0x70002, 8, (0, 0), (0, 0), 0)["probe_ops"] == ("GET", "SET")
    assert decode.feature_fields(0x50002, 8, (0, 0), (0, 0), 0)["probe_ops"] == ("GET",)


def test_results_and_errnos() -> None:
    assert decode.result(5) == (5, None)
    assert decode.result(-22) == (-1, "EINVAL")
    assert decode.result(-42) == (-1, "ENOMSG")
    assert decode.result(-95) == (-1, "EOPNOTSUPP")
    assert decode.result(-512) == (-1, "ERESTARTSYS")
    assert decode.result(-4000) == (-1, "E4000")
    assert decode.s32(0xFFFFFFFF) == -1 and decode.s32(6) == 6
    assert decode.fcntl_name(1030) == "F_DUPFD_CLOEXEC" and decode.fcntl_name(77) == "77"


# --- the reader -----------------------------------------------------------------------------


def test_a_session_is_read_with_every_payload() -> None:
    evs = events_of(trace(
        feature(2200, 0x10001, w_out=7),
        set_state(2300, 6, data_fd=6),
        "2400 100 101 50 precopy fd=6 argsz=24 initial=24 dirty=0 ret=0",
        "2500 100 101 50 read fd=6 count=16 ret=16",
        "2600 100 101 50 poll fd=6 events=0x5 revents=0x1 nfds=1 ret=1",
        set_state(2700, 3),
        "2800 100 101 50 read fd=6 count=65536 ret=0",
        "2900 100 100 50 close fd=6 ret=0",
        "3000 100 100 50 read fd=6 count=16 ret=-9",
        "3100 100 100 50 close fd=5 ret=0",
    ))
    kinds = [e.kind for e in evs]
    assert kinds == ["device_open", "feature", "feature", "precopy_info", "data_io",
                     "data_poll", "feature", "data_io", "data_close", "data_io",
                     "device_close"]
    opened = evs[0]
    assert (opened.device, opened.fd, opened.api, opened.path) == ("dev", 5, "group",
                                                                    "/dev/vfio/0")
    assert evs[1].mig_flags == 7
    assert (evs[2].target, evs[2].data_fd) == ("PRE_COPY", 6)
    assert evs[3].file == evs[4].file == "dev:fd6#1" and evs[3].initial_bytes == 24
    assert evs[4].tid == 101 and evs[4].ts == pytest.approx(2.5e-6)
    assert evs[5].ready is True
    assert evs[9].errno == "EBADF" and evs[9].file == "fd6#2"     # a dead data fd, used
    result = check_events(evs)
    assert [d.verdict for d in result.devices] == ["pass"]


def test_lines_on_fds_that_are_not_data_fds_are_irrelevant() -> None:
    summary = ReadSummary(format="bpftrace")
    evs = events_of(trace(
        "2200 100 100 50 read fd=9 count=16 ret=16",            # never a data fd
        set_state(2300, 3, data_fd=6),
        "2400 100 100 50 close fd=6 ret=0",
        "2500 100 100 50 read fd=6 count=16 ret=16",            # number reused for a file
        "2600 100 100 50 ioctl fd=5 cmd=0x3b6b ret=0",          # GET_INFO on the device
    ), summary)
    assert [e.kind for e in evs] == ["device_open", "feature", "data_close"]
    assert summary.irrelevant >= 3


def test_dup_fork_exec_and_exit_follow_posix() -> None:
    evs = events_of(trace(
        set_state(2200, 3, data_fd=6),
        "2300 100 100 50 dup fd=6 ret=7",
        "2400 100 100 50 close fd=6 ret=0",
        "2500 100 100 50 read fd=7 count=16 ret=16",
        "2600 100 100 0 fork child=200",
        "2700 200 200 50 read fd=7 count=16 ret=0",
        "2800 200 200 0 exec",                                   # dup's copy: no CLOEXEC
        "2900 200 200 50 read fd=7 count=16 ret=0",
        "3000 200 200 0 exit",
        "3100 100 100 0 exit",
    ))
    kinds = [(e.kind, getattr(e, "how", None), e.pid) for e in evs]
    assert ("fd_dup", None, 100) in kinds
    reads = [e for e in evs if e.kind == "data_io"]
    assert [e.pid for e in reads] == [100, 200, 200]
    assert all(e.file == "dev:fd6#1" for e in reads)
    closes = [e for e in evs if e.kind in ("data_close", "device_close")]
    # fd 6 closed by close (file still open as 7); the child's exit drops one reference;
    # the parent's exit closes the last references, in fd order: the device, the data file
    assert [(e.kind, e.how, e.pid) for e in closes] == [
        ("data_close", "close", 100), ("device_close", "exit", 100),
        ("data_close", "exit", 100)]


def test_exec_closes_cloexec_fds_and_close_range() -> None:
    evs = events_of(trace(
        set_state(2200, 3, data_fd=6),
        "2300 100 100 50 close_range first=6 last=4294967295 flags=0x0 ret=0",
        "2400 100 100 0 exec",
    ))
    closes = [(e.kind, e.how) for e in evs if "close" in e.kind]
    assert closes == [("data_close", "close_range"), ("device_close", "exec")]


def test_lost_events_are_a_gap_and_the_verdict_cannot_pass() -> None:
    summary = ReadSummary(format="bpftrace")
    evs = events_of(trace(set_state(2200, 3, data_fd=6), "Lost 3 events",
                          "2400 100 100 50 close fd=6 ret=0", set_state(2500, 1),
                          set_state(2600, 2), "2700 100 100 50 close fd=5 ret=0"), summary)
    gaps = [e for e in evs if e.kind == "unreadable"]
    assert len(gaps) == 1 and "lost 3 event" in gaps[0].reason
    result = check_events(evs, summary=summary)
    assert [d.verdict for d in result.devices] == ["inconclusive"]


def test_late_start_and_cut_capture_are_said() -> None:
    summary = ReadSummary(format="bpftrace")
    evs = list(read_text("\n".join([
        "2200 100 100 50 feature fd=5 argsz=16 flags=0x10002 in=0x0,0x0 "
        "out=0xffffffff00000002,0x0 ret=0",
        "2300 100 100 50 close fd=5 ret=0"]) + "\n", "late.bpftrace", summary))
    notes = " ".join(summary.notes)
    assert "no 'vfio-mig-bt ... attached' header" in notes
    assert "did not see it opened" in notes and "no 'vfio-mig-bt ... end' line" in notes
    assert [e.kind for e in evs] == ["feature", "device_close"]
    result = check_events(evs, summary=summary)
    assert result.devices[0].verdict == "inconclusive"
    assert any("starts after the device was opened" in r
               for r in result.devices[0].inconclusive_reasons)


def test_container_dirty_pages_ioctl_is_not_a_device() -> None:
    evs = events_of(trace("2200 100 100 50 open path=/dev/vfio/vfio oflags=0x2 ret=3",
                          feature(2300, 0x20001, fd=3)))
    assert [e.kind for e in evs] == ["device_open"]


def test_unknown_call_and_missing_key_are_unreadable() -> None:
    summary = ReadSummary(format="bpftrace")
    evs = events_of(trace("2200 100 100 50 frobnicate fd=3 ret=0",
                          "2300 100 100 50 read fd=6 ret=0"), summary)
    reasons = [r for _, r in summary.unreadable]
    assert any("unknown call 'frobnicate'" in r for r in reasons)
    assert any("read needs count=" in r for r in reasons)
    assert sum(e.kind == "unreadable" for e in evs) == 2


def test_auto_detection(tmp_path: Path) -> None:
    cap = tmp_path / "capture.txt"
    cap.write_text(trace(set_state(2200, 3, data_fd=6)))
    assert detect_format(cap) == "bpftrace"
    headless = tmp_path / "headless.txt"
    headless.write_text(set_state(2200, 3, data_fd=6) + "\n" +
                        "2300 100 100 50 read fd=6 count=16 ret=16\n")
    assert detect_format(headless) == "bpftrace"
    reading = open_trace(cap)
    assert reading.format == "bpftrace" and len(list(reading.events)) == 2


# --- equivalence with the canonical reader (hypothesis) --------------------------------------


@st.composite
def programs(draw) -> tuple[str, str]:
    """A random sequence of migration calls on one device, written both as vfio-mig.bt
    output and as the canonical trace the lab's runner would print for the same calls."""
    api = draw(st.sampled_from(["group", "cdev"]))
    bt = [HEAD]
    if api == "group":
        bt += ["1 100 100 1 open path=/dev/vfio/3 oflags=0x80002 ret=4",
               "2 100 100 1 getfd group=4 name=dev ret=5"]
        canon = ["# vmc-trace 1", "device dev fd=5 api=group path=/dev/vfio/3"]
    else:
        bt += ["2 100 100 1 open path=/dev/vfio/devices/dev oflags=0x80002 ret=5"]
        canon = ["# vmc-trace 1", "device dev fd=5 api=cdev path=/dev/vfio/devices/dev"]
    open_data: list[int] = []
    closed: list[int] = []
    ts = 10
    for _ in range(draw(st.integers(min_value=1, max_value=30))):
        ts += 10
        tid = draw(st.sampled_from([100, 101]))
        head = f"{ts} 100 {tid} 7"
        kind = draw(st.sampled_from(["set", "get", "mig", "size", "probe", "reset", "io",
                                     "precopy", "poll", "seek", "close", "dead"]))
        fds = open_data or [6]
        fd = draw(st.sampled_from(fds))
        if kind == "set":
            target = draw(st.integers(min_value=0, max_value=9))
            ok = draw(st.booleans())
            new = min(set(range(6, 20)) - set(open_data)) if ok and draw(st.booleans()) else -1
            word_out = ((new & 0xFFFFFFFF) << 32) | target
            bt.append(f"{head} feature fd=5 argsz=16 flags=0x20002 "
                      f"in={(0xFFFFFFFF << 32) | target:#x},0x0 out={word_out:#x},0x0 "
                      f"ret={0 if ok else -22}")
            name = STATES[target] if target < len(STATES) else str(target)
            canon.append(f"[100/{tid}] dev SET STATE {name} = " +
                         (f"0 data_fd={new}" if ok else "-1 EINVAL"))
            if ok and new >= 0:
                open_data.append(new)
                if new in closed:
                    closed.remove(new)
        elif kind == "get":
            state = draw(st.integers(min_value=0, max_value=7))
            bt.append(f"{head} feature fd=5 argsz=16 flags=0x10002 in=0x0,0x0 "
                      f"out={(0xFFFFFFFF << 32) | state:#x},0x0 ret=0")
            canon.append(f"[100/{tid}] dev GET STATE = 0 state={STATES[state]} data_fd=-1")
        elif kind == "mig":
            flags = draw(st.sampled_from([1, 3, 5, 7]))
            bt.append(f"{head} feature fd=5 argsz=16 flags=0x10001 in=0x0,0x0 "
                      f"out={flags:#x},0x0 ret=0")
            canon.append(f"[100/{tid}] dev GET MIGRATION = 0 flags={flags:#x}")
        elif kind == "size":
            size = draw(st.integers(min_value=0, max_value=2**40))
            bt.append(f"{head} feature fd=5 argsz=16 flags=0x10009 in=0x0,0x0 "
                      f"out={size:#x},0x0 ret=0")
            canon.append(f"[100/{tid}] dev GET DATA_SIZE = 0 size={size}")
        elif kind == "probe":
            bt.append(f"{head} feature fd=5 argsz=8 flags=0x70002 in=0x0,0x0 out=0x0,0x0 "
                      "ret=0")
            canon.append(f"[100/{tid}] dev PROBE STATE GET|SET argsz=8 = 0")
        elif kind == "reset":
            bt.append(f"{head} reset fd=5 ret=0")
            canon.append(f"[100/{tid}] dev RESET = 0")
        elif kind in ("io", "precopy", "poll", "seek", "close") and open_data:
            if kind == "io":
                call = draw(st.sampled_from(["read", "write", "pread64", "readv"]))
                count = draw(st.integers(min_value=0, max_value=1 << 20))
                ret = draw(st.sampled_from([0, count, -11, -42, -19, -29]))
                bt.append(f"{head} {call} fd={fd} count={count} ret={ret}")
                shown = f"-1 {decode.errno_name(-ret)}" if ret < 0 else str(ret)
                canon.append(f"[100/{tid}] fd {fd} {call} {count} = {shown}")
            elif kind == "precopy":
                initial, dirty = draw(st.integers(0, 2**33)), draw(st.integers(0, 2**33))
                ok = draw(st.booleans())
                bt.append(f"{head} precopy fd={fd} argsz=24 initial={initial} dirty={dirty} "
                          f"ret={0 if ok else -22}")
                canon.append(f"[100/{tid}] fd {fd} precopy_info argsz=24 = " +
                             (f"0 initial={initial} dirty={dirty}" if ok else "-1 EINVAL"))
            elif kind == "poll":
                ready = draw(st.booleans())
                bt.append(f"{head} poll fd={fd} events=0x5 revents={5 if ready else 0:#x} "
                          f"nfds=1 ret={1 if ready else 0}")
                canon.append(f"[100/{tid}] fd {fd} poll = {1 if ready else 0} "
                             f"ready={'yes' if ready else 'no'}")
            elif kind == "seek":
                bt.append(f"{head} lseek fd={fd} offset=0 whence=0 ret=-29")
                canon.append(f"[100/{tid}] fd {fd} lseek = -1 ESPIPE")
            else:
                bt.append(f"{head} close fd={fd} ret=0")
                canon.append(f"[100/{tid}] fd {fd} close = 0")
                open_data.remove(fd)
                closed.append(fd)
        elif kind == "dead" and closed:
            fd = draw(st.sampled_from(closed))
            bt.append(f"{head} read fd={fd} count=16 ret=-9")
            canon.append(f"[100/{tid}] fd {fd} read 16 = -1 EBADF")
    bt.append(f"{ts + 10} 100 100 7 close fd=5 ret=0")
    canon.append("[100/100] dev close = 0")
    bt.append(END)
    return "\n".join(bt) + "\n", "\n".join(canon) + "\n"


@given(programs())
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_capture_reads_like_the_canonical_trace(program: tuple[str, str]) -> None:
    """Every call, in order, with fd, result, errno and decoded payload as the canonical
    reader reads the same calls; no line unreadable."""
    bt_text, canon_text = program
    summary = ReadSummary(format="bpftrace")
    bt_events = events_of(bt_text, summary)
    assert summary.unreadable == []
    canon_events = list(canonical.read_text(canon_text))
    assert not [e for e in canon_events if e.kind == "unreadable"]
    truth = [e for e in canon_events if e.kind in CALL_KINDS]
    seen = [e for e in bt_events if e.kind in CALL_KINDS]
    agreed, difference = compare_calls(truth, seen)
    assert difference == "", difference
    assert agreed == len(truth)
    # the data-fd identities are the canonical reader's too
    assert [getattr(e, "file", None) for e in seen] == [getattr(e, "file", None) for e in truth]


@given(programs())
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_capture_gets_the_canonical_verdict(program: tuple[str, str]) -> None:
    bt_text, canon_text = program
    seen = check_events(events_of(bt_text))
    truth = check_events(canonical.read_text(canon_text))
    assert [(d.verdict, d.final_states) for d in seen.devices] == \
        [(d.verdict, d.final_states) for d in truth.devices]
    assert sorted(f.rule for f in seen.findings) == sorted(f.rule for f in truth.findings)


def test_call_view_ignores_fields_the_truth_does_not_show() -> None:
    evs = events_of(trace(set_state(2200, 3, data_fd=6)))
    view = call_view(evs[1], {"target"})
    assert view == ("feature", 5, 0, None, ("target", "STOP_COPY"))
