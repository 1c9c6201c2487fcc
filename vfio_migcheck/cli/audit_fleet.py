"""How ``audit`` runs the checks: worker processes (``-j``) or Dask (``--scheduler``), with
an optional per-capture time limit (``--timeout``) and streamed detail (``--jsonl``)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import click

from vfio_migcheck.audit.collect import Capture
from vfio_migcheck.audit.runner import CheckOptions, check_with_api
from vfio_migcheck.audit.summary import Audit
from vfio_migcheck.model.spec import Spec


class Progress:
    """What the runners report to: a rich progress bar on a terminal, else nothing."""

    def __init__(self, bar=None, task=None) -> None:
        self.bar, self.task = bar, task

    def advance(self, path: str) -> None:
        if self.bar is not None:
            self.bar.update(self.task, advance=1, description=Path(path).name)

    def note(self, text: str) -> None:
        if self.bar is not None:
            self.bar.console.print(text)


@contextmanager
def progress(show: bool, total: int | None) -> Iterator[Progress]:
    """``total`` is None for a stream of captures still being listed."""
    if not show:
        yield Progress()
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    with Bar("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
             TimeElapsedColumn(), transient=True, console=Console(stderr=True)) as bar:
        yield Progress(bar, bar.add_task("checking captures", total=total))


def run_audit(captures: Iterable[Capture], options: CheckOptions, spec: Spec,
              pairs: Sequence[tuple[str, str]], *, jobs: int | None, scheduler: str | None,
              timeout: float | None, jsonl: TextIO | None, show_progress: bool,
              echo: Callable[[str], None] | None) -> Audit:
    """The audit of ``captures``; with ``jsonl`` the per-capture detail goes there and the
    returned audit has no captures (its summary is reduced as results arrive), and
    ``captures`` may be a stream, consumed as the checks are handed out."""
    from vfio_migcheck.audit.isolate import TimedCheck
    from vfio_migcheck.audit.summary import build_audit, finish

    check = TimedCheck(timeout) if timeout else check_with_api
    named = frozenset(p for pair in pairs for p in pair)
    total = len(captures) if isinstance(captures, Sized) else None
    with progress(show_progress, total) as bar:
        if scheduler:
            checked = _on_dask(captures, options, spec, scheduler, check, named, jsonl, bar,
                               echo)
        else:
            checked = _on_processes(captures, options, spec, jobs, check, named, jsonl, bar,
                                    echo)
    if isinstance(checked, list):
        return build_audit(checked, spec, options.flags, pairs)
    return finish(checked, spec, options.flags, pairs)


def _on_processes(captures, options, spec, jobs, check, named, jsonl, bar, echo):
    from vfio_migcheck.audit.runner import default_jobs, run_checks, warm_up
    from vfio_migcheck.audit.streaming import audit_outcomes_local, reduce_outcomes

    warm_up(options)   # forked workers (and their --timeout children) inherit the checker
    if jsonl is None:
        return run_checks(captures, options, jobs,
                          on_done=lambda c: bar.advance(c.capture.path), check=check)
    outcomes = audit_outcomes_local(captures, options, spec, max(1, jobs or default_jobs()),
                                    check, named)
    return reduce_outcomes(_advancing(outcomes, bar), jsonl, _echo_line(echo))


def _on_dask(captures, options, spec, scheduler, check, named, jsonl, bar, echo):
    from vfio_migcheck.audit.distributed import (
        audit_outcomes_dask,
        dashboard_link,
        dask_client,
        run_checks_dask,
    )
    from vfio_migcheck.audit.streaming import reduce_outcomes

    with dask_client(scheduler) as client:
        link = dashboard_link(client)
        if link:
            bar.note(f"Dask dashboard: {link}")
        if jsonl is None:
            return run_checks_dask(client, captures, options,
                                   on_done=lambda c: bar.advance(c.capture.path), check=check)

        outcomes = audit_outcomes_dask(client, captures, options, spec, check, named)
        return reduce_outcomes(_advancing(outcomes, bar), jsonl, _echo_line(echo))


def _advancing(outcomes, bar):
    for outcome in outcomes:
        for path in outcome.paths:
            bar.advance(path)
        yield outcome


def _echo_line(echo):
    if echo is None:
        return None
    def each(outcome) -> None:
        for line in outcome.lines:
            echo(line)

    return each


def echo_stdout(line: str) -> None:
    click.echo(line, file=sys.stdout)
