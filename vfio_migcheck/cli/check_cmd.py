"""``check``, ``rules`` and ``rule``: wiring only; the work is in vfio_migcheck.checker."""

from __future__ import annotations

import os
import stat
import sys
import time
from importlib import resources
from pathlib import Path

import click

from vfio_migcheck.checker.api import RuleSelectionError, check_trace, rule_filter
from vfio_migcheck.checker.repeats import DEFAULT_MAX_REPEATS
from vfio_migcheck.checker.rules import all_rules, get_rule
from vfio_migcheck.cli.common import (
    EXIT_FINDINGS,
    EXIT_NOTHING_CHECKED,
    EXIT_OK,
    EXIT_USAGE,
    driver_option,
    fail_usage,
    flags_option,
    get_driver,
    get_flags,
    get_spec,
    plain_stdout,
    spec_option,
    stdout_console,
)
from vfio_migcheck.cli.completion import complete_rule, complete_rules
from vfio_migcheck.cli.output import check_writable, open_output, write_text
from vfio_migcheck.traces.reading import FORMATS
from vfio_migcheck.traces.stdin import spool, stdin_is_terminal

OUTPUTS = ("text", "concise", "json", "sarif", "junit")
EXAMPLE_SUFFIXES = (".vmc", ".strace", ".log")


def bundled_examples() -> list[Path]:
    """The example captures shipped in vfio_migcheck/examples/ (the quickstart's input)."""
    root = Path(str(resources.files("vfio_migcheck") / "examples"))
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.suffix in EXAMPLE_SUFFIXES)


def _default_traces() -> list[Path]:
    """No TRACE: a trace piped or redirected on stdin, else the bundled examples.

    ``check < capture.strace`` must check the capture, not the examples; an empty stdin
    (``</dev/null``, as CI jobs run) still means the examples.
    """
    if not stdin_is_terminal() and not _stdin_surely_empty() and spool().stat().st_size > 0:
        return [Path("-")]
    return bundled_examples()


def _stdin_surely_empty() -> bool:
    """Standard input that holds nothing, known without reading it: an empty regular file
    or the null device (``</dev/null``). Spooling it would make a temporary folder, write
    nothing and remove the folder at exit, for the same answer."""
    try:
        held = os.fstat(sys.stdin.fileno())
        if stat.S_ISREG(held.st_mode):
            return held.st_size == 0
        return stat.S_ISCHR(held.st_mode) and held.st_rdev == os.stat(os.devnull).st_rdev
    except (AttributeError, OSError, ValueError):   # no real file (a test's stream)
        return False


def _split(values: tuple[str, ...]) -> list[str]:
    return [part for v in values for part in v.replace(" ", ",").split(",") if part]


@click.command("check")
@click.argument("traces", nargs=-1, metavar="TRACE...")
@flags_option
@spec_option
@driver_option
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="auto", show_default=True,
              help="Trace format (auto detects it from the first lines).")
@click.option("--output", "output", type=click.Choice(OUTPUTS), default="text",
              show_default=True,
              help="Report format; concise: one finding per line, path:line:col: RULE message.")
@click.option("-o", "--output-file", "output_file", type=click.Path(dir_okay=False),
              default=None, help="Write the report here instead of standard output.")
@click.option("-q", "--quiet", is_flag=True,
              help="text and concise: only the findings, no verdict lines and no summary.")
@click.option("--select", multiple=True, metavar="IDS", shell_complete=complete_rules,
              help="Only these rules (ids or prefixes, comma-separated; e.g. U,K004).")
@click.option("--ignore", multiple=True, metavar="IDS", shell_complete=complete_rules,
              help="Skip these rules (ids or prefixes).")
@click.option("--max-repeats", type=click.IntRange(min=0), default=DEFAULT_MAX_REPEATS,
              show_default=True, metavar="N",
              help="List at most N findings per rule, device and severity; the others are "
                   "counted on the last one listed (0: list all).")
@click.option("--exit-zero", is_flag=True,
              help="Exit 0 even when errors are found (2 still means the input was unusable).")
def check_cmd(traces: tuple[str, ...], flags_arg: str | None, spec_arg: str,
              driver_arg: str | None, fmt: str,
              output: str, output_file: str | None, quiet: bool, select: tuple[str, ...],
              ignore: tuple[str, ...], max_repeats: int, exit_zero: bool) -> None:
    """Check traces against the migration model and report who broke which rule.

    TRACE may be - (or /dev/stdin) for standard input. With no TRACE, checks the trace on
    standard input when one is piped or redirected, else the example captures bundled
    with vfio-migcheck.
    Exit status: 0 no error-level finding (warnings, notes and inconclusive verdicts
    included), 1 at least one error, 2 bad arguments or an unreadable trace, 3 a trace in
    which nothing was checked (no migration state observed or requested).
    """
    spec = get_spec(spec_arg)
    flags = get_flags(flags_arg, spec, defined_only=True) if flags_arg is not None else None
    driver = get_driver(driver_arg)
    try:
        rule_filter(_split(select), _split(ignore))
    except RuleSelectionError as exc:
        fail_usage(str(exc))
    if output_file:
        check_writable(output_file)
    paths = [Path(t) for t in traces] or _default_traces()
    if not paths:
        fail_usage("no TRACE given and no bundled examples found")
    results, seconds = [], []
    for p in paths:
        started = time.perf_counter()
        results.append(check_trace(p, spec=spec, flags=flags, fmt=fmt, select=_split(select),
                                   ignore=_split(ignore), driver=driver,
                                   max_repeats=max_repeats,
                                   observations=False))   # no report shows them: flat memory
        seconds.append(time.perf_counter() - started)
    write_report(results, output, output_file, quiet, seconds)
    for r in results:
        if r.error:
            click.echo(f"vfio-migcheck: error: {r.error}", err=True)
    if any(r.error for r in results):
        sys.exit(EXIT_USAGE)
    if not exit_zero and any(r.has_errors for r in results):
        sys.exit(EXIT_FINDINGS)
    if any(r.checked_nothing for r in results):
        sys.exit(EXIT_NOTHING_CHECKED)
    sys.exit(EXIT_OK)


def write_report(results: list, output: str, output_file: str | None, quiet: bool,
                 seconds: list[float] | None = None) -> None:
    """Render ``results`` as ``output`` to ``output_file`` (or stdout): the views are pure."""
    if output == "text":
        from vfio_migcheck.checker.reports.text import PlainText, render

        if output_file is None:
            # rich (colour) only at a terminal; piped, the same text without importing it
            render(results, PlainText() if plain_stdout() else stdout_console(soft_wrap=True),
                   quiet=quiet)
            return
        with open_output(output_file) as handle:
            render(results, PlainText(handle), quiet=quiet)
        return
    import json  # here: the text report (the default) needs no JSON

    if output == "concise":
        from vfio_migcheck.checker.reports.concise import concise_lines

        text = "".join(line + "\n" for line in concise_lines(results, quiet=quiet))
    elif output == "json":
        from vfio_migcheck.checker.reports.json import to_json

        text = json.dumps(to_json(results), indent=2, default=str) + "\n"
    elif output == "sarif":
        from vfio_migcheck.checker.reports.sarif import to_sarif

        text = json.dumps(to_sarif(results), indent=2) + "\n"
    else:
        from vfio_migcheck.checker.reports.junit import to_junit

        text = to_junit(results, seconds)
    write_text(output_file, text)


@click.command("rules")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable catalogue.")
def rules_cmd(as_json: bool) -> None:
    """List the checker's rules: id, severity, party and what each checks."""
    rules = all_rules()
    if as_json:
        import json

        click.echo(json.dumps([r.to_json() for r in rules], indent=2))
        return
    width = max(len(r.name) for r in rules)
    for r in rules:
        click.echo(f"{r.id}  {r.severity:<7}  {r.party:<7}  {r.name:<{width}}  {r.summary}")


@click.command("rule")
@click.argument("rule_id", metavar="ID", shell_complete=complete_rule)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable rule.")
def rule_cmd(rule_id: str, as_json: bool) -> None:
    """Explain one rule: what it checks, why (uAPI citation), bad and good examples, fix."""
    rule = get_rule(rule_id)
    if rule is None:
        fail_usage(f"unknown rule {rule_id!r}; 'vfio-migcheck rules' lists them")
    if as_json:
        import json

        click.echo(json.dumps(rule.to_json(), indent=2))
        return
    from vfio_migcheck.checker.rule_docs import rule_text

    click.echo(rule_text(rule))
