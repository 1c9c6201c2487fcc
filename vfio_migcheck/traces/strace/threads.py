"""What the strace session and the call handlers share: call classes, threads, pending calls.

This module sits below both :mod:`session` (which reads lines) and the handlers in
:mod:`calls`, :mod:`io_calls` and :mod:`fd_calls` (which turn calls into events), so the
dependencies point one way: session -> dispatch -> handlers -> calls -> threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from vfio_migcheck.traces.strace.fdtable import FdTable

if TYPE_CHECKING:
    from vfio_migcheck.traces.events import Event, ReadSummary

# call classes for the fast decision
IO, SEEK, IOCTL, CLOSE, FCNTL, DUP, MMAP, XFER, POLL, EPOLL_CTL, EPOLL_WAIT = range(11)
OPEN, NEWFD, PIPE, CLOSE_RANGE, CLONE, EXEC, RECVMSG = range(11, 18)

NAME_CLASS: dict[str, int] = {}
for _names, _cls in (
    (("read", "readv", "pread64", "preadv", "preadv2", "write", "writev", "pwrite64",
      "pwritev", "pwritev2", "recvfrom", "sendto"), IO),
    (("lseek", "_llseek", "llseek"), SEEK),
    (("ioctl",), IOCTL),
    (("close",), CLOSE),
    (("fcntl", "fcntl64"), FCNTL),
    (("dup", "dup2", "dup3"), DUP),
    (("mmap", "mmap2"), MMAP),
    (("splice", "sendfile", "sendfile64", "copy_file_range", "tee"), XFER),
    (("poll", "ppoll", "select", "_newselect", "pselect6", "pselect6_time64"), POLL),
    (("epoll_ctl",), EPOLL_CTL),
    (("epoll_wait", "epoll_pwait", "epoll_pwait2"), EPOLL_WAIT),
    (("open", "openat", "openat2", "creat", "open_by_handle_at"), OPEN),
    (("socket", "accept", "accept4", "eventfd", "eventfd2", "epoll_create", "epoll_create1",
      "signalfd", "signalfd4", "timerfd_create", "memfd_create", "memfd_secret",
      "inotify_init", "inotify_init1", "fanotify_init", "userfaultfd", "pidfd_open",
      "pidfd_getfd", "perf_event_open", "io_uring_setup", "fsopen", "fsmount", "fspick",
      "open_tree", "mq_open", "landlock_create_ruleset", "bpf"), NEWFD),
    (("pipe", "pipe2", "socketpair"), PIPE),
    (("close_range",), CLOSE_RANGE),
    (("clone", "clone2", "clone3", "fork", "vfork"), CLONE),
    (("execve", "execveat"), EXEC),
    (("recvmsg", "recvmmsg"), RECVMSG),
):
    for _name in _names:
        NAME_CLASS[_name] = _cls

WRITES = frozenset({"write", "writev", "pwrite64", "pwritev", "pwritev2", "sendto"})
#: poll calls whose fd set :func:`~vfio_migcheck.traces.strace.quiet.poll_is_quiet` reads
POLL_SETS = frozenset({"poll", "ppoll"})


@dataclass
class Pending:
    """The first half of an unfinished call, waiting for its ``<... resumed>`` line."""

    name: str
    head: str
    line: int
    file: str
    ts: float | None
    tag: str | None
    quiet: bool = False  # a call of no interest: only the pairing matters


@dataclass
class Thread:
    """One traced task (strace shows thread ids)."""

    tid: int | None                 # None: lines without a pid column (the first process)
    pid: int | None                 # thread-group id when known
    table: FdTable
    pending: Pending | None = None


class SessionView(Protocol):
    """The part of a reading session the call handlers use (implemented by ``Session``)."""

    summary: ReadSummary
    out: list[Event]
    threads: dict[int | None, Thread]
    root_table: FdTable | None
    many_files: bool
    saw_pid_column: bool
    saw_decoration: bool
    children: set[int]

    def note(self, key: str, text: str) -> None: ...

    def emit(self, event: Event) -> None: ...

    def unreadable(self, file: str, number: int, reason: str, text: str | None = None,
                   last: int | None = None) -> None: ...

    def abandon(self, thread: Thread, why: str) -> None: ...
