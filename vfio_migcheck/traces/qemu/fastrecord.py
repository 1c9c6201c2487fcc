"""A regex fast path for the common QEMU trace records: the same fields as the grammar.

Real logs repeat a few record shapes with ever-changing numbers (sizes, counters), so the
cache in front of the LALR parse rarely hits. :func:`fast_record` reads the keyword-and-
number shapes of grammar/qemu.lark listed in ``_SHAPES``, naming every value exactly as
:func:`vfio_migcheck.traces.qemu.syntax._values` does; anything else, or anything doubtful,
returns None and the grammar decides (and words every error). tests/test_qemu_fastrecord.py
holds the two against each other with hypothesis.
"""

from __future__ import annotations

import re
from typing import Any

from vfio_migcheck.traces.numbers import NumberTooLong, bounded_int

_N, _V = object(), object()   # a NUMBER; a value (VALUE or NUMBER)

#: shape name -> keyword/value templates, as in grammar/qemu.lark (unambiguous there)
_SHAPES: dict[str, list[list[Any]]] = {
    "no_args": [[]],
    "state": [["state", _V]],
    "new_state": [["new", "state", _V]],
    "new_recover_state": [["new", "state", _V, ",", "recover", "state", _V]],
    "marker": [["data", _N]],
    "buffer_size": [["data", "buffer", "size", _N]],
    "data_size": [["data_size", _N]],
    "size_ret": [["size", _N], ["size", _N, "ret", _N]],
    "v1_offset_size": [["Offset", _N, "size", _N], ["Offset", _N, "size", _N, "pending", _N]],
    "v1_pending": [["pending", _N]],
    "v1_region": [["Region", _N]],
    "idx": [["idx", _N]],
    "ret": [["ret", _N]],
    "migration_init": [["mig_flags", _N, ",", "precopy_info_v2_used", _N, ",",
                        "dirty_pages_supported", _N]],
    "precopy_size": [["init", _N, ",", "dirty", _N, ",", "reinit", _N, ",", "ret", _N]],
    "stopcopy": [["stopcopy", "size", _N]],
    "stopcopy_ret": [["stopcopy", "size", _N, "ret", _N]],
    "state_pending": [["stopcopy", "size", _N, ",", "precopy", "initial", "size", _N, ",",
                       "precopy", "dirty", "size", _N, ",", "request", "switchover", "ack",
                       _N, ",", "exact", _N, ",", "final", _N]],
    "iterate_sizes": [["precopy", "initial", "size", _N, "precopy", "dirty", "size", _N]],
}
# first keyword (or None for no arguments) -> [(shape, template)]
_BY_FIRST: dict[str | None, list[tuple[str, list[Any]]]] = {}
for _shape, _templates in _SHAPES.items():
    for _template in _templates:
        _BY_FIRST.setdefault(_template[0] if _template else None, []).append(
            (_shape, _template))

_HEAD = re.compile(r"([a-z][a-z0-9_]*)(?: *\(([^()\n]*)\))?([^()]*)")
_TOKEN = re.compile(r",|[^ ,]+")
_NUMBER = re.compile(r"(-?)(0x[0-9a-fA-F]+|[0-9]+)")
_VALUE = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_PUNCTUATION = frozenset({"(", ")", ","})


# Each template compiled into one pattern over the whole argument text: the tokens the
# loop below would find, in order (a run of blanks between words, blanks optional next to a
# comma), values of at most 18 digits (int() reads them as bounded_int does). A template
# that does not match this way goes through the token loop, which decides.
_DIGITS = r"-?(?:0x[0-9a-fA-F]{1,16}|[0-9]{1,18})"
_WORD_VALUE = r"(?!UNKNOWN[ ,]|UNKNOWN$)[A-Za-z][A-Za-z0-9_-]*"


def template_pattern(template: list[Any]) -> str:
    """The text :func:`_compiled`'s pattern matches, without groups (its values are
    matched, not kept)."""
    pattern = _compiled(template)[0].pattern
    return pattern.replace(f"({_DIGITS}|{_WORD_VALUE})", f"(?:{_DIGITS}|{_WORD_VALUE})") \
        .replace(f"({_DIGITS})", f"(?:{_DIGITS})")


def _compiled(template: list[Any]) -> tuple[re.Pattern[str], tuple[str, ...], tuple[bool, ...]]:
    """(pattern, the value names in order, whether each value must be a number)."""
    parts = [" *"]
    keys: list[str] = []
    numeric: list[bool] = []
    words: list[str] = []
    last_key = "value"
    previous = None
    for want in template:
        if previous is not None:
            parts.append(" *" if previous == "," or want == "," else " +")
        if want is _N or want is _V:
            parts.append(f"({_DIGITS})" if want is _N else f"({_DIGITS}|{_WORD_VALUE})")
            key = "_".join(words) if words else f"{last_key}_str"
            keys.append(key)
            numeric.append(want is _N)
            last_key, words = key, []
        else:
            parts.append(re.escape(want))
            if want not in _PUNCTUATION:
                words.append(want.lower())
        previous = want
    parts.append(" *")
    return re.compile("".join(parts)), tuple(keys), tuple(numeric)


_COMPILED: dict[str | None, list[tuple[str, re.Pattern[str], tuple[str, ...], tuple[bool, ...]]]] \
    = {first: [(shape, *_compiled(template)) for shape, template in shapes]
       for first, shapes in _BY_FIRST.items()}
_FIRST = re.compile(r" *([^ ,]*)")
_IS_NUMBER = re.compile(_DIGITS)


def _int(text: str) -> int:
    if text[:1] == "-":
        return -_int(text[1:])
    return int(text, 16) if text[:2] == "0x" else int(text)


def _compiled_record(args: str) -> dict[str, Any] | None:
    """The values of ``args`` by the compiled templates, or None (then the token loop)."""
    first = _FIRST.match(args).group(1)  # type: ignore[union-attr]
    for _shape, pattern, keys, numeric in _COMPILED.get(first or None, ()):
        m = pattern.fullmatch(args)
        if m is None:
            continue
        values: dict[str, Any] = {}
        for key, number_only, text in zip(keys, numeric, m.groups()):
            if number_only or _IS_NUMBER.fullmatch(text):
                values[key] = _int(text)
            else:
                values[key] = text
        return {"shape": _shape, "values": values}
    return None


def fast_record(body: str) -> tuple[str, str, dict[str, Any]] | None:
    """(shape, device, values) as the grammar would give them, or None to ask the grammar."""
    head = _HEAD.fullmatch(body)
    if head is None:
        return None
    args = head.group(3)
    if "\t" in args or "\n" in args:
        return None
    found = _compiled_record(args)
    if found is not None:
        device = head.group(2)
        return found["shape"], device.strip() if device is not None else "", found["values"]
    tokens = _TOKEN.findall(args)
    for shape, template in _BY_FIRST.get(tokens[0] if tokens else None, ()):
        if len(template) == len(tokens):
            values = _match(template, tokens)
            if values is not None:
                device = head.group(2)
                return shape, device.strip() if device is not None else "", values
    return None


def _match(template: list[Any], tokens: list[str]) -> dict[str, Any] | None:
    values: dict[str, Any] = {}
    words: list[str] = []
    last_key = "value"
    for want, token in zip(template, tokens):
        if want is _N or want is _V:
            number = _NUMBER.fullmatch(token)
            if number is not None:
                try:
                    value: Any = bounded_int(number.group(2),
                                             16 if number.group(2).startswith("0x") else 10)
                except NumberTooLong:
                    return None   # the grammar path reports it
                if number.group(1):
                    value = -value
            elif want is _V and token != "UNKNOWN" and _VALUE.fullmatch(token):
                value = token
            else:
                return None
            key = "_".join(words) if words else f"{last_key}_str"
            values[key] = value
            last_key, words = key, []
        elif want != token:
            return None
        elif token not in _PUNCTUATION:
            words.append(token.lower())
    return values
