"""Checks before a capture starts, each failing with one line that says what to do."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

# where the kernel's syscall tracepoints live (tracefs, or tracefs under debugfs)
TRACING_ROOTS = (Path("/sys/kernel/tracing"), Path("/sys/kernel/debug/tracing"))
CAP_SYS_ADMIN, CAP_PERFMON, CAP_BPF = 21, 38, 39


class CaptureError(RuntimeError):
    """A capture cannot start or failed; the message is one line for the user."""


def find_tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise CaptureError(f"{name} is not installed or not on PATH (Debian/Ubuntu: "
                           f"apt-get install {package})")
    return path


def effective_capabilities(status: Path = Path("/proc/self/status")) -> int:
    try:
        for line in status.read_text(encoding="ascii", errors="replace").splitlines():
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    except (OSError, ValueError, IndexError):
        pass
    return 0


def has_bpf_privileges() -> bool:
    """root, or CAP_SYS_ADMIN, or CAP_BPF with CAP_PERFMON (Linux >= 5.8)."""
    if os.geteuid() == 0:
        return True
    caps = effective_capabilities()
    if caps & (1 << CAP_SYS_ADMIN):
        return True
    return bool(caps & (1 << CAP_BPF)) and bool(caps & (1 << CAP_PERFMON))


def check_bpf_privileges() -> None:
    if not has_bpf_privileges():
        raise CaptureError("an eBPF capture needs root (or CAP_BPF + CAP_PERFMON, or "
                           "CAP_SYS_ADMIN): run it with sudo, or use --with strace")


def syscall_tracepoints(roots: tuple[Path, ...] | None = None) -> Path | None:
    """The ``events/syscalls`` folder of the kernel's tracing filesystem, if any."""
    for root in roots if roots is not None else TRACING_ROOTS:
        folder = root / "events" / "syscalls"
        if (folder / "sys_enter_ioctl").is_dir():
            return folder
    return None


def check_kernel_support(roots: tuple[Path, ...] | None = None) -> None:
    roots = roots if roots is not None else TRACING_ROOTS
    if syscall_tracepoints(roots) is not None:
        return
    if not any((root / "events").is_dir() for root in roots):
        raise CaptureError(f"no tracing filesystem at {roots[0]}: mount it (mount -t tracefs "
                           f"tracefs {roots[0]}) or, if the kernel has none, it lacks "
                           "CONFIG_FTRACE (vfio-migcheck docs capture-guide)")
    raise CaptureError("the kernel has no syscall tracepoints (CONFIG_FTRACE_SYSCALLS is off; "
                       "vfio-migcheck docs capture-guide lists the options): use "
                       "--with strace")


def check_pids(pids: list[int], proc: Path = Path("/proc")) -> None:
    for pid in pids:
        if pid <= 0 or not (proc / str(pid)).is_dir():
            raise CaptureError(f"no process with pid {pid}")
