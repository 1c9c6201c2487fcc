"""The command line: argument parsing and wiring only; every command's work lives elsewhere.

Subcommands are imported lazily so that, e.g., ``path`` never imports z3.
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
import sys
from types import ModuleType

import click

from vfio_migcheck import __version__

# command name -> (module, attribute, one-line help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "path": ("vfio_migcheck.cli.model_cmds", "path_cmd", "The path (or error) of a SET request."),
    "arcs": ("vfio_migcheck.cli.model_cmds", "arcs_cmd", "Single arcs a driver must implement."),
    "graph": ("vfio_migcheck.cli.model_cmds", "graph_cmd", "The FSM as dot, mermaid, json or rv."),
    "specs": ("vfio_migcheck.cli.model_cmds", "specs_cmd", "Built-in specs and a spec's summary."),
    "prove": ("vfio_migcheck.cli.prove_cmd", "prove_cmd", "Prove properties of combination arcs."),
    "convert": ("vfio_migcheck.cli.convert_cmd", "convert_cmd", "Read a trace; print events."),
    "check": ("vfio_migcheck.cli.check_cmd", "check_cmd", "Check traces against the model."),
    "rules": ("vfio_migcheck.cli.check_cmd", "rules_cmd", "List the checker's rules."),
    "rule": ("vfio_migcheck.cli.check_cmd", "rule_cmd", "Explain one rule."),
    "audit": ("vfio_migcheck.cli.audit_cmd", "audit_cmd", "Audit many captures at once."),
    "drivers": ("vfio_migcheck.cli.drivers_cmd", "drivers_cmd",
                "Driver profiles: facts and kernel citations."),
    "conformance": ("vfio_migcheck.cli.conformance_cmd", "conformance_cmd",
                    "Compare lab results with the model."),
    "capture": ("vfio_migcheck.cli.capture_cmd", "capture_cmd",
                "Record a migration (eBPF, or strace) for check."),
    "docs": ("vfio_migcheck.cli.docs_cmd", "docs_cmd", "List or print the documentation."),
}


#: set by main(): this process runs one command, so the collector may be tuned for it
_one_command_process = False
#: the collector's thresholds in such a process (CPython's defaults: 700, 10, 10)
ONE_COMMAND_GC_THRESHOLDS = (50_000, 10, 100)


def _import_command(module: str) -> ModuleType:
    """A command's module. In a process that runs one command (:func:`main`), the collector
    is paused for the imports and what they made is frozen afterwards: modules, classes, the
    rule catalogue and the model live as long as the process, and every full collection
    during a check would otherwise walk them all again (about a sixth of ``check``'s CPU
    time on the bundled examples; docs/startup.md). The collector then runs less often:
    a check frees its garbage by reference counting (its full collections find nothing),
    yet every object that outlives two young collections (fd-order records, cached
    steps, held events) counts towards the next full one, which on a VFIO-dense capture
    ran every ~15k lines and took a third of the CPU time. Tests that run commands in
    process (click's CliRunner) leave the collector alone."""
    if not _one_command_process:
        return importlib.import_module(module)
    enabled = gc.isenabled()
    gc.disable()
    try:
        return importlib.import_module(module)
    finally:
        if enabled:
            gc.enable()
        gc.freeze()
        gc.set_threshold(*ONE_COMMAND_GC_THRESHOLDS)


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if self._available(name)]

    @staticmethod
    def _available(name: str) -> bool:
        module = COMMANDS[name][0]
        return importlib.util.find_spec(module) is not None

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS or not self._available(name):
            return None
        module, attr, _ = COMMANDS[name]
        return getattr(_import_command(module), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(n, COMMANDS[n][2]) for n in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vfio-migcheck")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="Read [tool.vfio-migcheck] from this file instead of the nearest "
                   "pyproject.toml (from the working directory upwards).")
@click.option("--no-config", is_flag=True, help="Ignore every configuration file.")
@click.pass_context
def cli(ctx: click.Context, config_file: str | None, no_config: bool) -> None:
    """vfio-migcheck: model, prove and check the VFIO device-migration uAPI v2.

    Defaults for --spec, --flags, --driver, --select, --ignore, --output and the trace
    --format come from [tool.vfio-migcheck] in pyproject.toml; an option on the command
    line wins.
    Shell completion and configuration: vfio-migcheck docs cli.
    """
    if no_config or ctx.invoked_subcommand is None:
        return
    _apply_config(ctx, ctx.invoked_subcommand, config_file)


def _apply_config(ctx: click.Context, name: str, config_file: str | None) -> None:
    """The config's values for this command become click's defaults (options override)."""
    from pathlib import Path

    from vfio_migcheck.cli.common import fail_usage
    from vfio_migcheck.cli.config import ConfigError, default_map, find_config, load_config

    if config_file is not None and not Path(config_file).is_file():
        fail_usage(f"--config {config_file}: no such file")
    path = Path(config_file) if config_file else find_config()
    command = ctx.command.get_command(ctx, name) if path else None
    if command is None:
        return
    params = {p.name: p for p in command.params if isinstance(p, click.Option)}
    try:
        defaults = default_map(load_config(path, COMMANDS), name, params)
    except ConfigError as exc:
        fail_usage(str(exc))
    if defaults:
        ctx.default_map = {name: defaults}


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: click maps usage errors to exit code 2."""
    global _one_command_process
    _one_command_process = True
    try:
        cli.main(args=argv, prog_name="vfio-migcheck", standalone_mode=True)
    except KeyboardInterrupt:  # pragma: no cover
        sys.exit(130)
