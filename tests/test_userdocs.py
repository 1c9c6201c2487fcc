"""Every documentation page the package points to can be opened after installation:
``vfio-migcheck docs TOPIC`` from the built package (setup.py's build_py copies docs/)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from vfio_migcheck.cli import cli
from vfio_migcheck.userdocs import find_topic, normalise, topics

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "vfio_migcheck"
TEXT_SUFFIXES = {".py", ".toml", ".lark", ".bt", ".json"}
#: "docs/capture-guide.md" in a message or docstring, or "vfio-migcheck docs capture-guide"
DOC_PATH = re.compile(r"(?<![\w/.])docs/([\w.-]+\.(?:md|json))")
DOC_COMMAND = re.compile(r"vfio-migcheck docs ([a-z][\w-]*)")


def references() -> dict[str, set[str]]:
    """topic -> the package files that point to it."""
    found: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*"):
        if path.suffix not in TEXT_SUFFIXES or "__pycache__" in path.parts:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for name in DOC_PATH.findall(text) + DOC_COMMAND.findall(text):
            found.setdefault(normalise(name), set()).add(str(path.relative_to(ROOT)))
    return found


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_the_package_points_to_docs_and_each_reference_resolves() -> None:
    refs = references()
    # the messages users see name these pages (a regression would drop the scan's reach)
    assert {"capture-guide", "spec-format", "canonical-format", "uapi", "audit-schema"} <= set(
        refs)
    missing = {name: sorted(files) for name, files in refs.items() if find_topic(name) is None}
    assert missing == {}


def test_docs_lists_and_prints_topics() -> None:
    listing = run("docs")
    assert listing.exit_code == 0
    names = [line.split()[0] for line in listing.output.splitlines()]
    assert names == sorted(names) and {"capture-guide", "checking", "check-schema"} <= set(names)
    for spelled in ("capture-guide", "docs/capture-guide.md", "Capture-Guide.md"):
        shown = run("docs", spelled)
        assert shown.exit_code == 0
        assert shown.output == (ROOT / "docs" / "capture-guide.md").read_text()
    unknown = run("docs", "nonsense")
    assert unknown.exit_code == 2 and "'vfio-migcheck docs' lists them" in unknown.output
    assert run("docs", "--path", "check-schema").output.strip().endswith("check-schema.json")


def test_topics_have_titles() -> None:
    assert all(t.title for t in topics())


@pytest.fixture(scope="module")
def built_package(tmp_path_factory) -> Path:
    """What a wheel holds: the build_py output of a copy of the source tree."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):
        shutil.copy(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(PACKAGE, src / "vfio_migcheck", ignore=ignore)
    shutil.copytree(ROOT / "docs", src / "docs", ignore=ignore)
    out = tmp_path_factory.mktemp("build")
    subprocess.run([sys.executable, "setup.py", "-q", "build_py", "-d", str(out)], cwd=src,
                   check=True, capture_output=True)
    return out


def test_every_reference_resolves_in_the_installed_package(built_package: Path,
                                                           tmp_path: Path) -> None:
    shipped = built_package / "vfio_migcheck" / "docs"
    assert (shipped / "capture-guide.md").is_file() and (shipped / "examples").is_dir()
    env = dict(os.environ, PYTHONPATH=str(built_package))
    names = sorted(references())
    script = ("import sys\nfrom vfio_migcheck.userdocs import find_topic\n"
              "for name in sys.argv[1:]:\n    t = find_topic(name)\n"
              "    print(name, t.path if t else None)\n")
    out = subprocess.run([sys.executable, "-c", script, *names], cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=True).stdout
    where = dict(line.split(" ", 1) for line in out.splitlines())
    assert sorted(where) == names
    for name, path in where.items():
        assert path != "None", name
        assert Path(path).is_relative_to(built_package), (name, path)   # not the checkout
    shown = subprocess.run([sys.executable, "-m", "vfio_migcheck", "docs", "capture-guide"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    assert shown.stdout == (ROOT / "docs" / "capture-guide.md").read_text()
