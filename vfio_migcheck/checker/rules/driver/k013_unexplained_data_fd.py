"""K013 UnexplainedDataFd."""

from __future__ import annotations

from vfio_migcheck.checker.rules.base import Rule

RULE = Rule(
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
