"""Check every capture in its own worker process; one bad capture never stops the others.

A worker returns a :class:`CheckedCapture`: the checker's :class:`TraceResult` plus the text
of the capture lines the findings point at (read there, in parallel, so the HTML report can
show them). An exception in the checker becomes an unreadable result for that capture; a
worker that dies (segfault, ``os._exit``, out of memory) breaks the pool, so the captures it
left unfinished are retried each in a fresh single-worker pool (``jobs`` of them at a time)
and only the one that kills its worker again is reported as crashed. Results come back in
capture order whatever ``jobs`` is.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

from vfio_migcheck.audit.collect import Capture
from vfio_migcheck.checker.results import TraceResult

MAX_LINE_TEXT = 400  # characters of a capture line kept for the report


@dataclass(frozen=True)
class CheckOptions:
    """What every worker needs to check a capture (strings and ints only: cheap to pickle)."""

    spec: str = "linux-6.12"
    flags: int | None = None
    fmt: str = "auto"
    select: tuple[str, ...] = ()     # rule ids or prefixes, as `check --select`
    ignore: tuple[str, ...] = ()
    driver: str | None = None        # --driver: a profile name or file; None detects it


@dataclass(frozen=True)
class CheckedCapture:
    capture: Capture
    result: TraceResult
    # (file, line) -> text of that capture line, for every line a finding cites
    lines: dict[tuple[str, int], str] = field(default_factory=dict)


CheckFn = Callable[[str, CheckOptions], TraceResult]

_SPECS: dict[str, object] = {}


def check_with_api(path: str, options: CheckOptions) -> TraceResult:
    """The real checker; the spec is loaded once per worker process."""
    from vfio_migcheck.checker.api import check_trace
    from vfio_migcheck.model.spec import load_spec

    spec = _SPECS.get(options.spec)
    if spec is None:
        spec = _SPECS[options.spec] = load_spec(options.spec)
    return check_trace(path, spec=spec, flags=options.flags, fmt=options.fmt,
                       select=list(options.select) or None, ignore=list(options.ignore) or None,
                       driver=options.driver)


def error_result(path: str, message: str) -> TraceResult:
    return TraceResult(file=path, format="?", findings=(), devices=(), read_summary={},
                       error=message)


def check_capture(capture: Capture, options: CheckOptions,
                  check: CheckFn = check_with_api) -> CheckedCapture:
    """Run one check; never raises, so one capture cannot take the audit down."""
    if "://" in capture.path:   # a URL or archive member: sources.py fetches it here
        from vfio_migcheck.audit.sources import check_remote

        return check_remote(
            capture, lambda local: check_capture(local, options, check),
            lambda message: CheckedCapture(capture, error_result(capture.path, message)))
    try:
        result = check(capture.path, options)
    except Exception as exc:  # noqa: BLE001 - reported per capture, the audit goes on
        detail = str(exc).splitlines()[0] if str(exc) else ""
        message = f"{capture.path}: checker failed: {type(exc).__name__}" + (
            f": {detail}" if detail else "")
        return CheckedCapture(capture, error_result(capture.path, message))
    return CheckedCapture(capture, result, cited_lines(result))


def cited_lines(result: TraceResult) -> dict[tuple[str, int], str]:
    """The text of each line a finding names (its own line and its related lines)."""
    wanted: dict[str, set[int]] = {}
    for f in result.findings:
        lines = wanted.setdefault(f.file, set())
        lines.update(n for n in (f.line, *f.related_lines) if n and n > 0)
    out: dict[tuple[str, int], str] = {}
    from vfio_migcheck.traces.lines import Line, TraceOpenError, iter_lines

    for file, numbers in wanted.items():
        if not numbers:
            continue
        last = max(numbers)
        try:
            for item in iter_lines(file):
                if item.number in numbers:
                    text = item.text if isinstance(item, Line) else f"<{item.reason}>"
                    out[(file, item.number)] = text[:MAX_LINE_TEXT]
                if item.number >= last:
                    break
        except (TraceOpenError, OSError):
            continue  # the finding still shows file:line; only the quoted text is missing
    return out


def capture_size(capture: Capture) -> int:
    """Bytes to read: a cheap predictor of how long the check takes."""
    total = 0
    for name in capture.files:
        try:
            total += os.path.getsize(name)
        except OSError:
            pass   # the check itself will report the missing file
    return total


def warm_up(options: CheckOptions) -> None:
    """Import the checker and the readers and load the spec in the parent, so that forked
    workers inherit them instead of each paying for them again."""
    import importlib

    from vfio_migcheck.model.spec import SpecError, load_spec
    from vfio_migcheck.traces.reading import READERS

    try:
        importlib.import_module("vfio_migcheck.checker.api")
        for module in READERS.values():
            importlib.import_module(module)
        if options.spec not in _SPECS:
            _SPECS[options.spec] = load_spec(options.spec)
    except (ImportError, SpecError, OSError):
        pass   # each worker then meets the same problem and reports it per capture


def default_jobs() -> int:
    return os.cpu_count() or 1


def run_checks(
    captures: Sequence[Capture],
    options: CheckOptions,
    jobs: int | None = None,
    on_done: Callable[[CheckedCapture], None] | None = None,
    check: CheckFn = check_with_api,
) -> list[CheckedCapture]:
    """Check ``captures`` with ``jobs`` worker processes; results in capture order."""
    jobs = max(1, jobs or default_jobs())
    done: dict[int, CheckedCapture] = {}

    def finish(index: int, checked: CheckedCapture) -> None:
        done[index] = checked
        if on_done:
            on_done(checked)

    if check is check_with_api:
        warm_up(options)
    # Biggest captures first: a long check started last would leave the other cores idle.
    order = sorted(enumerate(captures), key=lambda item: (-capture_size(item[1]), item[0]))
    pending = _run_pool(order, options, min(jobs, max(1, len(captures))), check, finish)
    if pending:  # the pool broke: re-run each survivor alone, still `jobs` at a time
        lock = threading.Lock()

        def isolated(item: tuple[int, Capture]) -> None:
            def finish_locked(i: int, checked: CheckedCapture) -> None:
                with lock:
                    finish(i, checked)

            for i, crashed in _run_pool([item], options, 1, check, finish_locked):
                finish_locked(i, CheckedCapture(crashed, error_result(
                    crashed.path, died_message(crashed.path))))

        with ThreadPoolExecutor(max_workers=jobs) as threads:
            list(threads.map(isolated, pending))
    return [done[i] for i in range(len(captures))]


def check_alone(capture: Capture, options: CheckOptions,
                check: CheckFn = check_with_api) -> CheckedCapture:
    """One capture in a worker process of its own: reported as crashed if it kills it."""
    got: list[CheckedCapture] = []
    for _, crashed in _run_pool([(0, capture)], options, 1, check,
                                lambda _, checked: got.append(checked)):
        got.append(CheckedCapture(crashed, error_result(crashed.path, died_message(crashed.path))))
    return got[0]


def died_message(path: str) -> str:
    """What a capture that takes its worker process down is reported with."""
    return (f"{path}: the checker's worker process died (crash or out of memory) while "
            "checking this capture")


def _run_pool(items: list[tuple[int, Capture]], options: CheckOptions, workers: int,
              check: CheckFn, finish: Callable[[int, CheckedCapture], None],
              ) -> list[tuple[int, Capture]]:
    """Run items in one pool; return those left unfinished because the pool broke."""
    if not items:
        return []
    unfinished: list[tuple[int, Capture]] = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures: dict[Future, tuple[int, Capture]] = {
            pool.submit(check_capture, c, options, check): (i, c) for i, c in items
        }
        for future in as_completed(futures):
            index, capture = futures[future]
            try:
                finish(index, future.result())
            except BrokenProcessPool:
                unfinished.append((index, capture))
            except Exception as exc:  # noqa: BLE001 - e.g. a result that cannot be pickled
                finish(index, CheckedCapture(capture, error_result(
                    capture.path, f"{capture.path}: checker result lost: {type(exc).__name__}")))
    return sorted(unfinished, key=lambda item: item[0])
