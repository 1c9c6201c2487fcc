"""The exact command lines ``capture`` runs (the lab's VM runs the same bpftrace line).

bpftrace writes to its standard output, redirected to the capture file: ``-B none`` makes it
write every line as it happens, so the ``attached`` header can be waited for and a killed
capture keeps what it recorded (bpftrace 0.17's own ``-o FILE`` stays buffered until exit
whatever ``-B`` says). The strace flags are those docs/capture-guide.md recommends.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

PROGRAM_NAME = "vfio-mig.bt"
MAX_PIDS = 8                      # the positional parameters vfio-mig.bt reads ($1..$8)
STRACE_FLAGS = ("-f", "-ttt", "-T", "-yy", "-X", "verbose", "-s", "256")


def program_path() -> Path:
    """The shipped bpftrace program (package data)."""
    return Path(str(resources.files("vfio_migcheck.capture").joinpath(PROGRAM_NAME)))


def bpftrace_command(pids: list[int], *, program: str | Path | None = None,
                     bpftrace: str = "bpftrace") -> list[str]:
    """``bpftrace -B none vfio-mig.bt PID...`` (1 to 8 pids), stdout to the capture file."""
    if not 1 <= len(pids) <= MAX_PIDS:
        raise ValueError(f"vfio-mig.bt follows 1 to {MAX_PIDS} pids (and their children), "
                         f"got {len(pids)}")
    if any(p <= 0 for p in pids):
        raise ValueError("pids must be positive")
    prog = str(program) if program is not None else str(program_path())
    return [bpftrace, "-B", "none", prog, *(str(p) for p in pids)]


def strace_command(output: str | Path, *, pids: list[int] | None = None,
                   command: list[str] | None = None, strace: str = "strace") -> list[str]:
    """strace with the recommended flags, attached to ``pids`` or running ``command``."""
    if bool(pids) == bool(command):
        raise ValueError("give pids or a command, not both")
    head = [strace, *STRACE_FLAGS, "-o", str(output)]
    if pids:
        return head + [arg for p in pids for arg in ("-p", str(p))]
    assert command is not None
    return head + ["--", *command]


def main(argv: list[str] | None = None) -> int:
    """``python -m vfio_migcheck.capture.commands [PROGRAM]``: the bpftrace command line,
    one word per line, the pid written ``@PID@`` (the lab's VM runs exactly this line)."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    words = bpftrace_command([1], program=args[0] if args else None)
    words[-1] = "@PID@"
    print("\n".join(words))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
