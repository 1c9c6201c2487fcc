"""Run the audit's per-capture checks as Dask tasks (``audit --scheduler ADDRESS``).

Dask (``dask.distributed``) is an optional dependency, imported only here and only when
``--scheduler`` is given. ``ADDRESS`` is a running scheduler (``tcp://host:8786``) or
``local[:N]``: a cluster of N single-threaded worker processes on this machine.

One task per capture for a small audit, batches of up to ``MAX_BATCH`` captures for a fleet
(each still checked on its own), at most a bounded number of tasks in flight, so neither the
client nor the scheduler holds more than a window of captures whatever the size of the
fleet. The streaming audit merges on the workers too: a batch's captures in its task, every
``MERGE_FAN_IN`` batches in one more task; the client merges what those return.

A task never raises for a bad capture (the checker's exceptions become an unreadable
result, exactly as with ``-j``). A worker that dies while checking (crash, out of memory, a
lost host) is handled by Dask: the task is re-run on another worker, up to the scheduler's
``distributed.scheduler.allowed-failures`` times. Dask blames every task the dead worker
held, so a capture given up on that way is re-run alone at the end, one at a time; only one
that fails alone ``SOLO_TRIES`` times is reported, with the same message ``-j`` gives.
"""

from __future__ import annotations

import logging
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from vfio_migcheck.audit.collect import Capture
from vfio_migcheck.audit.runner import (
    CheckedCapture,
    CheckFn,
    CheckOptions,
    check_capture,
    check_with_api,
    error_result,
)
from vfio_migcheck.audit.streaming import Outcome, audit_batch, combine, outcome_of
from vfio_migcheck.model.spec import Spec

_LOCAL = re.compile(r"^local(?::(?P<n>\d+))?$")
WINDOW_PER_THREAD = 4     # tasks in flight per worker thread: keeps every worker busy
MIN_WINDOW = 8
MIN_UNITS = 3             # merged units in flight at least, so no worker waits for a merge
MAX_BATCH = 32            # captures per task at most
MERGE_FAN_IN = 4          # batch outcomes merged by one task on a worker (streaming audit)
BATCHES_PER_THREAD = 8    # at least this many tasks per worker thread, for balance
SOLO_TRIES = 2            # runs alone before a capture is blamed for its worker's death
NO_WORKER_GRACE = 120.0   # seconds a cluster may have no worker at all before a wait ends
WAIT_POLL = 5.0           # seconds between looks at the cluster while waiting for a task
T = TypeVar("T")


class SchedulerError(RuntimeError):
    """Dask is missing or the scheduler cannot be reached (a usage error, exit 2)."""


class NoWorkersLeft(RuntimeError):
    """The cluster lost every worker and none came back: a task waiting for one would
    wait forever, so the capture it carries is reported lost instead."""


def died_message(path: str) -> str:
    """The same words ``-j`` uses when a capture takes its worker process down."""
    return (f"{path}: the checker's worker process died (crash or out of memory) while "
            "checking this capture")


def lost_message(path: str, exc: BaseException) -> str:
    return f"{path}: checker result lost: {type(exc).__name__}"


def local_workers(address: str) -> int | None:
    """N for ``local:N`` (every core for ``local``); None for a scheduler address."""
    m = _LOCAL.match(address)
    if not m:
        return None
    n = int(m["n"]) if m["n"] else (os.cpu_count() or 1)
    if n < 1:
        raise SchedulerError(f"--scheduler {address}: a local cluster needs at least 1 worker")
    return n


@contextmanager
def dask_client(address: str) -> Iterator[Any]:
    """A ``distributed.Client`` connected to ``address`` (closed, with its cluster, after)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise SchedulerError("--scheduler needs Dask: pip install 'vfio-migcheck[dask]' "
                             f"({exc})") from None
    n = local_workers(address)
    cluster = None
    try:
        if n is not None:
            # a free port: the web server runs even without bokeh (dashboard_link tells)
            import dask

            # tasks no worker can run fail after the grace instead of waiting forever (a
            # nanny may fail to restart its worker after crashes); they are re-run alone
            with dask.config.set({"distributed.scheduler.no-workers-timeout":
                                  f"{NO_WORKER_GRACE:.0f}s"}):
                cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=logging.ERROR)
            client = Client(cluster)
        else:
            client = Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        if cluster is not None:
            cluster.close()
        raise SchedulerError(f"--scheduler {address}: cannot start or reach the Dask "
                             f"scheduler: {exc}") from None
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def dashboard_link(client: Any) -> str | None:
    """The dashboard's URL, when the scheduler serves one: the scheduler's web server runs
    without bokeh too, but then its dashboard page only says that bokeh is missing."""
    try:
        info = client.scheduler_info()
        if "dashboard" not in info.get("services", {}):
            return None
        # asked of the scheduler (by value: its host need not have vfio-migcheck)
        if not client.run_on_scheduler(
                lambda: __import__("importlib.util").util.find_spec("bokeh") is not None):
            return None
        return client.dashboard_link
    except Exception:  # noqa: BLE001 - only a convenience for the progress line
        return None


def total_threads(client: Any) -> int:
    try:
        return max(1, sum(client.nthreads().values()))
    except Exception:  # noqa: BLE001
        return 1


def batch_size(captures: int, threads: int) -> int:
    """Captures per task: one each for a small audit, up to MAX_BATCH for a fleet, so that
    Dask's per-task cost (a few milliseconds) stays small next to the checks."""
    return max(1, min(MAX_BATCH, captures // (threads * BATCHES_PER_THREAD)))


def stream_tasks(client: Any, fn: Callable[..., T], items: Sequence[Capture],
                 args: tuple = (), window: int | None = None, batch: int | None = None,
                 merge: Callable[[list[T]], T] | None = None, fan_in: int = 1,
                 ) -> Iterator[tuple[list[int], T | None, BaseException | None]]:
    """Run ``fn(batch_of_items, *args)`` as Dask tasks, at most ``window`` at a time; yield
    ``(indices, result, None)`` or ``(indices, None, exception)`` as results come in.

    With ``merge`` and ``fan_in`` > 1, every ``fan_in`` batches are merged by one more task,
    on a worker (``merge(results)``): the client receives the merged results only, the
    upper level of a tree reduction. A merge that fails (one of its batches was given up
    on) is undone: the batches that finished are yielded one by one, the others retried.
    """
    from distributed import as_completed

    threads = total_threads(client)
    window = window or max(MIN_WINDOW, WINDOW_PER_THREAD * threads)
    batch = batch or batch_size(len(items), threads)
    fan_in = fan_in if merge is not None else 1
    groups = [list(range(i, min(i + batch, len(items)))) for i in range(0, len(items), batch)]
    units = iter([groups[i:i + fan_in] for i in range(0, len(groups), fan_in)])
    del groups
    run = uuid.uuid4().hex[:12]
    unit_of: dict[str, tuple[list[list[int]], list[Any]]] = {}
    serial = 0

    def submit_batch(group: list[int]):
        nonlocal serial
        serial += 1
        return client.submit(fn, [items[i] for i in group], *args, pure=False,
                             key=f"vfio-migcheck-{run}-{group[0]}-{serial}")

    def submit(unit: list[list[int]]):
        leaves = [submit_batch(g) for g in unit]
        if len(leaves) == 1:
            future, leaves = leaves[0], []
        else:
            future = client.submit(merge, leaves, pure=False,
                                   key=f"vfio-migcheck-{run}-merge-{unit[0][0]}")
        unit_of[future.key] = (unit, leaves)
        return future

    killed: list[int] = []
    first = [submit(u) for u in _take(units, max(MIN_UNITS, window // fan_in))]
    pending = as_completed(first)
    del first
    for future in pending:
        unit, leaves = unit_of.pop(future.key)
        outcome = _outcome(future)
        if outcome[1] is None:
            yield ([i for g in unit for i in g], *outcome)
        elif not leaves:
            # a task never raises for a capture: this is the engine giving up (KilledWorker,
            # a worker lost with the result); maybe only bystanders of another's crash
            killed += unit[0]
        else:   # the merge failed with one of its batches: take the others one by one
            for group, leaf in zip(unit, leaves):
                got = _outcome_when_done(client, leaf)
                if got[1] is None:
                    yield (group, *got)
                else:
                    killed += group
        for leaf in leaves:
            leaf.release()
        for u in _take(units, 1):
            pending.add(submit(u))
    # A worker's death is blamed on every task it was running or had queued. Re-run each
    # such capture alone, one at a time, so that only the one that fails again is reported.
    # A capture is blamed only when it fails alone SOLO_TRIES times (a worker restarting
    # after another capture's crash can still take an innocent task down with it).
    for index in sorted(killed):
        for _ in range(SOLO_TRIES):
            future = submit_batch([index])
            outcome = _outcome_when_done(client, future)
            if outcome[1] is None:
                break
        yield ([index], *outcome)


def _outcome(future) -> tuple[Any, BaseException | None]:
    try:
        if future.status == "finished":
            try:
                return future.result(), None
            except Exception as exc:  # noqa: BLE001 - the result could not be fetched
                return None, exc
        return None, future.exception()
    finally:
        future.release()


def _outcome_when_done(client: Any, future) -> tuple[Any, BaseException | None]:
    """``_outcome`` once the task is done, or ``NoWorkersLeft`` when the cluster has had no
    worker for NO_WORKER_GRACE seconds (after crashes a nanny may fail to restart its
    worker; the task would then wait forever and the audit with it)."""
    try:
        wait_with_workers(client, future)
    except NoWorkersLeft as exc:
        future.release()
        return None, exc
    return _outcome(future)


def wait_with_workers(client: Any, future, grace: float = NO_WORKER_GRACE,
                      poll: float = WAIT_POLL) -> None:
    """Wait for ``future`` for as long as the cluster has workers to run it."""
    from distributed import wait

    without_since: float | None = None
    while True:
        try:
            wait(future, timeout=poll)
            return
        except TimeoutError:
            pass
        if client.scheduler_info().get("workers"):
            without_since = None
            continue
        now = time.monotonic()
        without_since = now if without_since is None else without_since
        if now - without_since >= grace:
            raise NoWorkersLeft(f"no Dask worker was left to run it for {grace:.0f} s")


def _take(iterator, n: int):
    out = []
    for _ in range(n):
        try:
            out.append(next(iterator))
        except StopIteration:
            break
    return out


def checked_from(capture: Capture, result: CheckedCapture | None,
                 error: BaseException | None) -> CheckedCapture:
    """The task's result, or the capture reported unreadable because its task failed."""
    if error is None and result is not None:
        return result
    if _killed_worker(error):
        message = died_message(capture.path)
    else:
        message = lost_message(capture.path, error or RuntimeError())
    return CheckedCapture(capture, error_result(capture.path, message))


def _killed_worker(error: BaseException | None) -> bool:
    try:
        from distributed.scheduler import KilledWorker
    except ImportError:
        return False
    return isinstance(error, KilledWorker)


def check_batch(captures: Sequence[Capture], options: CheckOptions,
                check: CheckFn = check_with_api) -> list[CheckedCapture]:
    """One Dask task: the captures of a batch, each checked on its own."""
    return [check_capture(c, options, check) for c in captures]


def run_checks_dask(client: Any, captures: Sequence[Capture], options: CheckOptions,
                    on_done: Callable[[CheckedCapture], None] | None = None,
                    check: CheckFn = check_with_api, batch: int | None = None,
                    ) -> list[CheckedCapture]:
    """Like ``runner.run_checks``, on a Dask cluster; results in capture order."""
    done: dict[int, CheckedCapture] = {}
    for group, results, error in stream_tasks(client, check_batch, captures,
                                              (options, check), batch=batch):
        for k, index in enumerate(group):
            checked = checked_from(captures[index], results[k] if results else None, error)
            done[index] = checked
            if on_done:
                on_done(checked)
    return [done[i] for i in range(len(captures))]


def audit_outcomes_dask(client: Any, captures: Sequence[Capture], options: CheckOptions,
                        spec: Spec, check: CheckFn = check_with_api,
                        named: frozenset[str] = frozenset(), batch: int | None = None,
                        fan_in: int = MERGE_FAN_IN) -> Iterator[Outcome]:
    """The streaming audit (``--jsonl``) on Dask, a tree reduction: a batch's captures are
    checked and merged into one outcome on a worker, every ``fan_in`` such outcomes are
    merged by another task on a worker, and the client receives and merges those."""
    for group, outcome, error in stream_tasks(client, audit_batch, captures,
                                              (options, check, named), batch=batch,
                                              merge=combine, fan_in=fan_in):
        if outcome is None:   # the engine gave up on the task: report its captures here
            outcome = combine([outcome_of(checked_from(captures[i], None, error), spec,
                                          options.flags, named) for i in group])
        yield outcome
