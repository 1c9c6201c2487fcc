"""The documentation pages messages point to, readable from an installed package.

A wheel carries ``docs/`` as package data (``vfio_migcheck/docs/``, copied at build time
by setup.py); a source checkout reads the repository's ``docs/`` directly. Each page is a
*topic* named by its file stem (``capture-guide``, ``audit-schema``); the JSON Schema of
``check --output json`` is the topic ``check-schema``. ``vfio-migcheck docs TOPIC`` prints
one, so every "see vfio-migcheck docs X" in a message works after ``pip install``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

SUFFIXES = (".md", ".json")
#: package data that is a topic too (it lives with the code that writes the format)
EXTRA = {"check-schema": ("data", "check-schema.json")}


@dataclass(frozen=True)
class Topic:
    name: str
    path: Path
    title: str


def docs_root() -> Path | None:
    """Installed: the package's docs/; from a source checkout: the repository's docs/."""
    package = Path(str(resources.files("vfio_migcheck")))
    for candidate in (package / "docs", package.parent / "docs"):
        if (candidate / "checking.md").is_file():
            return candidate
    return None


def _title(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return ""
    if path.suffix == ".json":
        try:
            return str(json.loads(text).get("title", ""))
        except (ValueError, AttributeError):
            return ""
    match = re.search(r"^# (.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else ""


def topics() -> list[Topic]:
    found: dict[str, Path] = {}
    root = docs_root()
    if root is not None:
        for path in sorted(root.iterdir()):
            if path.suffix in SUFFIXES and path.is_file():
                found[path.stem] = path
    package = Path(str(resources.files("vfio_migcheck")))
    for name, parts in EXTRA.items():
        path = package.joinpath(*parts)
        if path.is_file():
            found[name] = path
    return [Topic(name, path, _title(path)) for name, path in sorted(found.items())]


def normalise(text: str) -> str:
    """``docs/capture-guide.md``, ``capture-guide.md`` and ``Capture-Guide`` are one topic."""
    name = text.strip().replace("\\", "/").rsplit("/", 1)[-1].lower()
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def find_topic(text: str) -> Topic | None:
    wanted = normalise(text)
    return next((t for t in topics() if t.name == wanted), None)
