"""Ground truth (.gt) logs of the mtty corpus -> canonical trace text (exact mode).

The test program logs every call it makes with its decoded payload
(``GT seq=N thr=T kind=call op=... key=value ...``), so the converted trace shows everything
strace hides. Calls unrelated to VFIO migration (sysfs, blob files) are dropped; notes become
comments, and ``op=case`` notes are remembered with their canonical line range so tests can
check findings case by case.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

_STATE_RE = re.compile(r"([A-Z0-9_]+)\((\d+)\)")
FEATURE_INDEX = {"MIGRATION": 1, "MIG_DEVICE_STATE": 2, "DMA_LOGGING_START": 6,
                 "DMA_LOGGING_STOP": 7, "DMA_LOGGING_REPORT": 8, "MIG_DATA_SIZE": 9}
THREAD_IDS = {"main": 1, "reader": 2}


@dataclass
class Converted:
    text: str
    cases: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (first, last)
    devices: list[str] = field(default_factory=list)


def parse_line(line: str) -> dict[str, str] | None:
    if not line.startswith("GT "):
        return None
    fields: dict[str, str] = {}
    for token in shlex.split(line[3:], posix=True):
        key, _, value = token.partition("=")
        fields[key] = value
    return fields


def _state(value: str) -> str:
    """``PRE_COPY(6)`` -> ``PRE_COPY``; ``INVALID(8)`` -> ``8``."""
    m = _STATE_RE.fullmatch(value)
    if not m:
        return value
    return m.group(2) if m.group(1) == "INVALID" else m.group(1)


def _result(f: dict[str, str]) -> str:
    rc = f.get("rc", "?").split("(")[0]
    errno = f.get("errno", "0")
    try:
        value = int(rc, 0)
    except ValueError:
        return "?"
    if value < 0:
        return f"-1 {errno}"
    return str(value)


class _Converter:
    def __init__(self) -> None:
        self.lines: list[str] = ["# vmc-trace 1"]
        self.devices: dict[int, str] = {}
        self.data_fds: set[int] = set()
        self.cases: dict[str, tuple[int, int]] = {}
        self.case: str | None = None
        self.concurrent = False
        self.seq = 0

    def emit(self, text: str, thr: str) -> None:
        if self.concurrent:
            # seq is taken after each call returns, so calls of two threads may have run in
            # the other order: give each call a start (seq) and a duration reaching past the
            # next record, which the engine reads as "may overlap its neighbour".
            self.lines.append(f"@{self.seq} [{THREAD_IDS.get(thr, 9)}] {text} <1.5>")
        else:
            self.lines.append(f"[{THREAD_IDS.get(thr, 9)}] {text}")
        self._extend_case()

    def note(self, text: str) -> None:
        self.lines.append(f"# {text}")

    def _extend_case(self) -> None:
        if self.case is not None:
            first, _ = self.cases[self.case]
            self.cases[self.case] = (first, len(self.lines))

    def device(self, fd: int, how: str) -> None:
        name = f"dev{fd}"
        self.devices[fd] = name
        self.lines.append(f"device {name} fd={fd} api={how}")

    def call(self, f: dict[str, str]) -> None:
        op, thr = f.get("op"), f.get("thr", "main")
        fd = int(f["fd"]) if "fd" in f and f["fd"].lstrip("-").isdigit() else None
        what = f.get("what", "")
        res = _result(f)
        if op == "open" and f.get("path", "").startswith("/dev/vfio/devices/"):
            self.device(int(f["rc"]), "cdev")
        elif op == "ioctl":
            self.ioctl(f, fd, thr, res)
        elif op in ("read", "write") and (fd in self.data_fds or what.startswith("data_fd")):
            self.emit(f"fd {fd} {op} {f.get('len', '?')} = {res}", thr)
        elif op in ("pread", "pwrite"):
            call = "pread64" if op == "pread" else "pwrite64"
            if fd in self.devices:
                self.emit(f"{self.devices[fd]} access {call} = {res}", thr)
            else:
                self.emit(f"fd {fd} {call} {f.get('len', '?')} = {res}", thr)
        elif op == "poll" and fd in self.data_fds:
            self.emit(f"fd {fd} poll = {res}", thr)
        elif op == "fcntl" and fd in self.data_fds:
            self.emit(f"fd {fd} fcntl {f.get('cmd', '?')} = {res.split('(')[0]}", thr)
        elif op == "lseek" and fd in self.data_fds:
            self.emit(f"fd {fd} lseek = {res}", thr)
        elif op == "close" and fd in self.data_fds:
            self.emit(f"fd {fd} close = {res}", thr)
            self.data_fds.discard(fd)
        elif op == "close" and fd in self.devices:
            self.emit(f"{self.devices.pop(fd)} close = {res}", thr)

    def ioctl(self, f: dict[str, str], fd: int | None, thr: str, res: str) -> None:
        req = f.get("req", "")
        if req.startswith("VFIO_GROUP_GET_DEVICE_FD") and res.isdigit():
            self.device(int(res), "group")
            return
        if fd in self.data_fds:
            if req.startswith("VFIO_MIG_GET_PRECOPY_INFO"):
                extra = ""
                if res == "0":
                    extra = (f" initial={f.get('out.initial_bytes')}"
                             f" dirty={f.get('out.dirty_bytes')}")
                self.emit(f"fd {fd} precopy_info argsz={f.get('in.argsz', 24)} = {res}{extra}",
                          thr)
            else:
                self.emit(f"fd {fd} ioctl {req.split('(')[0]} = {res}", thr)
            return
        if fd not in self.devices:
            return
        dev = self.devices[fd]
        if req.startswith("VFIO_DEVICE_RESET"):
            self.emit(f"{dev} RESET = {res}", thr)
        elif req.startswith("VFIO_MIG_GET_PRECOPY_INFO"):
            self.emit(f"{dev} access VFIO_MIG_GET_PRECOPY_INFO = {res}", thr)
        elif "feature" in f:
            self.feature(f, dev, thr, res)
        elif req.startswith("VFIO_DEVICE_FEATURE"):
            argsz = f.get("argsz", "?")
            self.emit(f"{dev} ? ? argsz={argsz} rawflags={f.get('flags', '?')} = {res}", thr)

    def feature(self, f: dict[str, str], dev: str, thr: str, res: str) -> None:
        feature, flags, argsz = f["feature"], f.get("flags", ""), f.get("argsz", "16")
        ok = res == "0"
        if "PROBE" in flags:
            ops = "|".join(o for o in ("GET", "SET") if o in flags) or "GET"
            self.emit(f"{dev} PROBE {feature} {ops} argsz={argsz} = {res}", thr)
        elif feature == "MIGRATION":
            out = f.get("out.flags", "").split("(")[0]
            tail = f" flags={out}" if ok and out else ""
            self.emit(f"{dev} GET MIGRATION argsz={argsz} = {res}{tail}", thr)
        elif feature == "MIG_DATA_SIZE":
            size = f.get("out.stop_copy_length")
            tail = f" size={size}" if ok and size is not None else ""
            self.emit(f"{dev} GET MIG_DATA_SIZE argsz={argsz} = {res}{tail}", thr)
        elif feature == "MIG_DEVICE_STATE" and flags == "GET":
            tail = f" state={_state(f['out.device_state'])}" if ok else ""
            self.emit(f"{dev} GET STATE argsz={argsz} = {res}{tail}", thr)
        elif feature == "MIG_DEVICE_STATE" and flags == "SET":
            target = _state(f.get("in.device_state", "?"))
            data_fd = f.get("out.data_fd", "-1")
            self.emit(f"{dev} SET STATE {target} argsz={argsz} = {res} data_fd={data_fd}", thr)
            if ok and int(data_fd) >= 0:
                self.data_fds.add(int(data_fd))

    def convert(self, text: str) -> Converted:
        records = [r for r in (parse_line(line) for line in text.splitlines()) if r]
        records.sort(key=lambda r: int(r.get("seq", "0")))
        self.concurrent = len({r.get("thr") for r in records if r.get("kind") == "call"}) > 1
        for f in records:
            self.seq = int(f.get("seq", "0"))
            if f.get("kind") == "note":
                if f.get("op") == "case":
                    self.case = f["name"]
                    self.note(f"case {self.case}")
                    self.cases[self.case] = (len(self.lines), len(self.lines))
                elif f.get("op") in ("teardown", "end"):
                    self.case = None
                continue
            self.call(f)
        return Converted("\n".join(self.lines) + "\n", self.cases,
                         sorted(set(self.devices.values())))


def convert(text: str) -> Converted:
    """Convert the text of one .gt log."""
    return _Converter().convert(text)


def convert_file(path: str | Path) -> Converted:
    return convert(Path(path).read_text())
