"""Syscall name -> the handler that turns a complete call into events.

The one place that knows every handler module; adding a handled syscall is a line in
:data:`~vfio_migcheck.traces.strace.threads.NAME_CLASS` and a handler in
:mod:`io_calls` or :mod:`fd_calls`.
"""

from __future__ import annotations

from vfio_migcheck.traces.strace import fd_calls, io_calls
from vfio_migcheck.traces.strace.calls import Handler
from vfio_migcheck.traces.strace.threads import NAME_CLASS


def handlers_by_name() -> dict[str, Handler]:
    by_class = {**io_calls.handlers(), **fd_calls.handlers()}
    return {name: by_class[cls] for name, cls in NAME_CLASS.items()}


HANDLERS: dict[str, Handler] = handlers_by_name()
