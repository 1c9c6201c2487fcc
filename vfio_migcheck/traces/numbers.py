"""Number conversion for trace text that may be hostile: bounded digits, never a crash.

Every value a trace can show (fds, pids, sizes, ioctl numbers, timestamps) fits in 64
bits. Python's ``int()`` refuses strings of more than 4300 decimal digits with a bare
``ValueError``, and converting long strings costs time quadratic in their length. So the
readers convert through :func:`bounded_int`, which refuses any number with more than
:data:`MAX_DIGITS` significant digits with a :class:`NumberTooLong` naming the size; a
reader turns that into an unreadable line, never into a lost trace.
"""

from __future__ import annotations

#: Far above any 64-bit value in any base strace or QEMU prints (22 octal digits).
MAX_DIGITS = 40

_BASE_PREFIXES = ("0x", "0X", "0o", "0O", "0b", "0B")


class NumberTooLong(ValueError):
    """A number with more digits than any value a trace can carry."""


def significant_digits(text: str) -> int:
    """How many digits ``text`` has after its sign, base prefix and leading zeros."""
    body = text.strip().lstrip("+-")
    if body.startswith(_BASE_PREFIXES):
        body = body[2:]
    return len(body.lstrip("0_"))


def check_digits(text: str, what: str = "number") -> None:
    """Raise :class:`NumberTooLong` when ``text`` is beyond :data:`MAX_DIGITS` digits."""
    digits = significant_digits(text)
    if digits > MAX_DIGITS:
        raise NumberTooLong(f"{what} with {digits} digits is larger than any value a trace "
                            f"can hold (more than {MAX_DIGITS} digits)")


def bounded_int(text: str, base: int = 10, what: str = "number") -> int:
    """``int(text, base)`` for at most :data:`MAX_DIGITS` significant digits."""
    check_digits(text, what)
    return int(text, base)


def bounded_float(text: str, what: str = "number") -> float:
    """``float(text)`` for a plain decimal of at most :data:`MAX_DIGITS` digits each side."""
    whole, _, fraction = text.partition(".")
    check_digits(whole, what)
    if len(fraction) > MAX_DIGITS:
        raise NumberTooLong(f"{what} with {len(fraction)} fractional digits is not a time "
                            "any trace prints")
    return float(text)
