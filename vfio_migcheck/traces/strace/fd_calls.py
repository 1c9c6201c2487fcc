"""Calls that change fd tables and processes: open, dup, close, clone, exec, ...

They keep the per-process tables of :mod:`vfio_migcheck.traces.strace.fdtable` right (so fd
numbers stay meaningful when reused) and report the events of the device and data fds
they duplicate or close.
"""

from __future__ import annotations

from typing import Any

from vfio_migcheck.traces.events import (
    DataFcntl,
    FdDup,
    ProcessEvent,
)
from vfio_migcheck.traces.strace import threads as s
from vfio_migcheck.traces.strace.calls import CallContext, items_of
from vfio_migcheck.traces.strace.fdtable import (
    CONTAINER,
    DATA,
    DEVICE,
    EPOLL,
    GROUP,
    IOMMUFD,
    OTHER,
    FdEntry,
    OpenFile,
)
from vfio_migcheck.traces.strace.syntax import Arg, Call
from vfio_migcheck.traces.strace.text import (
    CDEV_PREFIX,
    group_of_path,
    strip_device_numbers,
    unescape,
)
from vfio_migcheck.traces.strace.threads import Thread


def _close(ctx: CallContext) -> None:
    fd, decor = ctx.fd_arg(0)
    if fd is None:
        return
    call = ctx.call
    gone = ctx.finished and (call.ret == 0 or (call.errno not in (None, "EBADF")))
    entry = ctx.table.fds.get(fd)
    if entry is not None and decor is not None:
        entry = ctx.reconcile(fd, entry, decor)
    if entry is None and call.errno != "EBADF":
        entry = ctx.first_use(fd, decor, candidate=True)
    ctx.released(fd, fd, frees=True)  # even a failed close leaves the number free
    ctx.order.saw_close = True
    if entry is None:
        return
    if gone or call.errno == "EBADF":
        ctx.table.close(fd)
    ctx.close_events(fd, entry)


def _fcntl(ctx: CallContext) -> None:
    fd, decor = ctx.fd_arg(0)
    if fd is None:
        return
    entry = ctx.entry_for_use(fd, decor)
    if entry is None:
        return
    cmd_items = items_of(ctx.arg(1), "w")
    cmd = cmd_items[0] if cmd_items else "?"
    if entry.file.kind == DATA:
        ctx.emit(DataFcntl(ctx.origin, fd=fd, file=entry.file.ident, cmd=cmd, ret=ctx.ret,
                           errno=ctx.errno, **ctx.common))
    if not ctx.ok:
        return
    if cmd in ("F_DUPFD", "F_DUPFD_CLOEXEC"):
        ctx.allocated(ctx.call.ret, lowest=False)  # the lowest free number >= the argument
        _duplicate(ctx, fd, entry, ctx.call.ret, cmd == "F_DUPFD_CLOEXEC", "fcntl")
    elif cmd == "F_SETFD":
        entry.cloexec = "FD_CLOEXEC" in ctx.words() or ctx.int_arg(2) == 1


def _dup(ctx: CallContext) -> None:
    fd, decor = ctx.fd_arg(0)
    if fd is None:
        return
    entry = ctx.entry_for_use(fd, decor)
    name = ctx.call.name
    if name != "dup":
        target = ctx.int_arg(1)  # dup2/dup3 silently close the target when it was open
        if isinstance(target, int):
            ctx.released(target, target, frees=False)
        else:
            ctx.released(0, float("inf"), frees=False)
    if entry is None or not ctx.ok:
        return
    ctx.allocated(ctx.call.ret, lowest=name == "dup")
    cloexec = ctx.call.name == "dup3" and "O_CLOEXEC" in ctx.words()
    _duplicate(ctx, fd, entry, ctx.call.ret, cloexec, ctx.call.name)


def _duplicate(ctx: CallContext, old: int, entry: FdEntry, new: int, cloexec: bool,
               how: str) -> None:
    if new == old:
        return
    table = ctx.table
    token = None
    if entry.token is not None:
        token = f"{new}{entry.token[len(str(old)):]}"
    previous = table.install(new, FdEntry(entry.file, cloexec, token))
    if previous is not None and previous.file is not entry.file and previous.file.kind in (
            DATA, DEVICE):
        ctx.close_events(new, previous)  # dup2 closes the fd it overwrites
    if entry.file.kind in (DATA, DEVICE):
        ctx.emit(FdDup(ctx.origin, old_fd=old, new_fd=new, file=entry.file.ident, call=how,
                       **ctx.common))


def _open(ctx: CallContext) -> None:
    if not ctx.ok:
        return
    call = ctx.call
    fd = call.ret
    path = None
    for arg in call.args:
        strings = items_of(arg, "s")
        if strings:
            path = unescape(strings[0])[0]
            break
    seen = strip_device_numbers(call.ret_decor) if call.ret_decor else None
    where = seen or path or f"fd{fd}"
    cloexec = "O_CLOEXEC" in ctx.words() or _raw_open_flags(call) & O_CLOEXEC_BIT != 0
    token = f"{fd}<{call.ret_decor}>" if call.ret_decor else None
    replaced = ctx.table.fds.get(fd)
    ctx.note_replaced(fd, replaced)
    ctx.allocated(fd)
    if where.startswith(CDEV_PREFIX) or (path or "").startswith(CDEV_PREFIX):
        name = where if where.startswith(CDEV_PREFIX) else path
        ctx.open_device(fd, name, "cdev", cloexec=cloexec, token=token, path=name)
        return
    group = group_of_path(where) or group_of_path(path or "")
    if group is not None:
        kind = GROUP
    elif where == "/dev/vfio/vfio" or path == "/dev/vfio/vfio":
        kind = CONTAINER
    elif where == "/dev/iommu" or path == "/dev/iommu":
        kind = IOMMUFD
    else:
        kind = OTHER
    file = OpenFile(kind, where, where, group=group)
    ctx.table.install(fd, FdEntry(file, cloexec, token))


O_CLOEXEC_BIT = 0o2000000


def _raw_open_flags(call: Call) -> int:
    """Open flags printed as a number (-X raw): the argument after the path."""
    for index, arg in enumerate(call.args):
        if any(kind == "s" for kind, _, _ in arg):
            following = call.args[index + 1] if index + 1 < len(call.args) else []
            if len(following) == 1 and following[0][0] == "n" and isinstance(following[0][1],
                                                                              int):
                return following[0][1]
            return 0
    return 0


def _newfd(ctx: CallContext) -> None:
    if not ctx.ok:
        return
    call = ctx.call
    if call.name == "bpf" and call.ret == 0:
        return  # only the object-creating bpf() commands return an fd
    if call.name == "io_uring_setup":
        ctx.order.blind = "io_uring can open and close fds without a visible call"
    if not (call.name.startswith("signalfd") and ctx.int_arg(0) != -1):
        ctx.allocated(call.ret)  # (signalfd on an existing signalfd returns that fd)
    cloexec = any(w.endswith("CLOEXEC") for w in ctx.words())
    kind = EPOLL if call.name.startswith("epoll_create") else OTHER
    decor = call.ret_decor
    ctx.install_other(call.ret, strip_device_numbers(decor) if decor else call.name, cloexec,
                      kind, f"{call.ret}<{decor}>" if decor else None)


def _pipe(ctx: CallContext) -> None:
    if not ctx.ok:
        return
    cloexec = any(w.endswith("CLOEXEC") for w in ctx.words())
    for arg in reversed(ctx.call.args):
        for kind, value, _ in arg:
            if kind == "[":
                for element in value:
                    for ekind, evalue, edecor in element:
                        if ekind == "n" and isinstance(evalue, int):
                            ctx.allocated(evalue)
                            ctx.install_other(evalue, edecor, cloexec,
                                              token=f"{evalue}<{edecor}>" if edecor else None)
                return


def _close_range(ctx: CallContext) -> None:
    first = ctx.int_arg(0)
    last = ctx.int_arg(1)
    words = ctx.words()
    if not isinstance(first, int):
        ctx.released(0, float("inf"), frees=False)
        return
    if not isinstance(last, int) or last < 0:
        last = 1 << 31
    ctx.released(first, last, frees=ctx.ok and "CLOSE_RANGE_CLOEXEC" not in words
                 and "CLOSE_RANGE_UNSHARE" not in words)
    if not ctx.ok:
        return
    if "CLOSE_RANGE_UNSHARE" in words:
        thread = ctx.thread
        thread.table.members.discard(-1 if thread.tid is None else thread.tid)
        thread.table = thread.table.fork_copy()
        thread.table.members.add(-1 if thread.tid is None else thread.tid)
        ctx.table = thread.table
    closed = ctx.table.close_range(first, last, cloexec_only="CLOSE_RANGE_CLOEXEC" in words)
    for fd, entry in closed:
        ctx.close_events(fd, entry, how="close_range")


def _clone(ctx: CallContext) -> None:
    session = ctx.h.session
    parent = ctx.thread
    call = ctx.call
    words = ctx.words()
    is_thread = "CLONE_THREAD" in words
    shares = "CLONE_FILES" in words
    if shares:
        ctx.order.shared = True  # its calls are in the trace only under strace -f
    if not ctx.ok or call.ret == 0:
        return
    child = call.ret
    session.children.add(child)
    if child not in session.threads:  # else: its lines came first, while clone() was pending
        table = parent.table if shares else parent.table.fork_copy()
        made = Thread(child, parent.pid if is_thread else child, table)
        table.members.add(child)
        session.threads[child] = made
    ctx.emit(ProcessEvent(ctx.origin, what="clone", child=child, thread=is_thread,
                          **ctx.common))


def _exec(ctx: CallContext) -> None:
    # a successful exec closes every close-on-exec fd, so every data fd (they all are)
    ctx.released(0, float("inf"), frees=ctx.ok)
    if not ctx.ok:
        return
    ctx.order.rooted = True  # every later thread of this table is created in the trace
    thread = ctx.thread
    table = ctx.table
    if len(table.members) > 1:
        # the other threads are gone; the process keeps its (now unshared) table
        session = ctx.h.session
        for tid in list(table.members):
            if tid != (-1 if thread.tid is None else thread.tid):
                table.members.discard(tid)
                gone = session.threads.pop(None if tid == -1 else tid, None)
                if gone is not None and gone.pending is not None:
                    session.abandon(gone, "execve in another thread ended it")
    closed = table.exec()
    table.last_feature = None
    ctx.emit(ProcessEvent(ctx.origin, what="exec", **ctx.common))
    ctx.h.implicit_close(thread, closed, "exec", ctx.origin, ctx.ts)


def _recvmsg(ctx: CallContext) -> None:
    if not ctx.ok:
        return
    text_words = ctx.words()
    if "SCM_RIGHTS" not in text_words:
        return
    cloexec = "MSG_CMSG_CLOEXEC" in text_words
    for fd in _scm_fds(ctx.call.args):
        ctx.allocated(fd, lowest=False)
        ctx.install_other(fd, "received", cloexec)


def _scm_fds(args: list[Arg]) -> list[int]:
    found: list[int] = []
    for arg in args:
        for index, (kind, value, _) in enumerate(arg):
            if kind == "w" and value == "cmsg_data" and index + 2 < len(arg):
                target = arg[index + 2]
                if target[0] == "[":
                    found.extend(v for element in target[1] for k, v, _ in element
                                 if k == "n" and isinstance(v, int))
            elif kind in ("[", "{", "("):
                found.extend(_scm_fds(value))
    return found


def handlers() -> dict[int, Any]:
    """Call class (threads) -> handler, for the calls that change fd tables."""
    return {s.CLOSE: _close, s.FCNTL: _fcntl, s.DUP: _dup, s.OPEN: _open, s.NEWFD: _newfd,
            s.PIPE: _pipe, s.CLOSE_RANGE: _close_range, s.CLONE: _clone, s.EXEC: _exec,
            s.RECVMSG: _recvmsg}
