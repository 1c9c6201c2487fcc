"""Short human text for events and configuration sets (report fields, not logic)."""

from __future__ import annotations

from vfio_migcheck.checker.config import Config
from vfio_migcheck.model.spec import Spec
from vfio_migcheck.traces.events import (
    UNKNOWN,
    DataClose,
    DataIO,
    DataIoctl,
    DataSeek,
    DeviceAccess,
    DeviceClose,
    DeviceReset,
    Event,
    FdAppeared,
    FeatureCall,
    PrecopyInfo,
    QemuEvent,
)

_ORDER = {"ERROR": 0, "STOP": 1, "RUNNING": 2, "STOP_COPY": 3, "RESUMING": 4,
          "RUNNING_P2P": 5, "PRE_COPY": 6, "PRE_COPY_P2P": 7}


def state_order(state: str) -> int:
    return _ORDER.get(state, 99)


def result_text(ret, errno) -> str:
    if ret is UNKNOWN or ret is None:
        return "?"
    if isinstance(ret, int) and ret < 0:
        return f"-1 {errno}" if isinstance(errno, str) else str(ret)
    return str(ret)


def describe_event(event: Event) -> str:
    """What the trace shows, in the canonical vocabulary."""
    if event.text:
        return event.text.strip()
    if isinstance(event, FeatureCall):
        parts = [event.device, str(event.op), str(event.feature)]
        if event.target not in (UNKNOWN, None):
            parts.append(str(event.target))
        text = " ".join(parts) + " = " + result_text(event.ret, event.errno)
        if event.reply_state not in (UNKNOWN, None):
            text += f" state={event.reply_state}"
        if isinstance(event.data_fd, int):
            text += f" data_fd={event.data_fd}"
        return text
    if isinstance(event, DeviceReset):
        return f"{event.device} RESET = {result_text(event.ret, event.errno)}"
    if isinstance(event, DeviceClose):
        return f"{event.device} close = {result_text(event.ret, event.errno)}"
    if isinstance(event, DeviceAccess):
        return f"{event.device} access {event.call} = {result_text(event.ret, event.errno)}"
    if isinstance(event, DataIO):
        size = "" if event.requested is UNKNOWN else f" {event.requested}"
        return f"fd {event.fd} {event.call}{size} = {result_text(event.ret, event.errno)}"
    if isinstance(event, PrecopyInfo):
        return f"fd {event.fd} ioctl PRECOPY_INFO = {result_text(event.ret, event.errno)}"
    if isinstance(event, (DataIoctl, DataSeek)):
        what = event.request if isinstance(event, DataIoctl) else event.call
        return f"fd {event.fd} {what} = {result_text(event.ret, event.errno)}"
    if isinstance(event, DataClose):
        return f"fd {event.fd} {event.how} = {result_text(event.ret, event.errno)}"
    if isinstance(event, FdAppeared):
        return f"fd {event.fd} appeared"
    if isinstance(event, QemuEvent):
        return f"qemu {event.device} {event.name}"
    return event.kind


def describe_config(config: Config) -> str:
    text = config.state
    s = config.session
    if s is not None:
        where = f"fd {s.fd}" if s.fd is not None else (s.file or "fd not seen yet")
        extra = ", EOF seen" if s.eof else ""
        extra += ", fd closed" if s.closed else ""
        text += f" ({s.kind} session on {where}{extra})"
    return text


def describe_configs(configs: list[Config], spec: Spec, limit: int = 4) -> str:
    """'STOP_COPY (saving session on fd 6)' or 'one of: ...' for several readings."""
    if not configs:
        return "no reading"
    texts = list(dict.fromkeys(describe_config(c) for c in sorted(
        configs, key=lambda c: (state_order(c.state), c.flags))))
    flags = sorted({c.flags for c in configs})
    suffix = "" if len(flags) == 1 else " [flags " + ", ".join(f"{f:#x}" for f in flags) + "]"
    if len(texts) == 1:
        return texts[0] + suffix
    shown = texts[:limit]
    more = f" and {len(texts) - limit} more" if len(texts) > limit else ""
    return "one of: " + "; ".join(shown) + more + suffix
