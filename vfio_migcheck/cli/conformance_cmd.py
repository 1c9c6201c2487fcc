"""``vfio-migcheck conformance RESULTS_DIR``: the lab's kernel results against the model."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from vfio_migcheck.cli.common import EXIT_FINDINGS, EXIT_OK, fail_usage


@click.command("conformance")
@click.argument("results_dir", type=click.Path(path_type=Path))
@click.option("--markdown", "markdown_out", type=click.Path(path_type=Path), default=None,
              help="Also write the full table as markdown to this file.")
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None,
              help="Also write every compared call as JSON to this file.")
@click.option("--deviations", "deviations_file", type=click.Path(path_type=Path), default=None,
              help="Known driver deviations (default: the built-in deviations.toml).")
@click.option("--strace/--no-strace", "with_strace", default=True, show_default=True,
              help="Also run the checker on the runs' strace and eBPF captures and hold its "
              "verdicts (and, for eBPF, every decoded call) against the ground truth.")
def conformance_cmd(results_dir: Path, markdown_out: Path | None, json_out: Path | None,
                    deviations_file: Path | None, with_strace: bool) -> None:
    """Compare the model's predictions with what the kernel did in a lab run.

    RESULTS_DIR holds scenarios/<api>/*.predict.json and <variant>/<scenario>.canon files
    (lab/run-all.sh produces it). Exit 0 when every call agreed or is an explained driver
    deviation, 1 when some disagreed, never ran, or a capture was misread or drew a false alarm
    from the checker; 2 when the folder cannot be used.
    """
    from vfio_migcheck.conformance.compare import ResultsError, compare_results
    from vfio_migcheck.conformance.deviations import DeviationError, load_deviations
    from vfio_migcheck.conformance.report import to_json, to_markdown, to_text
    from vfio_migcheck.conformance.strace_check import (
        FALSE_ALARM,
        MISREAD,
        MISSED,
        UNREADABLE,
        check_captures,
    )

    if not results_dir.is_dir():
        fail_usage(f"{results_dir}: not a folder")
    try:
        deviations = load_deviations(deviations_file)
        comparison = compare_results(results_dir, deviations)
    except (ResultsError, DeviationError) as exc:
        fail_usage(str(exc))
    strace = check_captures(results_dir) if with_strace else None
    click.echo(to_text(comparison, strace), nl=False)
    from vfio_migcheck.conformance.bpftrace_check import AGREED, check_bpftrace_captures

    ebpf = check_bpftrace_captures(results_dir) if with_strace else None
    if ebpf is not None and ebpf.runs:
        click.echo(ebpf.summary())
        for run in ebpf.runs:
            if run.status != AGREED:
                click.echo(f"  {run.capture}: {run.status}: {run.note}")
    try:
        if markdown_out:
            markdown_out.write_text(to_markdown(comparison, strace), encoding="utf-8")
        if json_out:
            json_out.write_text(json.dumps(to_json(comparison, strace), indent=1) + "\n",
                                encoding="utf-8")
    except OSError as exc:
        fail_usage(f"cannot write report: {exc}")
    bad_strace = strace is not None and any(
        strace.count(status) for status in (FALSE_ALARM, MISSED, MISREAD, UNREADABLE))
    bad_strace = bad_strace or (ebpf is not None and ebpf.count(AGREED) != len(ebpf.runs))
    sys.exit(EXIT_OK if comparison.ok and not bad_strace else EXIT_FINDINGS)
