"""U013 DataFdNotClosed."""

from __future__ import annotations

from vfio_migcheck.checker.config import Config
from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.checker.rules.examples import PRE

RULE = Rule(
    id="U013", name="DataFdNotClosed", severity="note", party="vmm", kind="behaviour",
    summary="a data fd was never closed explicitly (trace end, exec or process exit)",
    cite="vfio.h, MIG_DEVICE_STATE comment: the user owns the data_fd and must close it "
         "(uAPI:1038-1039)",
    doc="Each SET that starts a session hands a new fd to user space; leaking them keeps "
        "driver buffers alive until the process exits.",
    fix="close() each data fd once its session is finished.",
    bad=PRE + "fd 6 read 512 = 24\nd0 SET MIG_DEVICE_STATE RUNNING = 0 data_fd=-1\n",
    good=PRE + "fd 6 read 512 = 24\nd0 SET MIG_DEVICE_STATE RUNNING = 0 data_fd=-1\n"
               "fd 6 close = 0\n",
    uapi_rule="R6",
)


def check(how: str) -> str | None:
    """A data fd that went away other than by close() (exec, exit, close_range)."""
    return None if how == "close" else f"data fd closed only by {how}"


def open_at_end(configs: list[Config]) -> list[str]:
    """Data fds open in every reading at the end of the trace (never closed), sorted."""
    open_files: set[str] | None = None
    for c in configs:
        files = set(c.dead)
        if c.session is not None and c.session.file is not None and not c.session.closed:
            files.add(c.session.file)
        open_files = files if open_files is None else open_files & files
    return sorted(open_files or ())


def end_message(file: str) -> str:
    return f"data fd {file} is still open at the end of the trace"
