"""Rules about finishing sessions: draining STOP_COPY, pre-copy ends, RESUMING commits."""

from __future__ import annotations

from vfio_migcheck.checker.rules.base import Rule

_HEAD = "device d0 flags=0x7\nd0 GET MIGRATION = 0 flags=0x7\n"
_RES = _HEAD + "d0 SET MIG_DEVICE_STATE RESUMING = 0 data_fd=6\n"

LEFT_BEFORE_EOF = Rule(
    id="U008", name="StopCopyLeftBeforeEof", severity="warning", party="vmm",
    kind="behaviour",
    summary="STOP_COPY was left before read() returned 0",
    cite="vfio.h, enum vfio_device_mig_state comment: STOP_COPY streams the complete state; "
         "VFIO_MIG_GET_PRECOPY_INFO comment: read() == 0 marks its end (uAPI:1146-1149)",
    doc="Leaving STOP_COPY ends the saving session; unless the migration is being "
        "abandoned, the image is incomplete.",
    fix="Read the saving fd until read() returns 0 before requesting STOP.",
    bad=_HEAD + "d0 SET MIG_DEVICE_STATE STOP_COPY = 0 data_fd=6\nfd 6 read 64 = 64\n"
                "d0 SET MIG_DEVICE_STATE STOP = 0 data_fd=-1\n",
    good=_HEAD + "d0 SET MIG_DEVICE_STATE STOP_COPY = 0 data_fd=6\nfd 6 read 64 = 64\n"
                 "fd 6 read 64 = 0\nd0 SET MIG_DEVICE_STATE STOP = 0 data_fd=-1\n",
    uapi_rule="R9",
)

ABANDON_RESUMING = Rule(
    id="U011", name="ResumingAbandonedBySet", severity="error", party="vmm",
    kind="behaviour",
    summary="RESUMING left by a SET although no resume data was accepted",
    cite="vfio.h, enum vfio_device_mig_state comment: to abort a RESUMING session the "
         "device must be reset (uAPI:1102)",
    doc="Leaving RESUMING commits the image; with nothing written there is no image. An "
        "unfinished RESUMING session is abandoned with VFIO_DEVICE_RESET.",
    fix="Use VFIO_DEVICE_RESET to abandon a resume; SET STOP only after writing the whole "
        "stream.",
    bad=_RES + "d0 SET MIG_DEVICE_STATE STOP = -1 EINVAL\n",
    good=_RES + "d0 RESET = 0\n",
    uapi_rule="R17",
)

RETRY_WITHOUT_RESET = Rule(
    id="U012", name="FailedCommitNotReset", severity="error", party="vmm", kind="behaviour",
    summary="after RESUMING -> STOP failed, RESUMING is left again with no new data or reset",
    cite="vfio.h, enum vfio_device_mig_state comment: RESUMING -> STOP fails on an invalid "
         "or incomplete image; a reset aborts the resume (uAPI:1094-1102)",
    doc="A failed commit means the image is bad or short. Retrying another SET without "
        "supplying the missing data cannot succeed and hides the failure.",
    fix="Write the rest of the stream and retry, or reset the device.",
    bad=_RES + "fd 6 write 88 = 88\nd0 SET MIG_DEVICE_STATE STOP = -1 EINVAL\n"
               "d0 GET MIG_DEVICE_STATE = 0 state=RESUMING\n"
               "d0 SET MIG_DEVICE_STATE RUNNING = -1 EINVAL\n",
    good=_RES + "fd 6 write 88 = 88\nd0 SET MIG_DEVICE_STATE STOP = -1 EINVAL\n"
                "fd 6 write 8 = 8\nd0 SET MIG_DEVICE_STATE STOP = 0 data_fd=-1\n",
    uapi_rule="R18",
)

RESUME_DATA_REJECTED = Rule(
    id="U019", name="ResumeDataRejected", severity="error", party="vmm", kind="behaviour",
    summary="the device rejected resume data (write() failed on the resuming fd)",
    cite="vfio.h, enum vfio_device_mig_state comment: data written in RESUMING must come "
         "from a saving fd of a compatible device, in order (uAPI:1039-1042, 1157-1159)",
    doc="Drivers refuse data that is not a valid image (EFAULT, EINVAL) or too long (ENOMEM, "
        "EOVERFLOW).",
    fix="Forward exactly the bytes read from the source's saving fd, in order, once.",
    bad=_RES + "fd 6 write 97 = -1 ENOMEM\n",
    good=_RES + "fd 6 write 96 = 96\n",
    uapi_rule="R7",
)

EOF_IN_PRECOPY = Rule(
    id="K004", name="PrecopyEndIsZeroRead", severity="warning", party="driver",
    kind="behaviour",
    summary="read() returned 0 in PRE_COPY where the uAPI asks for ENOMSG",
    cite="vfio.h, VFIO_MIG_GET_PRECOPY_INFO comment: at the temporary end of pre-copy data "
         "read() should return -1 with errno ENOMSG (uAPI:1261-1266)",
    doc="A 0 looks like the end of the stream, yet more data follows in STOP_COPY. mtty, "
        "hisi_acc and qat do this; VMMs must not take it as EOF.",
    fix="Driver: return -ENOMSG at the pre-copy temporary end. VMM: treat 0 in PRE_COPY as "
        "'no data now'.",
    bad=_HEAD + "d0 SET MIG_DEVICE_STATE PRE_COPY = 0 data_fd=6\nfd 6 read 64 = 24\n"
                "fd 6 read 64 = 0\n",
    good=_HEAD + "d0 SET MIG_DEVICE_STATE PRE_COPY = 0 data_fd=6\nfd 6 read 64 = 24\n"
                 "fd 6 read 64 = -1 ENOMSG\n",
    uapi_rule="R10",
    once_per_session=True,
)

EMPTY_COMMIT_ACCEPTED = Rule(
    id="K011", name="EmptyImageCommitted", severity="warning", party="driver",
    kind="behaviour",
    summary="RESUMING -> STOP succeeded although the device accepted no resume data",
    cite="vfio.h, enum vfio_device_mig_state comment: RESUMING -> STOP must fail if the data "
         "is incomplete or invalid (uAPI:1089-1097)",
    doc="Every write was refused, so the device cannot hold a valid image; mtty counts "
        "refused bytes and commits anyway.",
    fix="Driver: validate the image at RESUMING -> STOP and fail when it is incomplete.",
    bad=_RES + "fd 6 write 96 = -1 EFAULT\nd0 SET MIG_DEVICE_STATE STOP = 0 data_fd=-1\n",
    good=_RES + "fd 6 write 96 = 96\nd0 SET MIG_DEVICE_STATE STOP = 0 data_fd=-1\n",
    uapi_rule="R18",
)

RULES = (LEFT_BEFORE_EOF, ABANDON_RESUMING, RETRY_WITHOUT_RESET, RESUME_DATA_REJECTED,
         EOF_IN_PRECOPY, EMPTY_COMMIT_ACCEPTED)
