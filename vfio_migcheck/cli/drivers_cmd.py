"""``vfio-migcheck drivers``: the driver profiles, their facts and kernel citations."""

from __future__ import annotations

import json

import click
from rich.console import Console

from vfio_migcheck.cli.common import fail_usage, json_option, stdout_console
from vfio_migcheck.model.profiles import (
    DriverProfile,
    ProfileError,
    builtin_profiles,
    find_profile,
    load_common_facts,
)


def profile_json(profile: DriverProfile) -> dict:
    """One profile as plain data (the ``--json`` form)."""
    return {
        "name": profile.name, "modules": list(profile.modules), "aliases": list(profile.aliases),
        "description": profile.description, "kernel": profile.kernel, "source": profile.source,
        "flag_sets": [f"{f:#x}" for f in profile.flag_sets],
        "detect": {"anon_inodes": list(profile.anon_inodes), "sysfs": list(profile.sysfs),
                   "qemu": list(profile.qemu)},
        "open_state": sorted(profile.open_states),
        "close_state": profile.close_state,
        "precopy_end": sorted(profile.precopy_ends),
        "keeps_without_session": sorted(profile.keeps_without_session),
        "reset_errnos_after_reset": sorted(profile.reset_errnos_after_reset),
        "reset_deferred": profile.reset_deferred,
        "async_error": profile.async_error, "error_set_errno": profile.error_set_errno,
        "async_session_loss": profile.async_session_loss,
        "write_bytes_taken_errnos": sorted(profile.write_bytes_taken_errnos),
        "failures": [{"from": f.src, "to": f.dst, "errno": f.errno, "session": f.session,
                      "cite": f.cite} for f in profile.failures],
        "facts": [{"text": f.text, "cite": f.cite, "verified": f.verified or profile.kernel}
                  for f in profile.facts],
    }


@click.command("drivers")
@click.argument("name", required=False, metavar="[NAME|FILE]")
@json_option
def drivers_cmd(name: str | None, as_json: bool) -> None:
    """List the driver profiles (or one profile) with their facts and kernel citations."""
    try:
        profiles = [find_profile(name)] if name else builtin_profiles()
        common = load_common_facts() if not name else ()
    except ProfileError as exc:
        fail_usage(f"bad driver profile: {exc}")
    if as_json:
        out = {"drivers": [profile_json(p) for p in profiles]}
        if not name:
            out["common"] = [{"text": f.text, "cite": f.cite} for f in common]
        click.echo(json.dumps(out, indent=2))
        return
    console = stdout_console(soft_wrap=True)
    for profile in profiles:
        _print_profile(console, profile)
    if common:
        console.print("[bold]every driver[/bold] (Linux 6.12.118)")
        for fact in common:
            console.print(f"  - {fact.text} [dim]({fact.cite})[/dim]")


def _print_profile(console: Console, profile: DriverProfile) -> None:
    if profile.is_generic:
        console.print("[bold]generic[/bold]: no profile; the union of every built-in driver's "
                      "behaviour")
        for member in profile.members:
            console.print(f"  - {member.name}")
        console.print("")
        return
    names = ", ".join((*profile.modules, *profile.aliases))
    flags = ", ".join(f"{f:#x}" for f in profile.flag_sets)
    console.print(f"[bold]{profile.name}[/bold] ({names}): {profile.description}")
    console.print(f"  read in {profile.kernel}: {profile.source}; flags {flags}")
    for fact in profile.facts:
        where = f"; read in {fact.verified}" if fact.verified else ""
        console.print(f"  - {fact.text} [dim]({fact.cite}{where})[/dim]")
    console.print("")
