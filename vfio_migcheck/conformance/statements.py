"""Lines of a lab scenario or lab result: canonical-trace statements with results ``?`` or real.

A statement is ``SUBJECT VERB [ARGS] [key=value ...] = RESULT [ERRNO] [key=value ...]``,
where SUBJECT is a declared device name or ``fd N`` (the subset of docs/canonical-format.md
the lab uses). Scenarios carry ``= ?``; the runner's output carries the kernel's result. A
trailing ``# run: key=value ...`` comment holds directives for the runner (where write bytes
come from, which stream to keep); other comments are kept as text. Parsing is pure and every
error names the file and line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from vfio_migcheck.traces.lines import read_text


class StatementError(ValueError):
    """A line that is not a statement; the message names file and line."""


@dataclass(frozen=True)
class Declaration:
    """``device NAME key=value ...``: one device the scenario uses."""

    line: int
    name: str
    keys: dict[str, str]


@dataclass(frozen=True)
class Statement:
    """One call and (in results) what the kernel answered."""

    line: int
    subject: str                  # a device name, or "fd"
    fd: int | None                # the data-fd number for ``fd N`` statements
    verb: str                     # GET, SET, PROBE, RESET, PRECOPY_INFO, read, write, ...
    args: tuple[str, ...]         # positional words after the verb (feature, state, length)
    inputs: dict[str, str]        # key=value before "="
    ret: int | None               # None when the result is "?"
    errno: str | None = None
    reply: dict[str, str] = field(default_factory=dict)
    directives: dict[str, str] = field(default_factory=dict)   # from "# run: k=v ..."
    comment: str = ""

    @property
    def call(self) -> str:
        """The call part as written, with the fd number (for tables)."""
        head = f"fd {self.fd}" if self.subject == "fd" else self.subject
        words = [head, self.verb, *self.args, *(f"{k}={v}" for k, v in self.inputs.items())]
        return " ".join(words)

    @property
    def kind(self) -> str:
        """Stable kind name: ``dev.SET STATE``, ``fd.read`` ... (matches deviations)."""
        if self.subject == "fd":
            return f"fd.{self.verb}"
        if self.verb in ("GET", "SET", "PROBE") and self.args:
            return f"dev.{self.verb} {self.args[0]}"
        return f"dev.{self.verb}"


def _keys(words: list[str], path: str, line: int) -> dict[str, str]:
    out: dict[str, str] = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise StatementError(f"{path}:{line}: expected key=value, got {word!r}")
        out[key] = value
    return out


def parse_line(text: str, line: int, path: str = "<text>") -> Statement | Declaration | None:
    """Parse one line; ``None`` for blank and comment lines."""
    stripped = text.strip()
    if not stripped or stripped.startswith("#"):
        return None
    stripped, _, comment = stripped.partition("#")
    comment = comment.strip()
    directives: dict[str, str] = {}
    if comment.startswith("run:"):
        directives = _keys(comment[4:].split(), path, line)
    words = stripped.split()
    if words[0] == "device":
        if len(words) < 2:
            raise StatementError(f"{path}:{line}: device declaration without a name")
        return Declaration(line, words[1], _keys(words[2:], path, line))
    if "=" not in words:
        raise StatementError(f"{path}:{line}: statement without ' = result': {stripped!r}")
    eq = words.index("=")
    call, res = words[:eq], words[eq + 1:]
    if call[0] == "fd":
        if len(call) < 3 or not call[1].lstrip("-").isdigit():
            raise StatementError(f"{path}:{line}: expected 'fd N VERB ...': {stripped!r}")
        subject, fd, rest = "fd", int(call[1]), call[2:]
    else:
        if len(call) < 2:
            raise StatementError(f"{path}:{line}: expected 'DEVICE VERB ...': {stripped!r}")
        subject, fd, rest = call[0], None, call[1:]
    verb = rest[0]
    positional = [w for w in rest[1:] if "=" not in w]
    inputs = _keys([w for w in rest[1:] if "=" in w], path, line)
    if not res:
        raise StatementError(f"{path}:{line}: nothing after '='")
    ret: int | None
    errno = None
    if res[0] == "?":
        ret, tail = None, res[1:]
    else:
        try:
            ret = int(res[0], 0)
        except ValueError:
            raise StatementError(
                f"{path}:{line}: result {res[0]!r} is neither '?' nor a number") from None
        tail = res[1:]
        if ret < 0:
            if not tail or not tail[0].startswith("E"):
                raise StatementError(f"{path}:{line}: failed call without an errno name")
            errno, tail = tail[0], tail[1:]
    return Statement(line, subject, fd, verb, tuple(positional), inputs, ret, errno,
                     _keys(tail, path, line), directives, comment)


def parse_text(text: str, path: str = "<text>") -> list[Statement | Declaration]:
    out: list[Statement | Declaration] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        item = parse_line(raw, number, path)
        if item is not None:
            out.append(item)
    return out


def parse_file(path: Path) -> list[Statement | Declaration]:
    try:
        text = read_text(path)          # plain, or compressed as in the committed corpus
    except (OSError, UnicodeDecodeError) as exc:
        raise StatementError(f"{path}: cannot read: {exc}") from exc
    return parse_text(text, str(path))
