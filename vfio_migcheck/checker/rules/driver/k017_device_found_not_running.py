"""K017 DeviceFoundNotRunning."""

from __future__ import annotations

from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.checker.rules.examples import HEAD

RULE = Rule(
    id="K017", name="DeviceFoundNotRunning", severity="note", party="driver",
    kind="behaviour",
    summary="the device was not in RUNNING when the trace opened it",
    cite="samples/vfio-mdev/mtty.c:1352, 1946-1957 (Linux 6.12.118): mtty has no open_device "
         "and keeps the state across close and reopen; every PCI driver sets RUNNING in "
         "open_device (e.g. drivers/vfio/pci/mlx5/main.c:1325-1326)",
    doc="Every PCI migration driver starts an opened device in RUNNING, but a driver without "
        "open_device (mtty) keeps whatever state a previous user left. When the trace shows "
        "that the device was not in RUNNING, checking continues from every state it could "
        "have been in.",
    fix="Nothing to fix in the trace; a VMM should reset such a device before using it.",
    bad=HEAD + "d0 GET MIG_DEVICE_STATE = 0 state=STOP\n",
    good=HEAD + "d0 GET MIG_DEVICE_STATE = 0 state=RUNNING\n",
)


def check(drivers: str) -> str:
    return (f"the device was not in RUNNING when it was opened: {drivers} keep the state a "
            "previous user left")
