"""Small helpers for the text strace prints: string literals and ``-y`` decorations."""

from __future__ import annotations

import re

_SIMPLE_ESCAPES = {"n": 10, "t": 9, "r": 13, "v": 11, "f": 12, "a": 7, "b": 8, "e": 27,
                   '"': 34, "\\": 92, "'": 39, "?": 63}
_ESCAPE = re.compile(rb"\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)", re.S)

# anon-inode names of the in-tree (and announced) VFIO migration drivers' data fds
MIGRATION_ANON_NAMES = frozenset({
    "mlx5vf_mig", "hisi_acc_vf_mig", "pds_vfio_lm", "qat_vf_mig", "mtty_mig",
    "virtiovf_mig", "xe_vfio_mig",
})
DEVICE_ANON_NAME = "[vfio-device]"
CDEV_PREFIX = "/dev/vfio/devices/"
_GROUP_PATH = re.compile(r"/dev/vfio/(?:noiommu-)?(\d+)$")


def unescape(literal: str) -> tuple[str, bool]:
    """Decode a strace string literal (quotes included) → (text, truncated).

    strace prints bytes: ``\\n``-style escapes, ``\\xNN`` under ``-x``, and octal
    ``\\NNN`` otherwise; a trailing ``...`` after the closing quote means ``-s`` cut it.
    The bytes are decoded as UTF-8 with replacement characters for invalid sequences.
    """
    truncated = literal.endswith("...")
    body = literal[:-3] if truncated else literal
    if len(body) >= 2 and body[0] == '"' and body[-1] == '"':
        body = body[1:-1]
    raw = body.encode("utf-8", "surrogateescape")
    if b"\\" in raw:
        raw = _ESCAPE.sub(_replace_escape, raw)
    return raw.decode("utf-8", "replace"), truncated


def _replace_escape(match: re.Match[bytes]) -> bytes:
    code = match.group(1)
    if code[:1] == b"x" and len(code) > 1:
        return bytes([int(code[1:], 16)])
    if code[:1].isdigit():
        return bytes([int(code, 8) & 0xFF])
    char = code.decode("latin-1")
    return bytes([_SIMPLE_ESCAPES[char]]) if char in _SIMPLE_ESCAPES else code


def strip_device_numbers(decoration: str) -> str:
    """``/dev/vfio/devices/vfio0<char 237:0>`` (-yy) → ``/dev/vfio/devices/vfio0``."""
    if decoration.endswith(">") and "<" in decoration:
        cut = decoration.find("<")
        if cut > 0:
            return decoration[:cut]
    return decoration


def anon_name(decoration: str) -> str | None:
    """``anon_inode:mtty_mig`` → ``mtty_mig``; None when not an anonymous inode."""
    if decoration.startswith("anon_inode:"):
        return decoration[len("anon_inode:"):]
    return None


def is_migration_decoration(decoration: str) -> bool:
    """Does a -y decoration name a migration data fd (known driver or a *_mig-like name)?"""
    name = anon_name(decoration)
    if name is None:
        return False
    return name in MIGRATION_ANON_NAMES or name.endswith(("_mig", "_lm"))


def could_be_data_decoration(decoration: str) -> bool:
    """Could an fd with this decoration be a data fd of a driver we do not know by name?

    Data fds are anonymous inodes with a bare driver-chosen name; bracketed anonymous
    inodes (``[eventfd]``), KVM objects, paths, pipes and sockets are something else.
    """
    name = anon_name(decoration)
    if name is None:
        return False
    if name in MIGRATION_ANON_NAMES:
        return True
    return not (name.startswith("[") or name.startswith("kvm") or name == "inotify"
                or name.startswith("io_uring") or name == "")


def is_device_decoration(decoration: str) -> bool:
    path = strip_device_numbers(decoration)
    return path == "anon_inode:" + DEVICE_ANON_NAME or path.startswith(CDEV_PREFIX)


def group_of_path(path: str) -> str | None:
    """``/dev/vfio/12`` → ``"12"`` (also ``/dev/vfio/noiommu-12``)."""
    match = _GROUP_PATH.match(path)
    return match.group(1) if match else None
