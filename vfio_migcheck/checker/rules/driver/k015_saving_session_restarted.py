"""K015 SavingSessionRestarted."""

from __future__ import annotations

from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.checker.rules.examples import HEAD

RULE = Rule(
    id="K015", name="SavingSessionRestarted", severity="note", party="driver",
    kind="behaviour",
    summary="an arc that keeps the saving session started a new one, because none was alive",
    cite="include/uapi/linux/vfio.h:1131-1149 (Linux 6.12.118): PRE_COPY(_P2P) -> STOP_COPY "
         "keeps the session; samples/vfio-mdev/mtty.c:971-1011: with no saving file (after "
         "the device was closed and reopened) mtty creates one and returns its fd",
    doc="The uAPI has no word for a saving-group state without a live session, but a driver "
        "that keeps its state across close and reopen (mtty) gets there, and its next arc "
        "into STOP_COPY starts a new saving session and returns a new data fd. Reported as a "
        "note when no driver profile is selected; with the mtty profile it is expected.",
    fix="Nothing to fix: read the new fd. A VMM should not rely on it; reset the device "
        "after reopening it in a saving state.",
    bad=HEAD + "d0 SET MIG_DEVICE_STATE PRE_COPY_P2P = 0 data_fd=6\nd0 close = 0\n"
               "device d0 flags=0x7\nd0 GET MIG_DEVICE_STATE = 0 state=PRE_COPY_P2P\n"
               "d0 SET MIG_DEVICE_STATE STOP_COPY = 0 data_fd=7\n",
    good=HEAD + "d0 SET MIG_DEVICE_STATE PRE_COPY_P2P = 0 data_fd=6\n"
                "d0 SET MIG_DEVICE_STATE STOP_COPY = 0 data_fd=-1\n",
)


def check(drivers: str) -> str:
    """The note for a new saving session on a 'keeps' arc, naming the drivers that do it."""
    return (f"no saving session was alive, and the arc into STOP_COPY returned a new data "
            f"fd: {drivers} start a new session here")
