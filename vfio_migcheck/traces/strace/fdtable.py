"""Per-process file-descriptor tables, as far as a system-call trace reveals them.

A VFIO migration data fd never shows up as a system-call result (the kernel returns it
inside the FEATURE payload, which strace cannot print), so the reader has to know which
numbers are taken to recognise the *first use of an unexplained fd*. That needs the real
POSIX rules: numbers are reused after close; dup'd and inherited fds share one open file
description; threads (CLONE_FILES) share one table while fork copies it; execve closes
the O_CLOEXEC fds (VFIO data fds always are).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vfio_migcheck.traces.events import Origin

# kinds of open files the reader tells apart
DEVICE = "device"
DATA = "data"
CONTAINER = "container"
GROUP = "group"
IOMMUFD = "iommufd"
OTHER = "other"      # anything else a visible call created, or an inherited fd seen in use
EPOLL = "epoll"


@dataclass(slots=True, eq=False)
class OpenFile:
    """An open file description: what dup'd and inherited fds share."""

    kind: str
    ident: str                     # device name, data-file id, or path/decoration
    name: str | None = None        # the -y decoration or the opened path, when seen
    device: str | None = None      # data fds: the device whose SET made it, when known
    group: str | None = None       # group and group-API device fds: the group ("0", "@fd4")
    slot: int | None = None        # group-API device fds: K of the name "groupN/devK"
    refs: int = 0                  # fds (in all tables) that refer to this description
    guessed: bool = False          # first seen in use, undecorated: a later VFIO ioctl may
    #                                still reveal what it is
    watched: dict[int, int] = field(default_factory=dict)  # epoll: fd -> user data


@dataclass(slots=True)
class FdEntry:
    file: OpenFile
    cloexec: bool = False
    token: str | None = None       # exact "6<anon_inode:mtty_mig>" text seen under -y


@dataclass(eq=False)
class FdTable:
    """The fd numbers of one process (or of every thread sharing a table)."""

    fds: dict[int, FdEntry] = field(default_factory=dict)
    members: set[int] = field(default_factory=set)      # live tids using this table
    last_feature: Origin | None = None                  # latest device FEATURE call
    device_slots: dict[str, set[int]] = field(default_factory=dict)  # group -> open indexes
    counts: dict[str, int] = field(default_factory=dict)  # open fds per kind (fast checks)
    version: int = 0     # bumped on every change of an fd's number, file or token (scan.py)

    def get(self, fd: int) -> FdEntry | None:
        return self.fds.get(fd)

    def install(self, fd: int, entry: FdEntry) -> FdEntry | None:
        """Put ``entry`` at ``fd``; return the entry it silently replaced (dup2 semantics)."""
        entry.file.refs += 1
        self.version += 1
        old = self.fds.get(fd)
        self.fds[fd] = entry
        kind = entry.file.kind
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if old is not None:
            old.file.refs -= 1
            self.counts[old.file.kind] -= 1
        return old

    def close(self, fd: int) -> FdEntry | None:
        entry = self.fds.pop(fd, None)
        if entry is not None:
            self.version += 1
            entry.file.refs -= 1
            self.counts[entry.file.kind] -= 1
        return entry

    def close_range(self, first: int, last: int, cloexec_only: bool = False
                    ) -> list[tuple[int, FdEntry]]:
        """close_range(first, last, flags): close, or with CLOSE_RANGE_CLOEXEC just mark."""
        hit = sorted(fd for fd in self.fds if first <= fd <= last)
        if cloexec_only:
            for fd in hit:
                self.fds[fd].cloexec = True
            return []
        return [(fd, entry) for fd in hit if (entry := self.close(fd)) is not None]

    def exec(self) -> list[tuple[int, FdEntry]]:
        """execve succeeded: every O_CLOEXEC fd is gone."""
        doomed = sorted(fd for fd, entry in self.fds.items() if entry.cloexec)
        return [(fd, entry) for fd in doomed if (entry := self.close(fd)) is not None]

    def release_all(self) -> list[tuple[int, FdEntry]]:
        """The last user of the table exited: every fd is closed."""
        return [(fd, entry) for fd in sorted(self.fds) if (entry := self.close(fd)) is not None]

    def fork_copy(self) -> FdTable:
        """fork/clone without CLONE_FILES: same open files, independent numbers."""
        copy = FdTable()
        for fd, entry in self.fds.items():
            copy.install(fd, FdEntry(entry.file, entry.cloexec, entry.token))
        return copy
