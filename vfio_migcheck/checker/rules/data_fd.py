"""Rules about data fds: direction, use after the session ended, positioning, closing."""

from __future__ import annotations

from vfio_migcheck.checker.rules.base import Rule

_HEAD = "device d0 flags=0x7\nd0 GET MIGRATION = 0 flags=0x7\n"
_PRE = _HEAD + "d0 SET MIG_DEVICE_STATE PRE_COPY = 0 data_fd=6\n"
_RES = _HEAD + "d0 SET MIG_DEVICE_STATE RESUMING = 0 data_fd=6\n"

WRONG_DIRECTION = Rule(
    id="U006", name="WrongDirectionIO", severity="error", party="vmm", kind="behaviour",
    summary="read() on a resuming data fd or write() on a saving data fd",
    cite="vfio.h, enum vfio_device_mig_state comment: the saving fd is read, the resuming fd "
         "is written (uAPI:1123-1161); fs/read_write.c gives EBADF",
    doc="A saving session's fd is opened O_RDONLY and a resuming session's fd O_WRONLY; "
        "the other direction fails with EBADF and moves no data.",
    fix="Read the fd returned by entering PRE_COPY/STOP_COPY; write the fd returned by "
        "entering RESUMING.",
    bad=_PRE + "fd 6 write 1 = -1 EBADF\n",
    good=_PRE + "fd 6 read 4096 = 24\n",
    uapi_rule="R8",
)

USE_AFTER_END = Rule(
    id="U007", name="DataFdUsedAfterSessionEnd", severity="error", party="vmm",
    kind="behaviour",
    summary="a data fd is used after its session ended (arc, reset or device close)",
    cite="vfio.h, enum vfio_device_mig_state comment: leaving the saving/resuming states "
         "ends the data transfer session (uAPI:1074-1161); drivers answer ENODEV",
    doc="Closing the session is done by the state change, not by close(); afterwards the "
        "fd stays open but every read/write fails with ENODEV (PRECOPY_INFO with EINVAL).",
    fix="Stop using the fd once the state left its session's group; close it.",
    bad=_PRE + "d0 SET MIG_DEVICE_STATE RUNNING = 0 data_fd=-1\nfd 6 read 512 = -1 ENODEV\n",
    good=_PRE + "fd 6 read 512 = 24\nd0 SET MIG_DEVICE_STATE RUNNING = 0 data_fd=-1\n"
                "fd 6 close = 0\n",
    uapi_rule="R8",
)

NEVER_CLOSED = Rule(
    id="U013", name="DataFdNotClosed", severity="note", party="vmm", kind="behaviour",
    summary="a data fd was never closed explicitly (trace end, exec or process exit)",
    cite="vfio.h, MIG_DEVICE_STATE comment: the user owns the data_fd and must close it "
         "(uAPI:1038-1039)",
    doc="Each SET that starts a session hands a new fd to user space; leaking them keeps "
        "driver buffers alive until the process exits.",
    fix="close() each data fd once its session is finished.",
    bad=_PRE + "fd 6 read 512 = 24\nd0 SET MIG_DEVICE_STATE RUNNING = 0 data_fd=-1\n",
    good=_PRE + "fd 6 read 512 = 24\nd0 SET MIG_DEVICE_STATE RUNNING = 0 data_fd=-1\n"
                "fd 6 close = 0\n",
    uapi_rule="R6",
)

CLOSED_THEN_CONTINUED = Rule(
    id="U014", name="SessionKeptAfterFdClosed", severity="error", party="vmm",
    kind="behaviour",
    summary="a saving session is carried on into STOP_COPY after its fd was closed",
    cite="vfio.h, enum vfio_device_mig_state comment: PRE_COPY -> STOP_COPY keeps the same "
         "data fd; close() does not end the session (uAPI:1038-1039, 1131-1149)",
    doc="Closing the fd does not end the session, so the device goes on streaming into a "
        "session nobody can read: the image can never be drained to EOF.",
    fix="Keep the saving fd open until STOP_COPY has been read to EOF, or abort by going "
        "back to RUNNING.",
    bad=_PRE + "fd 6 close = 0\nd0 SET MIG_DEVICE_STATE STOP_COPY = 0 data_fd=-1\n",
    good=_PRE + "fd 6 close = 0\nd0 SET MIG_DEVICE_STATE RUNNING = 0 data_fd=-1\n",
    uapi_rule="R6, R9",
)

POSITIONED_IO = Rule(
    id="U016", name="PositionedIoOnStream", severity="warning", party="vmm",
    kind="behaviour",
    summary="lseek/pread/pwrite on a data fd (a stream: always ESPIPE)",
    cite="vfio.h: the data fd is a stream; drivers call stream_open() (uapi.md 10.2)",
    doc="Data fds have no file position; positioned I/O fails with ESPIPE and moves nothing.",
    fix="Use plain read()/write() in order.",
    bad=_PRE + "fd 6 lseek = -1 ESPIPE\n",
    good=_PRE + "fd 6 read 16 = 16\n",
)

FOREIGN_IOCTL = Rule(
    id="U020", name="ForeignIoctlOnDataFd", severity="note", party="vmm", kind="behaviour",
    summary="an ioctl other than VFIO_MIG_GET_PRECOPY_INFO on a data fd, or PRECOPY_INFO on "
            "the device fd",
    cite="vfio.h, VFIO_MIG_GET_PRECOPY_INFO: issued on the saving data fd (uAPI:1225-1283)",
    doc="Data fds implement only VFIO_MIG_GET_PRECOPY_INFO; anything else is ENOTTY.",
    fix="Send device ioctls to the device fd and PRECOPY_INFO to the saving data fd.",
    bad=_PRE + "fd 6 ioctl VFIO_DEVICE_RESET = -1 ENOTTY\n",
    good=_PRE + "fd 6 precopy_info = 0 initial=24 dirty=0\n",
)

DATA_AFTER_EOF = Rule(
    id="K005", name="DataAfterEof", severity="error", party="driver", kind="misfit",
    summary="read() returned data after it had returned 0 (EOF) in STOP_COPY",
    cite="vfio.h, VFIO_MIG_GET_PRECOPY_INFO comment: in STOP_COPY end of stream is permanent "
         "(uAPI:1146-1149, 1268-1270)",
    doc="In STOP_COPY, read() == 0 means the whole device state has been transferred; "
        "it must keep returning 0.",
    fix="Driver bug: keep returning 0 once the stop-copy image is exhausted.",
    bad=_HEAD + "d0 SET MIG_DEVICE_STATE STOP_COPY = 0 data_fd=6\nfd 6 read 512 = 0\n"
                "fd 6 read 512 = 8\n",
    good=_HEAD + "d0 SET MIG_DEVICE_STATE STOP_COPY = 0 data_fd=6\nfd 6 read 512 = 0\n"
                 "fd 6 read 512 = 0\n",
    uapi_rule="R9",
)

ENOMSG_IN_STOP_COPY = Rule(
    id="K006", name="EnomsgInStopCopy", severity="error", party="driver", kind="misfit",
    summary="read() failed with ENOMSG in STOP_COPY",
    cite="vfio.h, VFIO_MIG_GET_PRECOPY_INFO comment: ENOMSG may not be returned in STOP_COPY "
         "(uAPI:1268-1270)",
    doc="ENOMSG is the temporary end of the pre-copy stream; in STOP_COPY the end is "
        "signalled by read() == 0.",
    fix="Driver bug: return 0 at the end of the stop-copy stream.",
    bad=_HEAD + "d0 SET MIG_DEVICE_STATE STOP_COPY = 0 data_fd=6\nfd 6 read 512 = -1 ENOMSG\n",
    good=_PRE + "fd 6 read 512 = -1 ENOMSG\n",
    uapi_rule="R9",
)

DEAD_FD_ANSWERED = Rule(
    id="K007", name="DeadFdMovedData", severity="error", party="driver", kind="misfit",
    summary="I/O on a data fd whose session ended succeeded",
    cite="vfio.h, enum vfio_device_mig_state comment: leaving the state ends the data "
         "session; drivers disable the file (uapi.md 10.4: ENODEV)",
    doc="After the session-ending arc, reset or device close, the driver must refuse I/O.",
    fix="Driver bug: disable the migration file when its session ends.",
    bad=_PRE + "d0 SET MIG_DEVICE_STATE RUNNING = 0 data_fd=-1\nfd 6 read 512 = 24\n",
    good=_PRE + "d0 SET MIG_DEVICE_STATE RUNNING = 0 data_fd=-1\nfd 6 read 512 = -1 ENODEV\n",
    uapi_rule="R8",
)

WRONG_IO_ANSWERED = Rule(
    id="K008", name="ImpossibleIoSucceeded", severity="error", party="driver", kind="misfit",
    summary="a wrong-direction or positioned I/O on a data fd succeeded",
    cite="uapi.md 10.2: saving fds are O_RDONLY, resuming fds O_WRONLY, both stream_open()",
    doc="The VFS refuses these before the driver runs (EBADF, ESPIPE).",
    fix="The fd is probably not the data fd the trace says it is; check the capture.",
    bad=_RES + "fd 6 read 512 = 12\n",
    good=_RES + "fd 6 read 512 = -1 EBADF\n",
)

FD_MISMATCH = Rule(
    id="K003", name="DataFdMismatch", severity="error", party="driver", kind="misfit",
    summary="a SET's data_fd disagrees with the session its final arc starts",
    cite="vfio.h, MIG_DEVICE_STATE comment: data_fd is returned when the final arc creates a "
         "session, -1 otherwise (uAPI:1037-1045)",
    doc="Exactly the arcs entering PRE_COPY, PRE_COPY_P2P (from a running state), STOP_COPY "
        "(from STOP) and RESUMING start a session and return its fd.",
    fix="Driver bug: return the new migration file from the session-starting arc only.",
    bad=_HEAD + "d0 SET MIG_DEVICE_STATE STOP_COPY = 0 data_fd=-1\n",
    good=_HEAD + "d0 SET MIG_DEVICE_STATE STOP_COPY = 0 data_fd=6\n",
)

UNEXPECTED_FD = Rule(
    id="K013", name="UnexplainedDataFd", severity="error", party="driver", kind="misfit",
    summary="a data fd appeared that no SET could have created",
    cite="vfio.h, MIG_DEVICE_STATE comment: data fds come only from a successful SET whose "
         "final arc starts a session (uAPI:1037-1045)",
    doc="In strace captures the data fd shows up at its first use; some FEATURE call before "
        "it must have been a SET that started a session.",
    fix="Check the capture (strace -f -y); a missing or misattributed call can cause this.",
    bad="device d0 flags=0x7\nd0 GET MIGRATION = 0 flags=0x7\nfd 6 appeared device=d0\n"
        "fd 6 read 512 = 24\n",
    good="device d0 flags=0x7\nd0 GET MIGRATION = 0 flags=0x7\nd0 ? ? = 0\n"
         "fd 6 appeared device=d0\nfd 6 read 512 = 24\n",
)

FD_NEVER_SEEN = Rule(
    id="K014", name="SessionFdNeverSeen", severity="note", party="unknown", kind="behaviour",
    summary="a session ended before its data fd was ever seen in the trace",
    cite="vfio.h, MIG_DEVICE_STATE comment (uAPI:1037-1045); core: EMFILE/EFAULT after the "
         "arc leaves a session without an fd (uapi.md 8.4)",
    doc="Either the VMM never used the fd, or the fd never reached user space.",
    fix="Use or close the fd; if the SET failed with EMFILE, reset the device.",
    bad=_HEAD + "d0 SET MIG_DEVICE_STATE PRE_COPY = 0\n"
                "d0 SET MIG_DEVICE_STATE RUNNING = 0 data_fd=-1\n",
    good=_PRE + "fd 6 read 512 = 24\nd0 SET MIG_DEVICE_STATE RUNNING = 0 data_fd=-1\n"
                "fd 6 close = 0\n",
)

RULES = (WRONG_DIRECTION, USE_AFTER_END, NEVER_CLOSED, CLOSED_THEN_CONTINUED, POSITIONED_IO,
         FOREIGN_IOCTL, DATA_AFTER_EOF, ENOMSG_IN_STOP_COPY, DEAD_FD_ANSWERED,
         WRONG_IO_ANSWERED, FD_MISMATCH, UNEXPECTED_FD, FD_NEVER_SEEN)
