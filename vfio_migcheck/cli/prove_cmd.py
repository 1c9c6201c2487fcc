"""``vfio-migcheck prove``: prove or refute P1-P10 for a spec (wiring and printing only)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from vfio_migcheck.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    fail_usage,
    get_flags,
    get_spec,
    json_option,
    spec_option,
    stdout_console,
)
from vfio_migcheck.model.names import format_flags
from vfio_migcheck.model.spec import Spec

PICTURE_FORMATS = ("dot", "mermaid", "json", "rv")
_STATUS_STYLE = {"proved": "green", "refuted": "red", "not_applicable": "dim",
                 "undecided": "bold yellow"}


@click.command("prove")
@click.option("--flags", "flags_arg", default=None, metavar="F",
              help="Prove for this flag set only: names (STOP_COPY,P2P) or a number (0x3). "
              "Default: every defined flag set of the spec.")
@spec_option
@json_option
@click.option("--itf", "itf_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, metavar="DIR",
              help="Write each counterexample as an ITF JSON trace into DIR.")
@click.option("--picture", "picture", is_flag=False, flag_value="dot", default=None,
              type=click.Choice(PICTURE_FORMATS), metavar="[FORMAT]",
              help="Draw each counterexample on the FSM graph (dot when no FORMAT given).")
def prove_cmd(flags_arg: str | None, spec_arg: str, as_json: bool, itf_dir: Path | None,
              picture: str | None) -> None:
    """Prove or refute properties P1-P10 of combination transitions and L1-L7 of the data-fd
    lifecycle with z3.

    Each P property is PROVED (its negation is unsatisfiable over every path of at most
    k arcs, k = number of non-error states - 1) or REFUTED with concrete counterexamples;
    each L property is PROVED for runs of every length (an inductive invariant) or REFUTED
    with a run (--itf writes it as ITF and as a canonical .vmc trace that check replays).
    Exit 0 when everything holds or fails only as the spec's known_refutations declare,
    1 otherwise, 2 on bad usage.
    """
    spec = get_spec(spec_arg)
    only = None
    if flags_arg is not None:
        only = get_flags(flags_arg, spec)
        if only & ~spec.all_flags_mask:
            fail_usage(f"flag set {only:#x} has bits spec {spec.name} does not define "
                       f"(its flags: {format_flags(spec.all_flags_mask, spec)})")
        missing = spec.mandatory_flags - spec.flag_names(only)
        if missing:
            fail_usage(f"flag set {only:#x} is undefined: it lacks the mandatory "
                       f"{', '.join(sorted(missing))}; no state is usable, nothing to prove")

    # z3 is imported here, not at module level of the CLI package: only `prove` pays for it.
    from vfio_migcheck.model.smt.prove import prove_spec

    try:
        report = prove_spec(spec, only)
    except RuntimeError as exc:  # z3 gave up (unknown) or a solver misuse: exit 2, one line
        fail_usage(f"could not prove spec {spec.name}: {exc}")
    refutations = [(r.id, c) for r in report.results if r.status == "refuted"
                   for c in r.counterexamples if c.src in spec.states]
    itf_files: dict[int, str] = {}
    if itf_dir is not None:
        from vfio_migcheck.model.smt.itf import write_itf

        try:
            paths = write_itf(itf_dir, spec, refutations)
        except OSError as exc:
            fail_usage(f"cannot write ITF traces to {itf_dir}: {exc.strerror or exc}")
        itf_files = {id(c): str(p) for (_, c), p in zip(refutations, paths)}
    pictures = {id(c): _picture(spec, c, picture) for _, c in refutations} if picture else {}

    if as_json:
        doc = report.to_json()
        for result, rdoc in zip(report.results, doc["properties"]):
            for cex, cdoc in zip(result.counterexamples, rdoc["counterexamples"]):
                if id(cex) in pictures:
                    cdoc["picture"] = pictures[id(cex)]
                if id(cex) in itf_files:
                    cdoc["itf"] = itf_files[id(cex)]
        click.echo(json.dumps(doc, indent=2))
    else:
        _print_report(report, pictures, itf_files)
    sys.exit(EXIT_OK if report.ok else EXIT_FINDINGS)


def _picture(spec: Spec, cex, fmt: str) -> str:
    from vfio_migcheck.model.fsm import FlagModel
    from vfio_migcheck.model.render import render_graph

    return render_graph(FlagModel(spec, cex.flags), fmt, highlight=cex.states)


def _print_report(report, pictures: dict[int, str], itf_files: dict[int, str]) -> None:
    spec = report.spec
    # Wide enough for the property matrix: one column per flag set.
    console = stdout_console(min_width=max(100, 60 + 14 * (len(report.flag_sets) + 1)))
    console.print(f"[bold]vfio-migcheck prove[/] spec [bold]{escape(spec.name)}[/] "
                  f"({escape(spec.file)})")
    console.print("flag sets: " + ", ".join(format_flags(f, spec) for f in report.flag_sets))
    from vfio_migcheck.model.smt.prove import BOUND_REASON

    console.print(f"bound: k = {report.bound} arcs; {BOUND_REASON}.", style="dim")

    console.print(_matrix(report))
    console.print("[dim]known = refuted as the spec's known_refutations declare; "
                  "n/a = does not apply[/]")
    console.print("[bold]How each property was decided[/] (first flag set shown; JSON has all):")
    seen: set[str] = set()
    for r in report.results:
        if r.id not in seen:
            seen.add(r.id)
            console.print(f"  {r.id}: {escape(r.method)}", style="dim")

    refuted = [r for r in report.results if r.status == "refuted"]
    if refuted:
        _heading(console, "Refutations")
    for r in refuted:
        known = " (declared in the spec's known_refutations)" if r.known else ""
        console.print(f"[bold red]{r.id}[/] under {r.flags_text}: {escape(r.name)} — "
                      f"REFUTED{known}")
        if r.explanation:
            console.print(f"  why: {escape(r.explanation)}")
        for c in r.counterexamples:
            path = " -> ".join(c.states) if c.path is not None else "(no path)"
            console.print(f"  • {c.flags:#x} {escape(c.src)} -> {escape(c.dst)}: "
                          f"[bold]{escape(path)}[/]")
            console.print(f"    {escape(c.detail)}")
            if id(c) in itf_files:
                console.print(f"    ITF trace: {escape(itf_files[id(c)])}")
            if id(c) in pictures:
                console.print(pictures[id(c)], markup=False)
    notes = [(r.id, r.flags_text, n) for r in report.results for n in r.notes]
    if notes:
        _heading(console, "Notes")
        for pid, flags, note in notes:
            console.print(f"  • {pid} {flags}: {escape(note)}")
    if report.words_vs_kernel:
        _heading(console, "The uAPI's words vs Linux 6.12")
        console.print("Where the words alone (no refinements) and the kernel's table disagree:")
        for c in report.words_vs_kernel:
            console.print(f"  • {c.flags:#x} {escape(c.src)} -> {escape(c.dst)}: "
                          f"{escape(c.detail)}")
        for ref in spec.path.refinements:
            console.print(f"  The spec follows the kernel with refinement [bold]{ref.id}[/] "
                          f"({escape(ref.cite)}): {escape(' '.join(ref.text.split()))}")
    _print_tables(console, report)
    verdict = ("[green]all properties hold[/]" if not refuted else
               "[yellow]every refutation is declared known by the spec[/]" if report.ok else
               "[red]some property is refuted[/]")
    console.print(f"\n{verdict} ({report.seconds:.2f} s)")


def _matrix(report) -> Table:
    """Properties down, flag sets across: one cell per result with its time."""
    columns = [f"{f:#x}" for f in report.flag_sets] + ["all"]
    cells: dict[tuple[str, str], str] = {}
    names: dict[str, str] = {}
    millis: dict[str, float] = {}
    for r in report.results:
        names.setdefault(r.id, r.name)
        status = "n/a" if r.status == "not_applicable" else r.status
        style = _STATUS_STYLE[r.status]
        if r.status == "refuted":
            status = f"{'known' if r.known else 'REFUTED'} x{len(r.counterexamples)}"
            style = "yellow" if r.known else "bold red"
        cells[(r.id, r.flags_text)] = f"[{style}]{status}[/]"
        millis[r.id] = millis.get(r.id, 0.0) + r.seconds * 1000
    used = [c for c in columns if any(key[1] == c for key in cells)]
    table = Table(header_style="bold")
    table.add_column("ID")
    table.add_column("property", min_width=30, ratio=1)
    for c in used:
        table.add_column(c if c != "all" else "all sets", no_wrap=True)
    table.add_column("ms", justify="right")
    for pid, name in names.items():
        table.add_row(pid, escape(name), *[cells.get((pid, c), "") for c in used],
                      f"{millis[pid]:.0f}")
    return table


def _heading(console: Console, title: str) -> None:
    """A rule across the terminal; piped (unbounded width), one of a readable length."""
    from rich.rule import Rule

    console.print(Rule(title), width=min(console.width, 120))


def _print_tables(console: Console, report) -> None:
    if not report.tables:
        return
    _heading(console, "Next-hop tables (the kernel's skip walk, all defined flag sets at once)")
    from vfio_migcheck.model.smt.prove import rule_set

    console.print("[bold]The spec's rule set[/] (what the table proofs below are about):")
    for i, rule in enumerate(rule_set(report.spec), start=1):
        console.print(f"  {i}. {escape(rule)}")
    ids = "+".join(r.id for r in report.spec.path.refinements)
    if report.rules_reproduce_kernel is not None:
        mark = "[green]PROVED[/]" if report.rules_reproduce_kernel else "[red]REFUTED[/]"
        which = ("every defined flag set"
                 if list(report.flag_sets) == list(report.spec.defined_flag_sets)
                 else ", ".join(f"{f:#x}" for f in report.flag_sets))
        console.print(f"The spec's rules ({'words + ' + ids if ids else 'as written'}) reproduce "
                      f"the Linux 6.12 table under {which} (P10): {mark}")
    for t in report.tables:
        label = f"the uAPI's words + {ids}" if t.rules == "refined" and ids else (
            "the spec's rules" if t.rules == "refined" else "the uAPI's words alone")
        head = f"[bold]{label}[/] ({t.requirements} requests, {t.cells} table cells):"
        if not t.exists:
            console.print(f"{head} [red]no next-hop table satisfies them[/] (unsat); "
                          "these requirements conflict:")
            for c in t.conflict:
                console.print(f"  • {c['flags']} {c['from']} -> {c['to']}: must "
                              f"{escape(c['rules_require'])}")
            console.print("  One cell serves a request under every flag set, and the skip walk "
                          "can change a hop only by skipping states a smaller set lacks; here "
                          "that is not enough.", style="dim")
            continue
        if t.kernel_satisfies is not None:
            mark = "[green]PROVED[/]" if t.kernel_satisfies else "[red]REFUTED[/]"
            console.print(f"{head} the Linux 6.12 table satisfies them: {mark}")
        else:
            console.print(f"{head} a table exists")
        if t.unique:
            console.print(f"  it is the only table that does: [green]PROVED[/] (any other "
                          f"cell value is unsat; compared with {t.reference})")
        else:
            console.print(f"  other tables satisfy them too; cells that may differ from "
                          f"{t.reference}:")
            for cell, values in t.alternatives.items():
                console.print(f"  • {cell}: {', '.join(values)}")
