"""A per-capture time limit: run one check in a forked child that can be killed.

A check that hangs cannot be stopped from the thread or process running it (a Dask worker
thread, a pool process), so with ``--timeout`` each check runs in a child forked from the
worker, which already has the checker imported and the spec loaded: forking costs a few
milliseconds. The child sends the checker's result (or its exception) back through a pipe.
A child still running at the deadline is killed and the capture reported as timed out; a
child that dies (segfault, ``os._exit``, out of memory) is reported as such; either way the
worker itself lives on and goes to the next capture. Linux/POSIX only (``os.fork``).
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import time
import warnings
from dataclasses import dataclass

from vfio_migcheck.audit.runner import CheckFn, CheckOptions, check_with_api, warm_up
from vfio_migcheck.checker.results import TraceResult


class CheckTimeout(RuntimeError):
    """The check of one capture ran past ``--timeout`` and was stopped."""


class CheckerDied(RuntimeError):
    """The process checking one capture died before it gave a result."""


@dataclass(frozen=True)
class TimedCheck:
    """A picklable check function: ``inner`` in a forked child, at most ``timeout`` seconds."""

    timeout: float
    inner: CheckFn = check_with_api

    def __call__(self, path: str, options: CheckOptions) -> TraceResult:
        if self.inner is check_with_api:
            warm_up(options)   # once per worker: every forked child inherits the checker
        return run_forked(self.inner, path, options, self.timeout)


def run_forked(check: CheckFn, path: str, options: CheckOptions, timeout: float) -> TraceResult:
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():   # Python 3.12 warns about fork() in a threaded process
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:   # the child: check, send, and leave without running the parent's cleanup
        os.close(read_end)
        _child(check, path, options, write_end)
    os.close(write_end)
    try:
        payload = _read_until(read_end, time.monotonic() + timeout)
    finally:
        os.close(read_end)
    if payload is None:
        _kill(pid)
        raise CheckTimeout(f"no result within {timeout:g} s; the check was stopped")
    status = _reap(pid)
    if not payload:
        raise CheckerDied(f"the checker's process {_death(status)} before giving a result")
    kind, value = pickle.loads(payload)
    if kind == "error":
        raise value
    return value


def _child(check: CheckFn, path: str, options: CheckOptions, fd: int) -> None:
    code = 0
    try:
        try:
            data = pickle.dumps(("ok", check(path, options)))
        except Exception as exc:  # noqa: BLE001 - handed to the parent, reported per capture
            try:
                data = pickle.dumps(("error", exc))
            except Exception:  # noqa: BLE001 - an exception that cannot be pickled
                data = pickle.dumps(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
        with os.fdopen(fd, "wb") as out:
            out.write(data)
    except BaseException:  # noqa: BLE001 - nothing may escape into the parent's code
        code = 1
    finally:
        os._exit(code)


def _read_until(fd: int, deadline: float) -> bytes | None:
    """Everything the child writes until it closes the pipe; None at the deadline."""
    chunks: list[bytes] = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            return None
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _reap(pid)


def _reap(pid: int) -> int:
    try:
        return os.waitpid(pid, 0)[1]
    except ChildProcessError:
        return 0


def _death(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        return f"was killed by signal {sig} ({name})"
    if os.WIFEXITED(status):
        return f"exited with status {os.WEXITSTATUS(status)}"
    return "died"
