"""``vfio-migcheck capture``: record a migration (eBPF by default, or strace)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from vfio_migcheck.cli.common import EXIT_OK, fail_usage


def default_output(tool: str, pids: tuple[int, ...], command: tuple[str, ...]) -> Path:
    who = f"pid{pids[0]}" if pids else Path(command[0]).name or "cmd"
    suffix = "bpftrace" if tool == "bpftrace" else "strace"
    return Path(f"vfio-mig-{who}-{time.strftime('%Y%m%d-%H%M%S')}.{suffix}")


@click.command("capture", context_settings={"ignore_unknown_options": False})
@click.option("-p", "--pid", "pids", type=int, multiple=True, metavar="PID",
              help="Record this running process (repeatable, up to 8), its threads and the "
              "children it forks, until they exit or Ctrl-C.")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Where to write the capture (default: vfio-mig-WHO-DATE.bpftrace or "
              ".strace in the current folder).")
@click.option("--with", "tool", type=click.Choice(["bpftrace", "strace"]), default="bpftrace",
              show_default=True, help="bpftrace: every VFIO payload decoded (needs root and "
              "BPF); strace: for hosts without BPF (payloads hidden, often inconclusive).")
@click.option("--bpftrace", "bpftrace_exe", default="bpftrace", show_default=True,
              metavar="EXE", help="The bpftrace executable.")
@click.option("--strace", "strace_exe", default="strace", show_default=True, metavar="EXE",
              help="The strace executable.")
@click.option("--program", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Another bpftrace program with the same output (default: the shipped "
              "vfio-mig.bt).")
@click.option("--attach-timeout", type=float, default=120.0, show_default=True,
              help="Seconds to wait for bpftrace to attach its probes.")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def capture_cmd(pids: tuple[int, ...], output: Path | None, tool: str, bpftrace_exe: str,
                strace_exe: str, program: Path | None, attach_timeout: float,
                command: tuple[str, ...]) -> None:
    """Record the VFIO migration activity of processes for 'vfio-migcheck check'.

    \b
      vfio-migcheck capture -p PID [-p PID ...] [-o FILE]
      vfio-migcheck capture [-o FILE] -- CMD ARGS...
      vfio-migcheck capture --with strace (-p PID | -- CMD ARGS...)

    Then check the capture with 'vfio-migcheck check FILE'. Exit status 0 when the capture
    was written, 2 when it could not be made (tool missing, no privileges, no kernel
    support, bad arguments); the status of CMD is reported, not returned.
    """
    from vfio_migcheck.capture import preflight, session

    if bool(pids) == bool(command):
        fail_usage("capture: give -p PID (repeatable) or a command after --, not both")
    if program is not None and tool != "bpftrace":
        fail_usage("capture: --program applies to the bpftrace capture only")
    out = output or default_output(tool, pids, command)
    say = _say
    try:
        if pids:
            preflight.check_pids(list(pids))
        if tool == "bpftrace":
            exe = preflight.find_tool(bpftrace_exe, "bpftrace")
            preflight.check_bpf_privileges()
            preflight.check_kernel_support()
            if program is not None and not program.is_file():
                raise preflight.CaptureError(f"{program}: no such file")
            result = session.run_bpftrace(out, pids=list(pids) or None,
                                          command=list(command) or None, bpftrace=exe,
                                          program=program, attach_timeout=attach_timeout,
                                          say=say)
        else:
            exe = preflight.find_tool(strace_exe, "strace")
            result = session.run_strace(out, pids=list(pids) or None,
                                        command=list(command) or None, strace=exe, say=say)
    except preflight.CaptureError as exc:
        fail_usage(f"capture: {exc}")
    except OSError as exc:
        fail_usage(f"capture: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
    status = "" if result.command_status is None else \
        f"; the command exited with status {result.command_status}"
    say(f"wrote {result.lines} lines to {result.output}{status}")
    say(f"check it with: vfio-migcheck check {result.output}")
    raise SystemExit(EXIT_OK)


def _say(text: str) -> None:
    click.echo(f"vfio-migcheck capture: {text}", err=True)
