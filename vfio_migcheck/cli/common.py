"""Options and error handling shared by every command (one-line errors, exit code 2)."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, NoReturn

import click

from vfio_migcheck.checker.reports import UNWRAPPED_WIDTH
from vfio_migcheck.cli.completion import complete_drivers, complete_flags, complete_specs
from vfio_migcheck.model.names import NameError_, format_flags, parse_flags, parse_state
from vfio_migcheck.model.spec import DEFAULT_SPEC, Spec, SpecError, load_spec

if TYPE_CHECKING:
    from rich.console import Console

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
#: check/audit read the input but found nothing to check (no migration state anywhere)
EXIT_NOTHING_CHECKED = 3

spec_option = click.option(
    "--spec", "spec_arg", default=DEFAULT_SPEC, show_default=True, metavar="NAME|FILE",
    shell_complete=complete_specs,
    help="Built-in spec name (linux-6.12, linux-5.18) or a spec file "
         "(vfio-migcheck docs spec-format).",
)
flags_option = click.option(
    "--flags", "flags_arg", default=None, metavar="F", shell_complete=complete_flags,
    help="Migration flags: names (STOP_COPY,P2P,PRE_COPY) or a number (0x7). Default: every "
    "flag of the spec; for check and audit, the flags the trace shows, else every defined set.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
driver_option = click.option(
    "--driver", "driver_arg", default=None, metavar="NAME", shell_complete=complete_drivers,
    help="Driver profile (mlx5, hisi_acc, pds, qat, virtio, xe, mtty; module names work too; "
    "generic: every driver's behaviour). Default: detected per device from the trace "
    "(driver=, anon-inode names, sysfs paths), else generic. See 'vfio-migcheck drivers'.",
)


def fail_usage(message: str) -> NoReturn:
    """Print one line to stderr and exit 2: never a traceback for bad input."""
    click.echo(f"vfio-migcheck: error: {message}", err=True)
    sys.exit(EXIT_USAGE)


def get_driver(driver_arg: str | None):
    """The --driver profile, or None (detect per device); a bad name is a one-line error."""
    if driver_arg is None:
        return None
    from vfio_migcheck.model.profiles import ProfileError, find_profile

    try:
        return find_profile(driver_arg)
    except ProfileError as exc:
        fail_usage(f"bad --driver: {exc}")


def get_spec(spec_arg: str | None) -> Spec:
    try:
        return load_spec(spec_arg)
    except SpecError as exc:
        fail_usage(f"bad spec: {exc}")


def get_flags(flags_arg: str | None, spec: Spec, *, defined_only: bool = False) -> int:
    """The --flags value; with ``defined_only`` a set the spec cannot use is a usage error.

    ``path`` answers for any set (the model's EINVAL is its answer); ``arcs``, ``graph``,
    ``check`` and ``audit`` would only print an empty table or blame a party for the
    user's typo, so they refuse it up front.
    """
    try:
        flags = parse_flags(flags_arg, spec)
    except NameError_ as exc:
        fail_usage(str(exc))
    if defined_only:
        problem = flags_problem(flags, spec)
        if problem:
            fail_usage(f"--flags {flags_arg}: {problem}")
    return flags


def flags_problem(flags: int, spec: Spec) -> str | None:
    """Why ``flags`` is not a flag set of ``spec`` a device could have, or None."""
    known = f"its flags: {format_flags(spec.all_flags_mask, spec)}"
    sets = ", ".join(hex(f) for f in spec.defined_flag_sets)
    unknown = flags & ~spec.all_flags_mask
    if unknown:
        return f"bits {unknown:#x} are not flags of {spec.name} ({known}; defined sets: {sets})"
    missing = spec.mandatory_flags - spec.flag_names(flags)
    if missing:
        return (f"flag set {flags:#x} is undefined: it lacks the mandatory "
                f"{', '.join(sorted(missing))} flag (defined sets: {sets})")
    return None




def stdout_console(min_width: int = 0, soft_wrap: bool = False) -> Console:
    """A rich console for stdout that never hard-wraps piped output.

    At a terminal rich wraps at the terminal's width (at least ``min_width``), or leaves
    long lines to the terminal with ``soft_wrap``; piped or redirected, every line is
    printed whole, so ``| grep`` and editors see one record per line and a path is never
    split.
    """
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=soft_wrap)
    if not console.is_terminal:
        return Console(highlight=False, soft_wrap=True, width=UNWRAPPED_WIDTH)
    if console.width < min_width:
        return Console(highlight=False, soft_wrap=soft_wrap, width=min_width)
    return console


def plain_stdout() -> bool:
    """True when rich would print to stdout without colour: not a terminal, and none of
    the variables that make rich treat a pipe as a terminal (FORCE_COLOR, TTY_COMPATIBLE;
    set, rich decides). Then a report can be written as plain text without importing
    rich (checker/reports/text.py)."""
    if os.environ.get("FORCE_COLOR") is not None or os.environ.get("TTY_COMPATIBLE"):
        return False
    isatty = getattr(sys.stdout, "isatty", None)
    try:
        return isatty is None or not isatty()
    except ValueError:       # a closed stream: rich takes it as no terminal too
        return True


def get_state(text: str, spec: Spec) -> str | int:
    try:
        return parse_state(text, spec)
    except NameError_ as exc:
        fail_usage(str(exc))
