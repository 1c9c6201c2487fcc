"""Raw-text decisions for the frequent calls that rarely matter: poll sets and recvmsg.

A QEMU main loop polls its eventfds and sockets hundreds of thousands of times while a
migration data fd is open, and its QMP socket is read with ``recvmsg``. Parsing those lines
with the grammar only to find no data fd in the poll set, or no ``SCM_RIGHTS`` message, was
most of the reader's time. These predicates decide from the text with one compiled pattern;
they are conservative: anything they are unsure of goes to the full parse.
"""

from __future__ import annotations

import re

from vfio_migcheck.traces.strace.fdtable import OTHER, FdTable
from vfio_migcheck.traces.strace.text import is_migration_decoration, strip_device_numbers

# one poll-set entry: "{fd=5" or "{fd=5<anon_inode:[eventfd]>" (one level of nesting, as
# in "<socket:[1]>" or "</dev/pts/0<char 136:0>>")
_POLL_FD = re.compile(r"\{fd=(-?\d+)(<[^<>]*(?:<[^<>]*>[^<>]*)*>)?")


def poll_is_quiet(table: FdTable, text: str) -> bool:
    """True when no fd of this poll/ppoll line can be a device or data fd.

    Every listed fd must be known as an ordinary file (with the same ``-y`` decoration as
    when it was opened), or unknown with a decoration that does not name a migration fd.
    The ``revents`` part lists a subset of the asked fds, so scanning the whole line is safe.
    """
    fds = table.fds
    for match in _POLL_FD.finditer(text):
        fd = int(match.group(1))
        decor = match.group(2)
        entry = fds.get(fd)
        if entry is None:
            if decor is not None and is_migration_decoration(strip_device_numbers(decor[1:-1])):
                return False
            continue
        if entry.file.kind != OTHER:
            return False
        if decor is not None and (entry.token is None
                                  or not text.startswith(entry.token, match.start(1))):
            return False  # the fd may have been replaced invisibly: look closer
    return True


def recvmsg_is_quiet(text: str) -> bool:
    """A recvmsg matters only when it passes fds (an ``SCM_RIGHTS`` control message)."""
    return "SCM_RIGHTS" not in text
