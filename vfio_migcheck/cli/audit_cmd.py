"""``vfio-migcheck audit``: check many captures in parallel and summarise them."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from vfio_migcheck.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    driver_option,
    fail_usage,
    flags_option,
    get_driver,
    get_flags,
    get_spec,
    spec_option,
)
from vfio_migcheck.cli.completion import complete_rules
from vfio_migcheck.cli.output import check_writable, to_stdout, write_text
from vfio_migcheck.traces.reading import FORMATS

AUDIT_OUTPUTS = ("text", "concise", "json", "html")


def _interactive(quiet: bool) -> bool:
    """A progress bar only for a person at a terminal: never in CI or with --quiet."""
    return not quiet and sys.stderr.isatty() and not os.environ.get("CI")


@click.command("audit")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: all cores).")
@click.option("--output", "output", type=click.Choice(AUDIT_OUTPUTS), default="text",
              show_default=True,
              help="Report format: text (the summary), concise (one finding per line, "
                   "path:line:col: RULE message), json (schema: vfio-migcheck docs "
                   "audit-schema) or html (self-contained).")
@click.option("-o", "--output-file", "output_file", type=click.Path(dir_okay=False),
              default=None, help="Write the report here instead of standard output; the "
                                 "text summary still goes there (unless it is the report).")
@click.option("--html", "html_file", type=click.Path(dir_okay=False), default=None,
              help="Alias: also write the HTML report here (--output html -o FILE).")
@click.option("--json", "json_file", type=click.Path(dir_okay=False), default=None,
              help="Alias: also write the JSON summary here (--output json -o FILE); "
                   "'-' for stdout.")
@flags_option
@spec_option
@driver_option
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="auto", show_default=True,
              help="Trace format of every capture.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no per-capture lines.")
@click.option("--select", multiple=True, metavar="IDS", shell_complete=complete_rules,
              help="Only these rules (ids or prefixes, comma-separated), as for check.")
@click.option("--ignore", multiple=True, metavar="IDS", shell_complete=complete_rules,
              help="Skip these rules, as for check.")
@click.option("--pair", "pairs", type=(str, str), multiple=True, metavar="SRC DST",
              help="SRC and DST are the two ends of one migration (repeatable).")
@click.option("--scheduler", metavar="ADDRESS", default=None,
              help="Run the checks on Dask: a scheduler (tcp://host:8786) or local[:N] "
                   "(needs vfio-migcheck[dask]).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="SECONDS", help="Stop a capture's check after this long and report it.")
@click.option("--jsonl", "jsonl_file", type=click.Path(dir_okay=False), default=None,
              help="Stream per-capture detail here (JSON Lines); the summary is reduced as "
                   "results arrive and --json lists no captures.")
def audit_cmd(paths, jobs, output, output_file, html_file, json_file, flags_arg, spec_arg,
              driver_arg, fmt, quiet, select, ignore, pairs, scheduler, timeout, jsonl_file):
    """Check every capture under PATH... (files, directories, globs, strace -ff prefixes).

    Exit status: 0 when no capture fails, 1 when a capture fails, is unreadable or a
    source/destination pair mismatches, 2 on usage errors.
    """
    from vfio_migcheck.audit.collect import CollectError
    from vfio_migcheck.audit.runner import CheckOptions, run_checks
    from vfio_migcheck.audit.sources import collect_all, iter_all
    from vfio_migcheck.checker.api import RuleSelectionError, rule_filter

    spec = get_spec(spec_arg)
    flags = get_flags(flags_arg, spec, defined_only=True) if flags_arg is not None else None
    get_driver(driver_arg)   # a bad name is a usage error before any work
    selected, ignored = _split(select), _split(ignore)
    try:
        rule_filter(selected, ignored)
    except RuleSelectionError as exc:
        fail_usage(str(exc))
    if scheduler and jobs:
        fail_usage("-j and --scheduler exclude each other (Dask decides the parallelism)")
    reports = _reports(output, output_file, html_file, json_file)
    if jsonl_file and ("html" in reports or "concise" in reports):
        given = ("--html" if html_file else "--output html") if "html" in reports \
            else "--output concise"
        fail_usage(f"{given} needs every capture in memory; it cannot be used with --jsonl")
    for target in (*reports.values(), jsonl_file):
        check_writable(target)
    stdout_report = "-" if any(to_stdout(t) for t in reports.values()) else None
    every = [*paths, *(p for pair in pairs for p in pair)]
    try:
        # --jsonl keeps no capture in memory: the listing is a stream too
        captures = _streamed(iter_all(every)) if jsonl_file else collect_all(every)
        named = collect_all([p for pair in pairs for p in pair]) if jsonl_file else captures
    except CollectError as exc:
        fail_usage(str(exc))
    if not captures:
        fail_usage(f"no trace found under {' '.join(paths)}")
    pair_paths = [(_capture_of(src, named), _capture_of(dst, named)) for src, dst in pairs]

    options = CheckOptions(spec=spec_arg, flags=flags, fmt=fmt, select=tuple(selected),
                           ignore=tuple(ignored), driver=driver_arg)
    if scheduler or timeout or jsonl_file:
        audit = _run_fleet(captures, options, spec, pair_paths, jobs, scheduler, timeout,
                           jsonl_file, quiet, stdout_report)
    else:
        if _interactive(quiet):
            checked = _run_with_progress(captures, options, jobs)
        else:
            checked = run_checks(captures, options, jobs)

        from vfio_migcheck.audit.summary import build_audit

        audit = build_audit(checked, spec, flags, pair_paths)
    from vfio_migcheck.audit.text import summary_lines

    summary = "".join(line + "\n" for line in
                      summary_lines(audit, per_capture=not quiet and not jsonl_file))
    for fmt_name, target in reports.items():
        _write(target, _render(fmt_name, audit, spec, summary))
    if "text" not in reports and not any(to_stdout(t) for t in reports.values()):
        click.echo(summary, nl=False)
    sys.exit(EXIT_FINDINGS if audit.failed else EXIT_OK)


def _reports(output: str, output_file: str | None, html_file: str | None,
             json_file: str | None) -> dict[str, str]:
    """Report format -> target ('-' is stdout); --json/--html are aliases that add one.

    The text summary is printed on stdout unless a report goes there or it is the report.
    """
    reports: dict[str, str] = {}
    if output != "text" or output_file is not None:
        reports[output] = output_file or "-"
    for name, target in (("json", json_file), ("html", html_file)):
        if target is None:
            continue
        if name in reports and reports[name] != target:
            fail_usage(f"--{name} {target} and --output {name} -o {reports[name]} disagree")
        reports[name] = target
    if sum(1 for t in reports.values() if to_stdout(t)) > 1:
        fail_usage("only one report can go to standard output")
    return reports


def _render(fmt_name: str, audit, spec, summary: str) -> str:
    if fmt_name == "json":
        from vfio_migcheck.audit.jsonout import dumps

        return dumps(audit)
    if fmt_name == "html":
        from vfio_migcheck.audit.html import render_html

        return render_html(audit, spec)
    if fmt_name == "concise":
        from vfio_migcheck.checker.reports.concise import concise_lines

        return "".join(line + "\n" for line in concise_lines(
            [e.result for e in audit.captures], quiet=True)) + summary
    return summary


def _split(values: tuple[str, ...]) -> list[str]:
    return [part for v in values for part in v.replace(" ", ",").split(",") if part]


def _capture_of(path: str, captures) -> str:
    norm = path if "://" in path else os.path.normpath(path)
    for c in captures:
        if norm == c.path or norm in c.files:
            return c.path
    fail_usage(f"--pair {path}: not among the audited captures")


def _streamed(captures):
    """A stream of captures, or ``[]`` when it holds none (the first is read to know)."""
    import itertools

    first = next(captures, None)
    return [] if first is None else _listing_errors(itertools.chain([first], captures))


def _listing_errors(captures):
    """A listing that fails while the audit runs (an object store that stops answering)
    ends it with the one-line usage error a listing that fails at once gives."""
    from vfio_migcheck.audit.collect import CollectError

    try:
        yield from captures
    except CollectError as exc:
        fail_usage(str(exc))


def _write(target: str, text: str) -> None:
    write_text(target, text)


def _run_with_progress(captures, options, jobs):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from vfio_migcheck.audit.runner import run_checks

    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), transient=True,
                  console=Console(stderr=True)) as progress:
        task = progress.add_task("checking captures", total=len(captures))

        def advance(checked) -> None:
            progress.update(task, advance=1, description=Path(checked.capture.path).name)

        return run_checks(captures, options, jobs, on_done=advance)


def _run_fleet(captures, options, spec, pair_paths, jobs, scheduler, timeout, jsonl_file,
               quiet, stdout_report):
    """Dask, --timeout or --jsonl: see audit_fleet.py (Dask is imported only for --scheduler)."""
    from vfio_migcheck.audit.distributed import SchedulerError
    from vfio_migcheck.cli.audit_fleet import echo_stdout, run_audit

    echo = echo_stdout if not quiet and stdout_report is None else None
    try:
        if jsonl_file is None:
            return run_audit(captures, options, spec, pair_paths, jobs=jobs, scheduler=scheduler,
                             timeout=timeout, jsonl=None, show_progress=_interactive(quiet),
                             echo=None)
        try:
            out = open(jsonl_file, "w", encoding="utf-8")  # noqa: SIM115 - closed below
        except OSError as exc:
            fail_usage(f"{jsonl_file}: cannot write: {exc.strerror or exc}")
        with out:
            return run_audit(captures, options, spec, pair_paths, jobs=jobs,
                             scheduler=scheduler, timeout=timeout, jsonl=out,
                             show_progress=_interactive(quiet), echo=echo)
    except SchedulerError as exc:
        fail_usage(str(exc))
