"""K018 MoreBytesThanAsked."""

from __future__ import annotations

from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.checker.rules.examples import PRE
from vfio_migcheck.traces.events import DataIO

RULE = Rule(
    id="K018", name="MoreBytesThanAsked", severity="error", party="driver", kind="behaviour",
    summary="a read() or write() on a data fd reported more bytes than it asked for",
    cite="fs/read_write.c vfs_read()/vfs_write() (Linux 6.12): the data fd's .read/.write "
         "result reaches user space as is; read(2) and write(2) move at most count bytes "
         "(a stream: stream_open())",
    doc="The VFS passes the data fd's .read/.write result straight to user space, so only the "
        "driver can report more bytes than the buffer holds; a VMM trusting that count reads "
        "past its buffer or skips stream bytes.",
    fix="Driver: never return more than the count passed to .read/.write (clamp the copy "
        "length to it).",
    bad=PRE + "fd 6 read 64 = 100\n",
    good=PRE + "fd 6 read 64 = 64\n",
)


def check(event: DataIO) -> str | None:
    """read()/write() = N with N greater than the count it was called with."""
    ret, asked = event.ret, event.requested
    if not isinstance(ret, int) or not isinstance(asked, int) or ret <= asked:
        return None
    return (f"{event.call}(fd {event.fd}, count {asked}) = {ret}: more bytes than asked for "
            "(a driver's .{0} result; the VFS passes it through)".format(event.direction))
