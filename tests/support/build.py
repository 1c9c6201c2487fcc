"""Terse event builders for engine and rule tests (one call per trace line)."""

from __future__ import annotations

from vfio_migcheck.traces.events import (
    UNKNOWN,
    DataClose,
    DataIO,
    DeviceOpen,
    DeviceReset,
    FdAppeared,
    FeatureCall,
    Origin,
    PrecopyInfo,
)


class Trace:
    """Accumulates events with consecutive line numbers in one file."""

    def __init__(self, file: str = "t.vmc", pid: int = 1) -> None:
        self.file, self.pid, self.events, self.line = file, pid, [], 0

    def _o(self, span: int = 1) -> Origin:
        self.line += span
        return Origin(self.file, self.line)

    def _add(self, cls, **kw):
        kw.setdefault("pid", self.pid)
        ev = cls(self._o(), **kw)
        self.events.append(ev)
        return ev

    def open(self, dev="d0", fd=5, flags=UNKNOWN, state=UNKNOWN):
        return self._add(DeviceOpen, device=dev, fd=fd, flags=flags, state=state)

    def query(self, dev="d0", flags=0x7):
        return self._add(FeatureCall, device=dev, fd=5, op="GET", feature="MIGRATION", ret=0,
                         errno=None, mig_flags=flags)

    def set(self, target, ret=0, errno=None, data_fd=UNKNOWN, dev="d0"):
        if ret == 0 and data_fd is UNKNOWN:
            data_fd = -1
        return self._add(FeatureCall, device=dev, fd=5, op="SET", feature="MIG_DEVICE_STATE",
                         ret=ret, errno=errno, target=target, data_fd=data_fd)

    def get(self, state, dev="d0"):
        return self._add(FeatureCall, device=dev, fd=5, op="GET", feature="MIG_DEVICE_STATE",
                         ret=0, errno=None, reply_state=state)

    def hidden(self, ret=0, errno=None, dev="d0"):
        return self._add(FeatureCall, device=dev, fd=5, ret=ret, errno=errno)

    def reset(self, ret=0, errno=None, dev="d0"):
        return self._add(DeviceReset, device=dev, fd=5, ret=ret, errno=errno)

    def appeared(self, fd=6, file=None, after=None):
        after = after or Origin(self.file, self.line)
        return self._add(FdAppeared, fd=fd, file=file or f"f{fd}", after_feature=after)

    def read(self, ret, fd=6, requested=4096, errno=None, file=None):
        return self._add(DataIO, fd=fd, file=file or f"f{fd}", call="read", direction="read",
                         requested=requested, ret=ret, errno=errno)

    def write(self, ret, fd=6, requested=None, errno=None, file=None):
        req = requested if requested is not None else (ret if ret > 0 else 16)
        return self._add(DataIO, fd=fd, file=file or f"f{fd}", call="write",
                         direction="write", requested=req, ret=ret, errno=errno)

    def info(self, ret=0, errno=None, fd=6, argsz=UNKNOWN, file=None):
        return self._add(PrecopyInfo, fd=fd, file=file or f"f{fd}", ret=ret, errno=errno,
                         argsz=argsz)

    def close(self, fd=6, file=None, how="close"):
        return self._add(DataClose, fd=fd, file=file or f"f{fd}", ret=0, errno=None, how=how)
