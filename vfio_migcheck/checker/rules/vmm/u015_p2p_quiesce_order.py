"""U015 P2pQuiesceOrder."""

from __future__ import annotations

from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.checker.rules.examples import TWO

RULE = Rule(
    id="U015", name="P2pQuiesceOrder", severity="warning", party="vmm", kind="behaviour",
    summary="a P2P device stopped while a peer still ran without P2P quiescence, or resumed "
            "RUNNING while a peer was still stopped",
    cite="vfio.h, enum vfio_device_mig_state comment on RUNNING_P2P: peers must not be DMA "
         "targets once stopped (uAPI:1178-1188); ordering as QEMU practises it (qemu.md 2)",
    doc="With several P2P devices, all must reach RUNNING_P2P/PRE_COPY_P2P before any "
        "enters STOP or STOP_COPY, and all must be back in RUNNING_P2P before any returns "
        "to RUNNING, so no device DMAs into a stopped peer.",
    fix="Move every device to its P2P state first, then stop them; on the way back bring all "
        "to RUNNING_P2P before any to RUNNING.",
    bad=TWO + "a SET MIG_DEVICE_STATE STOP = 0 data_fd=-1\n",
    good=TWO + "a SET MIG_DEVICE_STATE RUNNING_P2P = 0 data_fd=-1\n"
                "b SET MIG_DEVICE_STATE RUNNING_P2P = 0 data_fd=-1\n"
                "a SET MIG_DEVICE_STATE STOP = 0 data_fd=-1\n"
                "b SET MIG_DEVICE_STATE STOP = 0 data_fd=-1\n",
    uapi_rule="R16",
)
