"""U014 SessionKeptAfterFdClosed."""

from __future__ import annotations

from vfio_migcheck.checker.config import Config
from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.checker.rules.examples import PRE
from vfio_migcheck.model.fsm import Step

RULE = Rule(
    id="U014", name="SessionKeptAfterFdClosed", severity="error", party="vmm",
    kind="behaviour",
    summary="a saving session is carried on into STOP_COPY after its fd was closed",
    cite="vfio.h, enum vfio_device_mig_state comment: PRE_COPY -> STOP_COPY keeps the same "
         "data fd; close() does not end the session (uAPI:1038-1039, 1131-1149)",
    doc="Closing the fd does not end the session, so the device goes on streaming into a "
        "session nobody can read: the image can never be drained to EOF.",
    fix="Keep the saving fd open until STOP_COPY has been read to EOF, or abort by going "
        "back to RUNNING.",
    bad=PRE + "fd 6 close = 0\nd0 SET MIG_DEVICE_STATE STOP_COPY = 0 data_fd=-1\n",
    good=PRE + "fd 6 close = 0\nd0 SET MIG_DEVICE_STATE RUNNING = 0 data_fd=-1\n",
    uapi_rule="R6, R9",
)


def check(config: Config, steps: tuple[Step, ...]) -> str | None:
    """A path into STOP_COPY keeps a saving session whose fd is already closed."""
    session = config.session
    if session is None or not steps or session.opaque:
        return None
    if session.kind == "saving" and session.closed and any(
        s.session == "keeps" and s.dst == "STOP_COPY" for s in steps
    ):
        return (f"{config.state} -> STOP_COPY keeps the saving session whose fd was "
                "closed: nobody can read the image")
    return None
