"""K004 PrecopyEndIsZeroRead."""

from __future__ import annotations

from vfio_migcheck.checker.config import PRECOPY_STATES, Config
from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.checker.rules.examples import HEAD
from vfio_migcheck.traces.events import DataIO

RULE = Rule(
    id="K004", name="PrecopyEndIsZeroRead", severity="warning", party="driver",
    kind="behaviour",
    summary="read() returned 0 in PRE_COPY where the uAPI asks for ENOMSG",
    cite="vfio.h, VFIO_MIG_GET_PRECOPY_INFO comment: at the temporary end of pre-copy data "
         "read() should return -1 with errno ENOMSG (uAPI:1261-1266)",
    doc="A 0 looks like the end of the stream, yet more data follows in STOP_COPY. mtty, "
        "hisi_acc and qat do this; VMMs must not take it as EOF.",
    fix="Driver: return -ENOMSG at the pre-copy temporary end. VMM: treat 0 in PRE_COPY as "
        "'no data now'.",
    bad=HEAD + "d0 SET MIG_DEVICE_STATE PRE_COPY = 0 data_fd=6\nfd 6 read 64 = 24\n"
               "fd 6 read 64 = 0\n",
    good=HEAD + "d0 SET MIG_DEVICE_STATE PRE_COPY = 0 data_fd=6\nfd 6 read 64 = 24\n"
                "fd 6 read 64 = -1 ENOMSG\n",
    uapi_rule="R10",
    once_per_session=True,
)


def check(config: Config, event: DataIO) -> str | None:
    """read() = 0 on the saving fd in a PRE_COPY state (the uAPI asks for ENOMSG)."""
    if config.state not in PRECOPY_STATES or event.ret != 0:
        return None
    return (f"read() = 0 in {config.state}: the uAPI asks for ENOMSG at the "
            "pre-copy temporary end")
