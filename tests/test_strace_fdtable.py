"""fd tables: reuse, dup, fork copies, exec and close_range, open file descriptions."""

from __future__ import annotations

from vfio_migcheck.traces.strace.fdtable import DATA, DEVICE, OTHER, FdEntry, FdTable, OpenFile


def table_with(*items: tuple[int, str, bool]) -> FdTable:
    table = FdTable()
    for fd, kind, cloexec in items:
        table.install(fd, FdEntry(OpenFile(kind, f"{kind}{fd}"), cloexec))
    return table


def test_install_replaces_and_counts_references() -> None:
    table = table_with((3, OTHER, False))
    old = table.get(3)
    replaced = table.install(3, FdEntry(OpenFile(DATA, "data"), True))
    assert replaced is old and old.file.refs == 0
    assert table.get(3).file.refs == 1
    assert table.counts == {OTHER: 0, DATA: 1}


def test_dup_shares_the_open_file_and_close_drops_one_reference() -> None:
    table = table_with((6, DATA, True))
    shared = table.get(6).file
    table.install(9, FdEntry(shared, False))
    assert shared.refs == 2
    closed = table.close(6)
    assert closed is not None and closed.file is shared and shared.refs == 1
    assert table.close(6) is None  # closing twice: nothing there


def test_fork_copy_is_independent_but_shares_descriptions() -> None:
    parent = table_with((5, DEVICE, True), (6, DATA, True))
    child = parent.fork_copy()
    assert child.get(6).file is parent.get(6).file
    assert parent.get(6).file.refs == 2
    child.close(6)
    assert parent.get(6) is not None and parent.get(6).file.refs == 1


def test_exec_closes_only_cloexec_fds() -> None:
    table = table_with((3, OTHER, False), (5, DEVICE, True), (6, DATA, True))
    closed = table.exec()
    assert [fd for fd, _ in closed] == [5, 6]
    assert sorted(table.fds) == [3]


def test_close_range_closes_or_marks_cloexec() -> None:
    table = table_with((3, OTHER, False), (7, DATA, False), (9, OTHER, False))
    assert table.close_range(7, 1 << 31, cloexec_only=True) == []
    assert table.get(7).cloexec and table.get(9).cloexec
    closed = table.close_range(4, 8)
    assert [fd for fd, _ in closed] == [7]
    assert sorted(table.fds) == [3, 9]


def test_release_all_when_the_last_task_exits() -> None:
    table = table_with((0, OTHER, False), (6, DATA, True))
    closed = table.release_all()
    assert [fd for fd, _ in closed] == [0, 6]
    assert table.fds == {} and table.counts == {OTHER: 0, DATA: 0}
