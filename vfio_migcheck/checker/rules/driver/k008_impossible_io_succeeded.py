"""K008 ImpossibleIoSucceeded."""

from __future__ import annotations

from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.checker.rules.examples import RES

RULE = Rule(
    id="K008", name="ImpossibleIoSucceeded", severity="error", party="driver", kind="misfit",
    summary="a wrong-direction or positioned I/O (or lseek) on a data fd succeeded",
    cite="samples/vfio-mdev/mtty.c:988-997 (Linux 6.12.118): data fds are anon-inode "
         "files opened O_RDONLY (saving) or O_WRONLY (resuming) and made streams by "
         "stream_open(); fs/read_write.c vfs_llseek() (Linux 6.12): -ESPIPE without "
         "FMODE_LSEEK",
    doc="The VFS refuses these before the driver runs (EBADF, ESPIPE): stream_open() clears "
        "FMODE_LSEEK, FMODE_PREAD and FMODE_PWRITE, so lseek, pread and pwrite never succeed.",
    fix="The fd is probably not the data fd the trace says it is; check the capture.",
    bad=RES + "fd 6 read 512 = 12\n",
    good=RES + "fd 6 read 512 = -1 EBADF\n",
)
