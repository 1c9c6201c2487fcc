"""Run a tracer next to the processes it records, and stop it cleanly.

A command is started *gated*: a small Python stub forks off with the command's pid, waits on
a pipe until the tracer has attached (bpftrace prints its ``attached`` header from BEGIN,
which runs after every probe is in place), then execs the command, so not one of its calls
is missed and the pid the tracer follows is the command's own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vfio_migcheck.capture.commands import bpftrace_command, strace_command
from vfio_migcheck.capture.preflight import CaptureError

ATTACHED = "vfio-mig-bt 1 attached"
# bpftrace warns about RLIMIT_MEMLOCK on kernels that account BPF memory by cgroup (5.11+),
# where the limit does not matter: not an error
HARMLESS = ("couldn't set RLIMIT_MEMLOCK",)
GATE = ("import os, sys\n"
        "fd = int(sys.argv[1])\n"
        "go = os.read(fd, 1)\n"
        "os.close(fd)\n"
        "if not go:\n"
        "    sys.exit(125)\n"
        "try:\n"
        "    os.execvp(sys.argv[2], sys.argv[2:])\n"
        "except OSError as exc:\n"
        "    sys.stderr.write(f'vfio-migcheck capture: cannot run {sys.argv[2]}: "
        "{exc.strerror}\\n')\n"
        "    sys.exit(127)\n")


@dataclass(frozen=True)
class Outcome:
    output: Path
    lines: int
    command_status: int | None      # exit status of the command capture started, if any


def _lines(path: Path) -> int:
    try:
        with path.open("rb") as handle:
            return sum(1 for _ in handle)
    except OSError:
        return 0


def tool_error(stderr_text: str, tool: str) -> str:
    """The first line of a tool's stderr that says what went wrong."""
    for line in stderr_text.splitlines():
        text = line.strip()
        if not text or any(h in text for h in HARMLESS):
            continue
        if text.startswith(("ERROR", "strace:", f"{tool}:")) or "rror" in text:
            return text
    rest = [t.strip() for t in stderr_text.splitlines() if t.strip()
            and not any(h in t for h in HARMLESS)]
    return rest[0] if rest else "no message"


class Gate:
    """A command forked and waiting for :meth:`release` before it execs."""

    def __init__(self, command: list[str]) -> None:
        read_fd, self._write_fd = os.pipe()
        try:
            self.process = subprocess.Popen([sys.executable, "-c", GATE, str(read_fd), *command],
                                            pass_fds=(read_fd,))
        finally:
            os.close(read_fd)

    @property
    def pid(self) -> int:
        return self.process.pid

    def release(self) -> None:
        os.write(self._write_fd, b"g")
        os.close(self._write_fd)
        self._write_fd = -1

    def cancel(self) -> None:
        if self._write_fd >= 0:
            os.close(self._write_fd)        # the stub reads EOF and exits without running
            self._write_fd = -1
        self.process.wait()


def _wait_attached(tracer: subprocess.Popen, output: Path, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with output.open("r", encoding="utf-8", errors="replace") as handle:
                if any(line.startswith(ATTACHED) for line in handle):
                    return True
        except OSError:
            pass
        if tracer.poll() is not None:
            return False
        time.sleep(0.1)
    return False


def _stop(tracer: subprocess.Popen, grace: float) -> None:
    """bpftrace runs END (the ``end`` line) on SIGINT; escalate only if it hangs."""
    for sig, wait in ((None, grace), (signal.SIGINT, grace), (signal.SIGTERM, 5.0)):
        if tracer.poll() is not None:
            return
        if sig is not None:
            tracer.send_signal(sig)
        try:
            tracer.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
    tracer.kill()
    tracer.wait()


def run_bpftrace(output: Path, *, pids: list[int] | None = None,
                 command: list[str] | None = None, bpftrace: str = "bpftrace",
                 program: Path | None = None, attach_timeout: float = 120.0,
                 say: Callable[[str], None] = lambda _: None) -> Outcome:
    """Record ``pids`` (until they all exit, or Ctrl-C) or ``command`` (until it exits)."""
    if bool(pids) == bool(command):
        raise CaptureError("give -p PID or a command to run, not both")
    gate = Gate(command) if command else None
    targets = [gate.pid] if gate else list(pids or [])
    try:
        argv = bpftrace_command(targets, program=program, bpftrace=bpftrace)
    except ValueError as exc:
        if gate:
            gate.cancel()
        raise CaptureError(str(exc)) from None
    with tempfile.TemporaryFile() as errors, output.open("wb") as sink:
        tracer = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=sink, stderr=errors)
        try:
            if not _wait_attached(tracer, output, attach_timeout):
                _stop(tracer, 1.0)
                if gate:
                    gate.cancel()
                errors.seek(0)
                text = errors.read().decode("utf-8", "replace")
                if tracer.returncode not in (None, 0) or text.strip():
                    raise CaptureError(f"bpftrace failed: {tool_error(text, 'bpftrace')}")
                raise CaptureError(f"bpftrace did not attach within {attach_timeout:.0f} s")
            what = "the command" if gate else "pid(s) " + ",".join(map(str, targets))
            say(f"attached; recording {what} (Ctrl-C stops)")
            status = None
            if gate:
                gate.release()
                status = gate.process.wait()
                _stop(tracer, 10.0)     # vfio-mig.bt exits by itself once its targets are gone
            else:
                tracer.wait()
        except KeyboardInterrupt:
            _stop(tracer, 10.0)
            status = gate.process.wait() if gate else None
    return Outcome(output, _lines(output), status)


def run_strace(output: Path, *, pids: list[int] | None = None,
               command: list[str] | None = None, strace: str = "strace",
               say: Callable[[str], None] = lambda _: None) -> Outcome:
    """strace with the recommended flags; its own exit status is the command's."""
    argv = strace_command(output, pids=pids, command=command, strace=strace)
    with tempfile.TemporaryFile() as errors:
        # with a command, strace's stderr is the command's too: leave it on the terminal
        tracer = subprocess.Popen(argv, stdin=None if command else subprocess.DEVNULL,
                                  stderr=None if command else errors)
        say("recording with strace (Ctrl-C stops)")
        try:
            status = tracer.wait()
        except KeyboardInterrupt:
            _stop(tracer, 10.0)
            status = tracer.returncode
        errors.seek(0)
        text = errors.read().decode("utf-8", "replace")
    lines = _lines(output)
    attach_failed = [t for t in text.splitlines() if t.startswith("strace:")]
    if lines == 0 and (status != 0 or attach_failed):
        why = tool_error(text, "strace") if text.strip() else f"exit status {status}"
        raise CaptureError(f"strace failed: {why}")
    return Outcome(output, lines, status if command else None)
