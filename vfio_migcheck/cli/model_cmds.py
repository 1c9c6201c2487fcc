"""Commands that only ask the model: ``path``, ``arcs``, ``graph`` and ``specs``."""

from __future__ import annotations

import json
import sys

import click
from rich.console import Console
from rich.table import Table

from vfio_migcheck.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    fail_usage,
    flags_option,
    get_flags,
    get_spec,
    get_state,
    json_option,
    spec_option,
    stdout_console,
)
from vfio_migcheck.cli.completion import complete_state_list, complete_states
from vfio_migcheck.model.fsm import Answer, FlagModel, model_for
from vfio_migcheck.model.names import format_flags
from vfio_migcheck.model.render import FORMATS, render_graph
from vfio_migcheck.model.spec import BUILTIN_SPECS, Spec


def answer_json(answer: Answer, model: FlagModel) -> dict:
    """One request as the ``path --json`` contract states it (fields may be added)."""
    return {
        "from": _state_text(answer.src),
        "to": _state_text(answer.dst),
        "ok": answer.ok,
        "path": answer.path,
        "errno": answer.errno,
        "reason": answer.reason.value,
        "detail": answer.detail,
        "arcs": [{"from": s.src, "to": s.dst, "session": s.session} for s in answer.steps],
        "creates": answer.creates,
        "ends": answer.ends,
        "ties": [list(t[1:]) for t in answer.ties],
        "failure_may_leave": [
            {"state": o.state, "arcs_done": len(o.steps_done)}
            for o in (model.failure_outcomes(answer.src, answer.dst) if answer.ok else [])
        ],
    }


def _state_text(state: str | int) -> str:
    return state if isinstance(state, str) else str(state)


def _flag_notes(model: FlagModel) -> list[str]:
    notes = []
    if model.undefined:
        notes.append(
            f"flag set {model.flags:#x} is UNDEFINED: it lacks the mandatory "
            f"{', '.join(sorted(model.spec.mandatory_flags - model.flag_names))} flag(s); "
            "no state is usable"
        )
    elif model.reserved:
        notes.append(f"flag set {model.flags:#x} is reserved (not one of the defined sets "
                     f"{', '.join(hex(f) for f in model.spec.defined_flag_sets)})")
    if model.ignored_bits:
        notes.append(f"bits {model.ignored_bits:#x} are unknown to {model.spec.name} "
                     "and ignored, as the kernel's FSM code ignores them")
    return notes


@click.command("path")
@click.argument("from_state", required=False, metavar="FROM", shell_complete=complete_states)
@click.argument("to_state", required=False, metavar="TO", shell_complete=complete_states)
@click.option("--all", "all_pairs", is_flag=True, help="Every ordered pair of states.")
@flags_option
@spec_option
@json_option
def path_cmd(from_state, to_state, all_pairs, flags_arg, spec_arg, as_json) -> None:
    """The path of single arcs a SET from FROM to TO takes, or the kernel's error.

    Exit status: 0 when the request succeeds, 1 when the model says it fails, 2 on bad usage.
    """
    spec = get_spec(spec_arg)
    model = model_for(spec, get_flags(flags_arg, spec))
    if all_pairs:
        if from_state or to_state:
            fail_usage("path --all takes no FROM/TO")
        answers = model.all_requests()
        if as_json:
            doc = {"spec": spec.name, "flags": f"{model.flags:#x}", "status": model.status,
                   "notes": _flag_notes(model),
                   "paths": [answer_json(a, model) for a in answers]}
            click.echo(json.dumps(doc, indent=2))
        else:
            _print_all(model, answers)
        sys.exit(EXIT_OK)
    if not (from_state and to_state):
        fail_usage("path needs FROM and TO (or --all)")
    answer = model.request(get_state(from_state, spec), get_state(to_state, spec))
    if as_json:
        doc = answer_json(answer, model) | {"spec": spec.name, "flags": f"{model.flags:#x}",
                                            "notes": _flag_notes(model)}
        click.echo(json.dumps(doc, indent=2))
    else:
        _print_one(model, answer)
    sys.exit(EXIT_OK if answer.ok else EXIT_FINDINGS)


def _print_one(model: FlagModel, answer: Answer) -> None:
    console = stdout_console()
    console.print(f"[dim]{model.spec.name}, flags {format_flags(model.flags, model.spec)}[/dim]")
    for note in _flag_notes(model):
        console.print(f"[yellow]note:[/yellow] {note}")
    src, dst = _state_text(answer.src), _state_text(answer.dst)
    if not answer.ok:
        console.print(f"{src} -> {dst}: [bold red]-{answer.errno}[/bold red] "
                      f"({answer.reason.value}): {answer.detail}")
        return
    if not answer.steps:
        console.print(f"{src} -> {dst}: [green]ok[/green], {answer.detail}")
        return
    console.print(f"{src} -> {dst}: [green]ok[/green], {answer.detail}")
    for i, step in enumerate(answer.steps, 1):
        effect = "" if step.session == "none" else f"  [cyan]{step.session}[/cyan]"
        console.print(f"  {i}. {step.src} -> {step.dst}{effect}")
    if answer.ties:
        ties = "; ".join(" -> ".join(t) for t in answer.ties)
        console.print(f"[yellow]note:[/yellow] equally short valid paths: {ties}")
    leave = ", ".join(dict.fromkeys(o.state for o in model.failure_outcomes(answer.src,
                                                                             answer.dst)))
    console.print(f"[dim]if the SET fails the device may be left in: {leave}[/dim]")


def _print_all(model: FlagModel, answers: list[Answer]) -> None:
    console = stdout_console()
    for note in _flag_notes(model):
        console.print(f"[yellow]note:[/yellow] {note}")
    table = Table(title=f"{model.spec.name}, flags {format_flags(model.flags, model.spec)}")
    for col in ("from", "to", "result", "path / reason"):
        table.add_column(col)
    for a in answers:
        if a.ok:
            result = "[green]ok[/green]"
            text = " -> ".join(a.path) if a.path else "(no-op)"
            if a.creates:
                text += f"  [cyan](+{a.creates} fd)[/cyan]"
        else:
            result = f"[red]{a.errno}[/red]"
            text = a.reason.value
        table.add_row(_state_text(a.src), _state_text(a.dst), result, text)
    console.print(table)


@click.command("arcs")
@flags_option
@spec_option
@json_option
def arcs_cmd(flags_arg, spec_arg, as_json) -> None:
    """The single arcs a driver's step function must implement for these flags."""
    spec = get_spec(spec_arg)
    model = model_for(spec, get_flags(flags_arg, spec, defined_only=True))
    arcs = model.single_arcs()
    if as_json:
        click.echo(json.dumps({
            "spec": spec.name, "flags": f"{model.flags:#x}", "status": model.status,
            "notes": _flag_notes(model),
            "arcs": [{"from": a.src, "to": a.dst, "session": a.session} for a in arcs],
        }, indent=2))
        return
    console = stdout_console()
    for note in _flag_notes(model):
        console.print(f"[yellow]note:[/yellow] {note}")
    table = Table(title=f"{len(arcs)} single arcs: {spec.name}, flags "
                        f"{format_flags(model.flags, spec)}")
    table.add_column("from")
    table.add_column("to")
    table.add_column("data session")
    for a in arcs:
        table.add_row(a.src, a.dst, "" if a.session == "none" else a.session)
    console.print(table)


@click.command("graph")
@flags_option
@spec_option
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="dot", show_default=True)
@click.option("--highlight", default=None, metavar="S1,S2,...",
              shell_complete=complete_state_list,
              help="Draw this state sequence on top (e.g. RUNNING,RUNNING_P2P,STOP).")
def graph_cmd(flags_arg, spec_arg, fmt, highlight) -> None:
    """The FSM with the saving group and session-creating/ending arcs marked."""
    spec = get_spec(spec_arg)
    model = model_for(spec, get_flags(flags_arg, spec, defined_only=True))
    states = None
    if highlight:
        states = [get_state(s, spec) for s in highlight.split(",")]
        if any(isinstance(s, int) for s in states):
            fail_usage("--highlight takes state names")
    click.echo(render_graph(model, fmt, states), nl=False)


@click.command("specs")
@click.argument("spec_arg", required=False, metavar="[NAME|FILE]")
def specs_cmd(spec_arg) -> None:
    """List the built-in specs, or summarise one spec (validating it)."""
    console = stdout_console()
    if not spec_arg:
        for name in BUILTIN_SPECS:
            spec = get_spec(name)
            console.print(f"[bold]{name}[/bold]: {spec.description}")
        return
    _summarise(console, get_spec(spec_arg))


def _summarise(console: Console, spec: Spec) -> None:
    console.print(f"[bold]{spec.name}[/bold] ({spec.file}): {spec.description}")
    flags = ", ".join(f"{n}={b:#x}" for n, b in spec.flags.items())
    console.print(f"flags: {flags}; defined sets: "
                  f"{', '.join(hex(f) for f in spec.defined_flag_sets)}")
    for flags_value in spec.defined_flag_sets:
        model = model_for(spec, flags_value)
        ok = sum(1 for a in model.all_requests() if a.ok)
        console.print(f"  {flags_value:#x}: {len(model.usable)} usable states, "
                      f"{len(model.single_arcs())} single arcs, {ok} successful requests")
    for ref in spec.path.refinements:
        console.print(f"refinement {ref.id} ({ref.kind}, group {ref.group}): {ref.text}")
