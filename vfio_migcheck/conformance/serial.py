"""Split the lab VM's result stream (second serial port) back into files.

The VM prints each file between ``=====BEGIN <path>=====`` and ``=====END <path>=====``
lines; the stream ends with ``=====ALL DONE=====``. The serial line adds ``\\r`` before
``\\n``, which is removed. Paths are relative and may not climb out of the output folder.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path, PurePosixPath

BEGIN = re.compile(r"^=====BEGIN (?P<name>[^=]+)=====$")
END = re.compile(r"^=====END (?P<name>[^=]+)=====$")
DONE = "=====ALL DONE====="


class SerialError(ValueError):
    """The stream is truncated or malformed; the message names the line."""


def split_stream(text: str, source: str = "<serial>") -> tuple[dict[str, str], bool]:
    """Return ``{path: content}`` and whether the end marker was seen."""
    files: dict[str, str] = {}
    current: str | None = None
    body: list[str] = []
    done = False
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        if current is None:
            begin = BEGIN.match(line)
            if begin:
                current, body = begin["name"], []
                _safe(current, source, number)
            elif line == DONE:
                done = True
            continue
        end = END.match(line)
        if end:
            if end["name"] != current:
                raise SerialError(f"{source}:{number}: END {end['name']} inside {current}")
            files[current] = "".join(f"{b}\n" for b in body)
            current = None
        else:
            body.append(line)
    if current is not None:
        raise SerialError(f"{source}: stream ends inside {current} (VM stopped early?)")
    return files, done


def _safe(name: str, source: str, number: int) -> None:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        raise SerialError(f"{source}:{number}: unsafe file name {name!r}")


def write_files(files: dict[str, str], out: Path) -> None:
    for name, content in files.items():
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Split the lab's serial stream into files.")
    parser.add_argument("stream", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    try:
        text = args.stream.read_text(encoding="utf-8", errors="replace")
        files, done = split_stream(text, str(args.stream))
    except (OSError, SerialError) as exc:
        print(f"serial: error: {exc}", file=sys.stderr)
        return 2
    write_files(files, args.out)
    print(f"{len(files)} files written to {args.out}" + ("" if done else " (no end marker!)"))
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())
