"""Decoding tables for vfio-mig.bt output: raw words from user memory to event fields.

The bpftrace program prints what it read, undecoded (the header word, the first 16 payload
bytes before and after the call, the return value); decoding is here, in Python, where it
is data and under test. Layouts and numbers are those of ``include/uapi/linux/vfio.h``
(Linux 6.12): ``struct vfio_device_feature`` (line 967) is ``{u32 argsz; u32 flags;
u8 data[]}`` with the feature index in ``flags & 0xffff`` and GET/SET/PROBE in bits 16-18;
the payload starts at offset 8.
"""

from __future__ import annotations

import errno as _errno
from functools import lru_cache
from typing import Any

from vfio_migcheck.model.names import parse_state
from vfio_migcheck.model.spec import Spec, load_spec
from vfio_migcheck.traces.events import UNKNOWN

# VFIO_DEVICE_FEATURE_* indexes (vfio.h:987-1459)
FEATURES: dict[int, str] = {
    0: "PCI_VF_TOKEN", 1: "MIGRATION", 2: "MIG_DEVICE_STATE", 3: "LOW_POWER_ENTRY",
    4: "LOW_POWER_ENTRY_WITH_WAKEUP", 5: "LOW_POWER_EXIT", 6: "DMA_LOGGING_START",
    7: "DMA_LOGGING_STOP", 8: "DMA_LOGGING_REPORT", 9: "MIG_DATA_SIZE", 10: "BUS_MASTER",
}
FEATURE_MASK = 0xFFFF
FEATURE_GET, FEATURE_SET, FEATURE_PROBE = 0x10000, 0x20000, 0x40000

# fcntl commands (include/uapi/asm-generic/fcntl.h, linux/fcntl.h)
FCNTL_COMMANDS: dict[int, str] = {
    0: "F_DUPFD", 1: "F_GETFD", 2: "F_SETFD", 3: "F_GETFL", 4: "F_SETFL", 5: "F_GETLK",
    6: "F_SETLK", 7: "F_SETLKW", 8: "F_SETOWN", 9: "F_GETOWN", 10: "F_SETSIG",
    11: "F_GETSIG", 1024: "F_SETLEASE", 1025: "F_GETLEASE", 1026: "F_NOTIFY",
    1030: "F_DUPFD_CLOEXEC", 1031: "F_SETPIPE_SZ", 1032: "F_GETPIPE_SZ",
    1033: "F_ADD_SEALS", 1034: "F_GET_SEALS",
}
DUP_FCNTL = frozenset({0, 1030})
F_SETFD, FD_CLOEXEC, O_CLOEXEC = 2, 1, 0o2000000

# poll(2) revents bits that say the fd is ready (POLLIN, POLLPRI, POLLOUT, POLLERR, POLLHUP,
# POLLRDNORM, POLLWRNORM)
POLL_READY = 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x40 | 0x100

# Kernel-internal errnos a syscall may still show (include/linux/errno.h), and the names
# glibc's strerrorname_np gives where Linux has two names for one number.
_KERNEL_ERRNOS = {512: "ERESTARTSYS", 513: "ERESTARTNOINTR", 514: "ERESTARTNOHAND",
                  515: "ENOIOCTLCMD", 516: "ERESTART_RESTARTBLOCK", 517: "EPROBE_DEFER",
                  518: "EOPENSTALE", 519: "ENOPARAM", 521: "EBADHANDLE", 522: "ENOTSYNC",
                  523: "EBADCOOKIE", 524: "ENOTSUPP", 525: "ETOOSMALL", 526: "ESERVERFAULT",
                  527: "EBADTYPE", 528: "EJUKEBOX", 529: "EIOCBQUEUED", 530: "ERECALLCONFLICT"}
_PREFERRED = {11: "EAGAIN", 35: "EDEADLK", 95: "EOPNOTSUPP"}


def errno_name(number: int) -> str | None:
    """``EINVAL`` for 22; None for a number Linux gives no name."""
    if number in _PREFERRED:
        return _PREFERRED[number]
    if number in _KERNEL_ERRNOS:
        return _KERNEL_ERRNOS[number]
    return _errno.errorcode.get(number)


def result(ret: int) -> tuple[int, str | None]:
    """A raw syscall return (``-errno`` on failure) as the events' ``(ret, errno)``."""
    if ret < 0:
        name = errno_name(-ret)
        return -1, name if name is not None else f"E{-ret}"
    return ret, None


@lru_cache(maxsize=1)
def default_spec() -> Spec:
    return load_spec()


def state(value: int, spec: Spec | None = None) -> str | int:
    """A device state number as the spec names it; a number no state has stays a number."""
    return parse_state(value, spec or default_spec())


def s32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def feature_op(flags: int) -> Any:
    """GET, SET or PROBE from the request's flags; UNKNOWN when they are contradictory (the
    checker's raw-flags test then reports the malformed request)."""
    get, set_, probe = bool(flags & FEATURE_GET), bool(flags & FEATURE_SET), \
        bool(flags & FEATURE_PROBE)
    if probe:
        return "PROBE"
    if get and not set_:
        return "GET"
    if set_ and not get:
        return "SET"
    return UNKNOWN


def feature_name(flags: int) -> str:
    index = flags & FEATURE_MASK
    return FEATURES.get(index, f"FEATURE_{index}")


def feature_fields(flags: int, argsz: int, words_in: tuple[int, int],
                   words_out: tuple[int, int], ret: int,
                   spec: Spec | None = None) -> dict[str, Any]:
    """The FeatureCall fields of one VFIO_DEVICE_FEATURE call.

    ``words_in``/``words_out`` are the two little-endian u64 words at payload offset 0 and 8
    before and after the call. Reply fields are filled only when the call succeeded (the
    kernel writes the reply only then, except the ``data_fd = -1`` of a refused SET, which
    says nothing); fields a call does not carry are None, as in the canonical reader.
    """
    op = feature_op(flags)
    feature = feature_name(flags)
    out: dict[str, Any] = {"op": op, "feature": feature, "argsz": argsz, "raw_flags": flags,
                           "target": None, "reply_state": None, "data_fd": None,
                           "mig_flags": None, "data_size": None, "probe_ops": None}
    ok = ret == 0
    if op == "PROBE":
        out["probe_ops"] = tuple(name for name, bit in (("GET", FEATURE_GET),
                                                         ("SET", FEATURE_SET)) if flags & bit)
    elif feature == "MIG_DEVICE_STATE" and op == "SET":
        # struct vfio_device_feature_mig_state {u32 device_state; s32 data_fd} (vfio.h:1051)
        out["target"] = state(words_in[0] & 0xFFFFFFFF, spec)
        if ok:
            out["data_fd"] = s32(words_out[0] >> 32)
    elif feature == "MIG_DEVICE_STATE" and op == "GET":
        if ok:
            out["reply_state"] = state(words_out[0] & 0xFFFFFFFF, spec)
            out["data_fd"] = s32(words_out[0] >> 32)
    elif feature == "MIGRATION" and op == "GET":
        # struct vfio_device_feature_migration {u64 flags} (vfio.h:1017)
        if ok:
            out["mig_flags"] = words_out[0]
    elif feature == "MIG_DATA_SIZE" and op == "GET":
        # struct vfio_device_feature_mig_data_size {u64 stop_copy_length} (vfio.h:1438)
        if ok:
            out["data_size"] = words_out[0]
    elif op is UNKNOWN and feature in ("MIG_DEVICE_STATE", "MIGRATION", "MIG_DATA_SIZE"):
        # contradictory flags: the kernel refuses before any payload is looked at
        pass
    return out


def fcntl_name(cmd: int) -> str:
    return FCNTL_COMMANDS.get(cmd, str(cmd))
