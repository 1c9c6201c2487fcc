"""U001 SetBeforeQuery."""

from __future__ import annotations

from vfio_migcheck.checker.config import Config
from vfio_migcheck.checker.rules.base import Rule

RULE = Rule(
    id="U001", name="SetBeforeQuery", severity="warning", party="vmm", kind="behaviour",
    summary="SET MIG_DEVICE_STATE before reading VFIO_DEVICE_FEATURE_MIGRATION",
    cite="vfio.h, struct vfio_device_feature_migration comment: the flags say which states "
         "exist; vfio.h, MIG_DEVICE_STATE comment: optional states must not be requested "
         "unless supported",
    doc="The supported states depend on the migration flags, which only a GET of "
        "VFIO_DEVICE_FEATURE_MIGRATION reveals. A VMM that sets states without asking may "
        "request one the device does not have.",
    fix="Issue VFIO_DEVICE_FEATURE GET MIGRATION once after opening the device and request "
        "only states its flags allow.",
    bad="device d0\nd0 SET MIG_DEVICE_STATE STOP = 0 data_fd=-1\n",
    good="device d0\nd0 GET MIGRATION = 0 flags=0x7\nd0 SET MIG_DEVICE_STATE STOP = 0 data_fd=-1\n",
    uapi_rule="R1",
)


def check(config: Config) -> str | None:
    """A SET MIG_DEVICE_STATE in a reading where the migration flags were never read."""
    if config.queried:
        return None
    return "SET MIG_DEVICE_STATE before any GET of VFIO_DEVICE_FEATURE_MIGRATION"
