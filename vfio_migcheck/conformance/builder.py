"""Writing one scenario: canonical lines with ``= ?`` plus the model's prediction per call.

The builder owns the bookkeeping a scenario author should not do by hand: the fd numbers
the kernel will hand out (lowest free; the runner maps them to the real ones), which data
fds are open, whether a saved stream exists for ``src=saved`` writes, and the prediction of
every call from :mod:`vfio_migcheck.conformance.predict`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vfio_migcheck.conformance.predict import DevicePredictor, FdTable, Prediction
from vfio_migcheck.conformance.statements import Statement, parse_line
from vfio_migcheck.model.profiles import DriverProfile, find_profile
from vfio_migcheck.model.spec import Spec

# fds the runner opens per device before any scenario call (after stdin/stdout/stderr):
# group API: the shared container, then per device its group and device fd;
# cdev API: the shared /dev/iommu, then per device the cdev fd.
FIRST_FD = 3
DRAIN_READ = 65536     # one read this large returns all of a small device's stream


@dataclass
class SavingFd:
    reads_in_stop_copy: int = 0

    @property
    def drained(self) -> bool:
        """Two large reads in STOP_COPY: the first gets the data, the second sees EOF."""
        return self.reads_in_stop_copy >= 2


@dataclass
class Scenario:
    """A generated scenario: its text and the prediction of each call, in order."""

    name: str
    group: str
    api: str
    description: str
    lines: list[str] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines) + "\n"

    def sidecar(self, spec: Spec, flags: int) -> dict[str, Any]:
        """The predictions; each distinct outcome is stored once and calls index it."""
        outcomes: list[dict[str, Any]] = []
        index: dict[str, int] = {}
        calls = []
        for call in self.calls:
            refs = []
            for outcome in call["prediction"]["outcomes"]:
                key = json.dumps(outcome, sort_keys=True)
                if key not in index:
                    index[key] = len(outcomes)
                    outcomes.append(outcome)
                refs.append(index[key])
            calls.append({"line": call["line"], "allowed": refs,
                          "states": call["prediction"]["states"],
                          "fd_kind": call["prediction"]["fd_kind"]})
        return {"scenario": self.name, "group": self.group, "api": self.api,
                "spec": spec.name, "flags": flags, "description": self.description,
                "outcomes": outcomes, "calls": calls}

    def write(self, directory: Path, spec: Spec, flags: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"{self.name}.vmc").write_text(self.text, encoding="utf-8")
        sidecar = json.dumps(self.sidecar(spec, flags), ensure_ascii=False,
                             separators=(",", ":")).replace('},{"line"', '},\n{"line"')
        (directory / f"{self.name}.predict.json").write_text(sidecar + "\n", encoding="utf-8")


class ScenarioBuilder:
    """Append calls; each gets ``= ?`` in the text and a prediction in the sidecar."""

    def __init__(self, spec: Spec, flags: int, api: str, name: str, group: str,
                 description: str, profile: DriverProfile | None = None) -> None:
        self.spec, self.flags, self.api = spec, flags, api
        # the lab's driver; its profile decides what the uAPI leaves to drivers (reopen)
        self.profile = profile if profile is not None else find_profile("mtty")
        self.device_fds: dict[str, int] = {}
        self.scenario = Scenario(name, group, api, description)
        self.fds = FdTable(set(range(FIRST_FD)))
        self.devices: dict[str, DevicePredictor] = {}
        self.saving: dict[int, SavingFd] = {}
        self.resume_written: dict[int, str] = {}    # fd -> none | partial | complete
        self.stream_kept = False
        self._container_open = False
        self.scenario.lines.append("# vmc-trace 1")
        self.comment(f"scenario {name}: {description}")
        self.comment(f"spec {spec.name} flags {flags:#x} api {api}")

    # --- text ---------------------------------------------------------------------------
    def comment(self, text: str) -> None:
        self.scenario.lines.append(f"# {text}")

    def device(self, name: str) -> None:
        """Declare (open) a device; declaring it again after ``close_device`` reopens it."""
        known = self.devices.get(name)
        if known is not None:
            if known.open:
                raise ValueError(f"device {name!r} is declared again while open")
            fd = self.fds.lowest_free()                     # the new device fd
            self.fds.used.add(fd)
            self.device_fds[name] = fd
            known.reopen()
            self.scenario.lines.append(f"device {name} driver=mtty api={self.api} "
                                       f"flags={self.flags:#x}")
            return
        if not self._container_open:
            self.fds.used.add(self.fds.lowest_free())       # container or /dev/iommu
            self._container_open = True
        if self.api == "group":
            self.fds.used.add(self.fds.lowest_free())       # group fd (kept across reopen)
        fd = self.fds.lowest_free()                         # device fd
        self.fds.used.add(fd)
        self.device_fds[name] = fd
        self.devices[name] = DevicePredictor(self.spec, self.flags, self.fds,
                                             profile=self.profile)
        self.scenario.lines.append(f"device {name} driver=mtty api={self.api} "
                                   f"flags={self.flags:#x}")

    def close_device(self, name: str) -> None:
        """``NAME close``: the last close of the device fd runs the driver's close_device."""
        self.call(f"{name} close")
        self.fds.used.discard(self.device_fds.pop(name))

    def call(self, text: str) -> Prediction:
        """Add one call (``dev SET STATE STOP``, ``fd 6 write 40 # run: src=saved``)."""
        line_no = len(self.scenario.lines) + 1
        text, _, note = text.partition("#")
        text, note = text.strip(), f"  # {note.strip()}" if note.strip() else ""
        parsed = parse_line(f"{text} = ?{note}", line_no, self.scenario.name)
        if not isinstance(parsed, Statement):
            raise ValueError(f"not a call: {text!r}")
        if parsed.subject == "fd":
            prediction = self._fd_call(parsed)
            line = f"{text} = ?{note}"
        else:
            device = self.devices.get(parsed.subject)
            if device is None:
                raise ValueError(f"undeclared device {parsed.subject!r}")
            prediction, new_fd = device.predict(parsed)
            line = f"{text} = ?" + (f" data_fd={new_fd}" if new_fd is not None else "") + note
            if new_fd is not None:
                kinds = {s.kind for c in device.configs for s in c.sessions if s.fd == new_fd}
                if "saving" in kinds:
                    self.saving[new_fd] = SavingFd()
                if "resuming" in kinds:
                    self.resume_written[new_fd] = "none"
        self.scenario.lines.append(line)
        self.scenario.calls.append({"line": line_no, "call": text + note,
                                    "prediction": prediction.to_json()})
        return prediction

    def _owner(self, fd: int) -> DevicePredictor | None:
        for device in self.devices.values():
            if device.owns_fd(fd):
                return device
        return None

    def _fd_call(self, st: Statement) -> Prediction:
        assert st.fd is not None
        owner = self._owner(st.fd) or next(iter(self.devices.values()))
        if st.verb == "read" and st.fd in self.saving and owner.states() == ("STOP_COPY",):
            if st.args and st.args[0] == str(DRAIN_READ):
                self.saving[st.fd].reads_in_stop_copy += 1
        if st.verb == "write" and st.directives.get("src") == "saved":
            if not self.stream_kept:
                raise ValueError("src=saved before any stream was kept")
            rest = st.directives.get("len") == "rest"
            self.resume_written[st.fd] = "complete" if rest else "partial"
        if st.verb == "close":
            if st.directives.get("keep") == "stream":
                if not self.saving.get(st.fd, SavingFd()).drained:
                    raise ValueError(f"keep=stream on fd {st.fd}, which was not drained")
                self.stream_kept = True
            self.saving.pop(st.fd, None)
            self.resume_written.pop(st.fd, None)
        return owner.predict_fd(st)

    # --- conveniences used by the scenario families ---------------------------------------
    def open_fds(self, device: str | None = None) -> list[int]:
        devices = [self.devices[device]] if device else list(self.devices.values())
        return sorted(fd for d in devices for fd in d.fd_numbers)

    def close_all(self, device: str | None = None) -> None:
        for fd in self.open_fds(device):
            keep = " # run: keep=stream" if self.saving.get(fd, SavingFd()).drained else ""
            self.call(f"fd {fd} close{keep}")

    def realize(self, dev: str) -> None:
        """What a VMM does first (QEMU vfio_migration_realize): GET MIGRATION, PROBE the state."""
        self.call(f"{dev} GET MIGRATION")
        self.call(f"{dev} PROBE STATE GET|SET")

    def drain(self, fd: int) -> None:
        self.call(f"fd {fd} read {DRAIN_READ}")
        self.call(f"fd {fd} read {DRAIN_READ}")

    def quick_save(self, dev: str) -> None:
        """RESET, STOP_COPY, drain, STOP, close keeping the stream for later writes."""
        self.comment("quick save: keep a complete stream for src=saved writes")
        self.call(f"{dev} RESET")
        self.call(f"{dev} SET STATE STOP_COPY")
        (fd,) = [f for f in self.open_fds(dev) if f in self.saving]
        self.drain(fd)
        self.call(f"{dev} SET STATE STOP")
        self.call(f"fd {fd} close # run: keep=stream")

    def data_fd(self, dev: str, kind: str) -> int:
        """The open data fd of ``kind`` (saving/resuming) of ``dev`` (the newest)."""
        table = self.saving if kind == "saving" else self.resume_written
        fds = [f for f in self.open_fds(dev) if f in table]
        if not fds:
            raise ValueError(f"{dev} has no open {kind} fd")
        return fds[-1]
