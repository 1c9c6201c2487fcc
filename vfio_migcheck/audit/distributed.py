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

import asyncio
import itertools
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any, TypeVar

from vfio_migcheck.audit.collect import Capture
from vfio_migcheck.audit.runner import (
    CheckedCapture,
    CheckFn,
    CheckOptions,
    check_capture,
    check_with_api,
    died_message,
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
LOW_LEVEL_LOG = 20         # messages Dask's comms and scheduler keep for debugging
WAIT_POLL = 5.0           # seconds between looks at the cluster while waiting for a task
T = TypeVar("T")
#: what a Dask wait or connection raises when it times out: on Python 3.10 asyncio's own
#: TimeoutError, no subclass of the built-in one (the two are one class from 3.11 on)
TIMEOUTS = (TimeoutError, asyncio.TimeoutError)


class SchedulerError(RuntimeError):
    """Dask is missing or the scheduler cannot be reached (a usage error, exit 2)."""


class NoWorkersLeft(RuntimeError):
    """The cluster lost every worker and none came back: a task waiting for one would
    wait forever, so the capture it carries is reported lost instead."""


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
    import dask

    n = local_workers(address)
    with ExitStack() as stack:
        # Dask's comms keep their last messages for debugging (1,000 per connection by
        # default); a message that submits a task carries its captures, so that log alone
        # grew the client by about 0.5 KB per capture: keep a few.
        stack.enter_context(dask.config.set(
            {"distributed.admin.low-level-log-length": LOW_LEVEL_LOG}))
        try:
            if n is not None:
                # a free port: the web server runs even without bokeh (dashboard_link
                # tells); tasks no worker can run fail after the grace instead of waiting
                # forever (a nanny may fail to restart its worker after crashes); they are
                # re-run alone. The workers' statistical profiler samples the running
                # task's stack every 10 ms: on the checker's deep stacks that cost a third
                # of the CPU of a fleet of small captures, for a dashboard page nobody
                # reads here.
                with dask.config.set({"distributed.scheduler.no-workers-timeout":
                                      f"{NO_WORKER_GRACE:.0f}s",
                                      "distributed.worker.profile.enabled": False}):
                    cluster = stack.enter_context(LocalCluster(
                        n_workers=n, threads_per_worker=1, processes=True,
                        dashboard_address=":0", silence_logs=logging.ERROR))
                client = stack.enter_context(Client(cluster))
            else:
                client = stack.enter_context(Client(address, timeout="10s"))
        except (OSError, *TIMEOUTS, ValueError) as exc:
            raise SchedulerError(f"--scheduler {address}: cannot start or reach the Dask "
                                 f"scheduler: {exc}") from None
        yield client


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


def pack_captures(captures: Sequence[Capture]) -> str:
    """A batch as one string: one object to pickle, ship and log instead of a few per
    capture (the scheduler and the client's comms keep recent messages)."""
    return json.dumps([[c.path, *c.files] for c in captures])


def unpack_captures(packed: str) -> list[Capture]:
    return [Capture(row[0], tuple(row[1:])) for row in json.loads(packed)]


def run_packed(fn: Callable[..., T], packed: str, *args: Any) -> T:
    """The task a worker runs: ``fn`` on the batch's captures."""
    return fn(unpack_captures(packed), *args)


def planned_batch(items: Iterator[Capture], threads: int
                  ) -> tuple[int, Iterator[Capture]]:
    """The batch size for a stream of captures whose length is not known: a look ahead of
    at most one full round of batches decides it; the stream is returned whole."""
    ahead = list(itertools.islice(items, threads * BATCHES_PER_THREAD * MAX_BATCH))
    size = batch_size(len(ahead), threads) if len(ahead) < threads * BATCHES_PER_THREAD \
        * MAX_BATCH else MAX_BATCH
    return size, itertools.chain(ahead, items)


def stream_tasks(client: Any, fn: Callable[..., T], items: Iterable[Capture],
                 args: tuple = (), window: int | None = None, batch: int | None = None,
                 merge: Callable[[list[T]], T] | None = None, fan_in: int = 1,
                 ) -> Iterator[tuple[list[Capture], T | None, BaseException | None]]:
    """Run ``fn(batch_of_items, *args)`` as Dask tasks, at most ``window`` at a time; yield
    ``(captures, result, None)`` or ``(captures, None, exception)`` as results come in.

    ``items`` is consumed as tasks are submitted, so the client holds only the captures
    in flight. With ``merge`` and ``fan_in`` > 1, every ``fan_in`` batches are merged by
    one more task, on a worker (``merge(results)``): the client receives the merged
    results only, the upper level of a tree reduction. A merge that fails (one of its
    batches was given up on) is undone: the batches that finished are yielded one by one,
    the others retried.
    """
    from distributed import as_completed

    threads = total_threads(client)
    window = window or max(MIN_WINDOW, WINDOW_PER_THREAD * threads)
    stream = iter(items)
    if batch is None:
        batch, stream = planned_batch(stream, threads)
    fan_in = fan_in if merge is not None else 1
    groups = iter(lambda: list(itertools.islice(stream, batch)), [])
    units = iter(lambda: list(itertools.islice(groups, fan_in)), [])
    run = uuid.uuid4().hex[:12]
    unit_of: dict[str, tuple[list[list[Capture]], list[Any]]] = {}
    serial = 0

    def submit_batch(group: list[Capture]):
        nonlocal serial
        serial += 1
        return client.submit(run_packed, fn, pack_captures(group), *args, pure=False,
                             key=f"vfio-migcheck-{run}-{serial}")

    def submit(unit: list[list[Capture]]):
        leaves = [submit_batch(g) for g in unit]
        if len(leaves) == 1:
            future, leaves = leaves[0], []
        else:
            serial_merge = serial
            future = client.submit(merge, leaves, pure=False,
                                   key=f"vfio-migcheck-{run}-merge-{serial_merge}")
        unit_of[future.key] = (unit, leaves)
        return future

    killed: list[Capture] = []
    first = [submit(u) for u in itertools.islice(units, max(MIN_UNITS, window // fan_in))]
    pending = as_completed(first)
    del first
    for future in pending:
        unit, leaves = unit_of.pop(future.key)
        outcome = _outcome(future)
        if outcome[1] is None:
            yield ([c for g in unit for c in g], *outcome)
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
        del unit, leaves, future
        for u in itertools.islice(units, 1):
            pending.add(submit(u))
    # A worker's death is blamed on every task it was running or had queued. Re-run each
    # such capture alone, one at a time, so that only the one that fails again is reported.
    # A capture is blamed only when it fails alone SOLO_TRIES times (a worker restarting
    # after another capture's crash can still take an innocent task down with it).
    for capture in sorted(killed):
        for _ in range(SOLO_TRIES):
            future = submit_batch([capture])
            outcome = _outcome_when_done(client, future)
            if outcome[1] is None:
                break
        yield ([capture], *outcome)


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
        except TIMEOUTS:
            pass
        if client.scheduler_info().get("workers"):
            without_since = None
            continue
        now = time.monotonic()
        without_since = now if without_since is None else without_since
        if now - without_since >= grace:
            raise NoWorkersLeft(f"no Dask worker was left to run it for {grace:.0f} s")


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
    done: dict[Capture, CheckedCapture] = {}
    if batch is None:
        batch = batch_size(len(captures), total_threads(client))
    for group, results, error in stream_tasks(client, check_batch, captures,
                                              (options, check), batch=batch):
        for k, capture in enumerate(group):
            checked = checked_from(capture, results[k] if results else None, error)
            done[capture] = checked
            if on_done:
                on_done(checked)
    return [done[c] for c in captures]


def audit_outcomes_dask(client: Any, captures: Iterable[Capture], options: CheckOptions,
                        spec: Spec, check: CheckFn = check_with_api,
                        named: frozenset[str] = frozenset(), batch: int | None = None,
                        fan_in: int = MERGE_FAN_IN) -> Iterator[Outcome]:
    """The streaming audit (``--jsonl``) on Dask, a tree reduction: a batch's captures are
    checked and merged into one outcome on a worker, every ``fan_in`` such outcomes are
    merged by another task on a worker, and the client receives and merges those.
    ``captures`` may be a stream: it is consumed as tasks are submitted."""
    for group, outcome, error in stream_tasks(client, audit_batch, captures,
                                              (options, check, named), batch=batch,
                                              merge=combine, fan_in=fan_in):
        if outcome is None:   # the engine gave up on the task: report its captures here
            outcome = combine([outcome_of(checked_from(c, None, error), spec,
                                          options.flags, named) for c in group])
        yield outcome
