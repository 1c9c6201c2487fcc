"""U017 DeviceTouchedWhileQuiesced."""

from __future__ import annotations

from vfio_migcheck.checker.config import Config
from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.checker.rules.examples import HEAD

RULE = Rule(
    id="U017", name="DeviceTouchedWhileQuiesced", severity="warning", party="vmm",
    kind="behaviour",
    summary="device region I/O or mmap while in STOP_COPY or a P2P state",
    cite="vfio.h, enum vfio_device_mig_state comment: in STOP_COPY and the P2P states the "
         "user must not touch the device (uAPI:1151-1153, 1186-1188)",
    doc="Accessing the device may change its internal state behind the stream being saved, "
        "or make it leave the P2P state.",
    fix="Do region accesses before stopping the device or after it runs again.",
    bad=HEAD + "d0 SET MIG_DEVICE_STATE STOP_COPY = 0 data_fd=6\nd0 access pwrite64 = 1\n",
    good=HEAD + "d0 access pwrite64 = 1\nd0 SET MIG_DEVICE_STATE STOP_COPY = 0 data_fd=6\n",
    uapi_rule="R14, R15",
)


#: states in which the device must not be touched (its state is being saved or quiesced)
QUIESCED_STATES = frozenset({"STOP_COPY", "RUNNING_P2P", "PRE_COPY_P2P"})


def check(config: Config, call: str) -> str | None:
    """Region access (read/write/mmap of the device) while the device is quiesced."""
    if config.state not in QUIESCED_STATES:
        return None
    return f"{call} on the device in {config.state}"
