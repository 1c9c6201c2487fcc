"""K016 StateChangedUnasked."""

from __future__ import annotations

from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.checker.rules.examples import PRE

RULE = Rule(
    id="K016", name="StateChangedUnasked", severity="warning", party="driver",
    kind="behaviour",
    summary="the device reports ERROR although no request failed: it changed state by itself",
    cite="include/uapi/linux/vfio.h:1170-1176 (Linux 6.12.118): ERROR follows a failed "
         "request; drivers/vfio/pci/pds/pci_drv.c:22-44: pds enters ERROR on a device "
         "recovery event and ends the data sessions",
    doc="Only a failed SET may leave a device in ERROR, yet pds moves a migrating device to "
        "ERROR on its own when the device recovers from a fault, and ends its sessions. "
        "Checking continues in ERROR; a VFIO_DEVICE_RESET returns the device to RUNNING.",
    fix="Driver: report recovery through the next request's failure. VMM: expect ERROR at "
        "any time on such devices and reset.",
    bad=PRE + "d0 GET MIG_DEVICE_STATE = 0 state=ERROR\n",
    good=PRE + "d0 GET MIG_DEVICE_STATE = 0 state=PRE_COPY\n",
)


def check(state: str, drivers: str) -> str:
    return f"GET reports ERROR in {state} with no failed request before it: {drivers} do this"
