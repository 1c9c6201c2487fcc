"""Options and error handling shared by every command (one-line errors, exit code 2)."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from vfio_migcheck.model.names import NameError_, parse_flags, parse_state
from vfio_migcheck.model.spec import DEFAULT_SPEC, Spec, SpecError, load_spec

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
#: check/audit read the input but found nothing to check (no migration state anywhere)
EXIT_NOTHING_CHECKED = 3

spec_option = click.option(
    "--spec", "spec_arg", default=DEFAULT_SPEC, show_default=True, metavar="NAME|FILE",
    help="Built-in spec name (linux-6.12, linux-5.18) or a spec file (docs/spec-format.md).",
)
flags_option = click.option(
    "--flags", "flags_arg", default=None, metavar="F",
    help="Migration flags: names (STOP_COPY,P2P,PRE_COPY) or a number (0x7). Default: every "
    "flag of the spec; for check and audit, the flags the trace shows, else every defined set.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
driver_option = click.option(
    "--driver", "driver_arg", default=None, metavar="NAME",
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


def get_flags(flags_arg: str | None, spec: Spec) -> int:
    try:
        return parse_flags(flags_arg, spec)
    except NameError_ as exc:
        fail_usage(str(exc))


def get_state(text: str, spec: Spec) -> str | int:
    try:
        return parse_state(text, spec)
    except NameError_ as exc:
        fail_usage(str(exc))
