"""Deciding poll sets and recvmsg lines from the raw text must not change what is read.

The reference forces every poll/ppoll and recvmsg line through the grammar (the predicates
of traces/strace/quiet.py answer "not quiet"); the reader must give the same events and,
apart from lines it now counts as irrelevant instead of parsing, the same accounting — on
generated QEMU-like captures where the main loop polls while a data fd is open, and on
the real captures.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from vfio_migcheck.traces.events import ReadSummary
from vfio_migcheck.traces.strace import reader as strace
from vfio_migcheck.traces.strace import session as strace_session
from vfio_migcheck.traces.strace.fdtable import DATA, FdEntry, FdTable, OpenFile
from vfio_migcheck.traces.strace.quiet import poll_is_quiet, recvmsg_is_quiet

BENCHMARKS = Path(__file__).parent.parent / "benchmarks"
FIXTURES = Path(__file__).parent / "fixtures"


def _read(path: Path) -> tuple[list, ReadSummary]:
    summary = ReadSummary()
    return list(strace.read([path], summary)), summary


def _read_without_shortcuts(path: Path, monkeypatch) -> tuple[list, ReadSummary]:
    with monkeypatch.context() as patch:
        for module in (strace, strace_session):
            patch.setattr(module, "poll_is_quiet", lambda table, text: False, raising=False)
        patch.setattr(strace_session, "recvmsg_is_quiet", lambda text: False)
        patch.setattr(strace, "RECVMSG", -1)  # the inlined loop's recvmsg shortcut
        return _read(path)


def _generate(path: Path, lines: int, seed: int) -> None:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from gen_strace import generate
    finally:
        sys.path.pop(0)
    generate(path, lines, "mixed", seed=seed)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_qemu_capture_reads_the_same(tmp_path, monkeypatch, seed) -> None:
    capture = tmp_path / "mixed.strace"
    _generate(capture, 15000, seed)
    events, summary = _read(capture)
    expected_events, expected = _read_without_shortcuts(capture, monkeypatch)
    assert events == expected_events
    assert any(type(e).__name__ == "DataIO" for e in events)  # a data fd was open
    assert (summary.lines, summary.events, summary.irrelevant, summary.unreadable) == (
        expected.lines, expected.events, expected.irrelevant, expected.unreadable)


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("**/*.strace")), ids=lambda p: p.name)
def test_real_captures_read_the_same(path: Path, monkeypatch) -> None:
    events, summary = _read(path)
    expected_events, expected = _read_without_shortcuts(path, monkeypatch)
    assert events == expected_events
    assert summary.unreadable == expected.unreadable


def _table_with(fd: int, kind: str, token: str | None) -> FdTable:
    table = FdTable()
    table.install(fd, FdEntry(OpenFile(kind=kind, ident=f"f{fd}"), False, token))
    return table


def test_a_data_fd_in_the_poll_set_is_not_quiet() -> None:
    table = _table_with(31, DATA, "31<anon_inode:mlx5vf_mig>")
    text = ("ppoll([{fd=5<anon_inode:[eventfd]>, events=POLLIN}, {fd=31<anon_inode:mlx5vf_mig>"
            ", events=POLLIN}], 2, NULL, NULL, 8) = 1 ([{fd=31, revents=POLLIN}])")
    assert not poll_is_quiet(table, text)
    assert poll_is_quiet(table, text.replace("fd=31<anon_inode:mlx5vf_mig>",
                                             "fd=6<anon_inode:[eventfd]>")
                         .replace("{fd=31,", "{fd=6,"))


def test_an_unknown_migration_fd_in_the_poll_set_is_not_quiet() -> None:
    table = _table_with(31, DATA, "31<anon_inode:mlx5vf_mig>")
    assert not poll_is_quiet(table, "poll([{fd=40<anon_inode:hisi_acc_mig>, events=POLLIN}]"
                                    ", 1, 0) = 0 (Timeout)")
    assert poll_is_quiet(table, "poll([{fd=40<pipe:[99]>, events=POLLIN}], 1, 0) = 0 "
                                "(Timeout)")


def test_recvmsg_matters_only_with_scm_rights() -> None:
    assert recvmsg_is_quiet("recvmsg(15, {msg_iov=[...], msg_controllen=0}, 0) = 30")
    assert not recvmsg_is_quiet("recvmsg(15, {msg_control=[{cmsg_level=SOL_SOCKET, "
                                "cmsg_type=SCM_RIGHTS, cmsg_data=[30]}]}, 0) = 49")
