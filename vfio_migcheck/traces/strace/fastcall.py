"""A regex fast path for the flat calls that dominate VFIO-dense captures.

``read(6<anon_inode:mtty_mig>, "..."..., 16) = 16 <0.000293>`` and the VFIO ioctls are
flat: no structs or nested calls. Arrays one level deep are flat enough too: ``execve``'s
argument list (the first line of every capture started by strace), signal sets
(``[RTMIN RT_1]``, ``~[]``) and ``select`` fd sets. For those this module builds exactly
the :class:`~vfio_migcheck.traces.strace.syntax.Call` the lark grammar would, several times
faster, and without importing lark; anything else (structs, nested arrays, or anything it
is unsure about) returns None and goes to lark. tests/test_strace_syntax.py checks both
paths agree on generated calls.
"""

from __future__ import annotations

import re

from vfio_migcheck.traces.strace.syntax import Arg, Call, Item, duration_value, number_value
from vfio_migcheck.traces.strace.text import decode_decoration

_DECOR = r"<(?![<\s=])(?:->|[^<>\n]|<[^<>\n]*>)*>"
#: one piece of flat argument text: a character that opens or closes nothing, a string, or
#: an fd decoration
_FLAT = r"(?:[^()\[\]{}\"<>]|\"(?:[^\"\\\n]|\\.)*\"|<(?![<\s=])[^<>\n]*(?:<[^<>\n]*>)?>)"
_OUTER = re.compile(
    r"(?P<name>[A-Za-z_$][A-Za-z0-9_$.]*)\s*\("
    r"(?P<args>(?:" + _FLAT + r"|\[" + _FLAT + r"*\])*)"
    r"\)\s*=\s*(?P<ret>-?(?:0[xX][0-9a-fA-F]+|[0-9]+))"
    r"(?P<rdec><(?![<\s=])[^<>\n]*(?:<[^<>\n]*>)?>)?"
    r"(?:\s+(?P<errno>[A-Z][A-Z0-9_]*))?"
    r"(?:\s+\((?P<aux>[A-Za-z0-9_ |/,.:=+-]*)\))?"
    r"(?:\s+<(?P<dur>[0-9]+\.[0-9]+)>)?\s*$"
)
_TOKEN = re.compile(
    r"\s*(?:"
    r"(?P<s>\"(?:[^\"\\\n]|\\.)*\")"
    r"|(?P<c>/\*(?:[^*]|\*(?!/))*\*/)"
    r"|(?P<e>\.\.\.)"
    r"|(?P<alt>[A-Za-z_][A-Za-z0-9_]*(?: or [A-Za-z_][A-Za-z0-9_]*)+)"
    r"|(?P<n>-?(?:0[xX][0-9a-fA-F]+|[0-9]+))(?P<nd>" + _DECOR + r")?(?![0-9A-Za-z_.])"
    r"|(?P<w>[A-Za-z_$][A-Za-z0-9_$.]*)(?P<wd>" + _DECOR + r")?"
    r"|(?P<comma>,)"
    r"|(?P<open>\[)|(?P<close>\])"
    r"|(?P<o>=>|<<|>>|&&|\|\||==|!=|[-|&*+~@!%^/:=.'#;`?])"
    r")"
)


# Argument texts repeat a lot (the same data-fd read with -s 0, the same ioctl buffer):
# their token lists are kept (never mutated by the readers) in a small bounded memo.
_MEMO_SIZE = 4096
_memo: dict[str, list[Arg]] = {}


def fast_call(text: str) -> Call | None:
    """Parse a bracket-free complete call, or return None to let lark do it."""
    outer = _OUTER.match(text)
    if outer is None:
        return None
    args_text = outer.group("args")
    args = _memo.get(args_text)
    if args is None:
        args = _tokenize(args_text)
        if args is None:
            return None
        if len(_memo) >= _MEMO_SIZE:
            _memo.clear()
        _memo[args_text] = args
    rdec = outer.group("rdec")
    call = Call(outer.group("name"), args, number_value(outer.group("ret")),
                decode_decoration(rdec[1:-1]) if rdec else None)
    errno = outer.group("errno")
    if errno is not None:
        call.errno = errno
    aux = outer.group("aux")
    if aux is not None:
        tokens = _tokenize(aux)
        if tokens is None:
            return None
        call.aux.append(tokens)
    dur = outer.group("dur")
    if dur is not None:
        call.duration = duration_value(dur)
    return call


def _tokenize(text: str) -> list[Arg] | None:
    """The grammar's ``seq`` of ``text``: arguments split at commas, each a list of items;
    ``[...]`` becomes one ``("[", seq, None)`` item (the pattern above lets only flat text
    between brackets through; nesting deeper is left to lark)."""
    args: list[Arg] = []
    current: Arg = []
    outer: list[tuple[list[Arg], Arg]] = []     # the enclosing seqs while inside brackets
    pos = 0
    end = len(text)
    match = _TOKEN.match
    while pos < end:
        m = match(text, pos)
        if m is None or m.end() == pos:
            if text[pos:].strip() == "":
                break
            return None
        pos = m.end()
        kind = m.lastgroup
        item: Item
        if kind == "comma":
            args.append(current)
            current = []
            continue
        if kind == "open":
            outer.append((args, current))
            args, current = [], []
            continue
        if kind == "close":
            if not outer:
                return None
            if current or args:
                args.append(current)
            item = ("[", args, None)
            args, current = outer.pop()
        elif kind == "s":
            item = ("s", m.group("s"), None)
        elif kind in ("n", "nd"):
            dec = m.group("nd")
            item = ("n", number_value(m.group("n")), decode_decoration(dec[1:-1]) if dec else None)
        elif kind in ("w", "wd"):
            dec = m.group("wd")
            item = ("w", m.group("w"), decode_decoration(dec[1:-1]) if dec else None)
        elif kind == "alt":
            item = ("w", m.group("alt"), None)
        elif kind == "e":
            item = ("...", None, None)
        elif kind == "c":
            item = ("c", m.group("c")[2:-2].strip(), None)
        else:
            item = ("o", m.group("o"), None)
        current.append(item)
    if outer:
        return None
    if current or args:
        args.append(current)
    return args
