"""audit inputs from fsspec URLs and tar/zip archives: listed by the client, read by workers."""

from __future__ import annotations

import json
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from vfio_migcheck.audit.collect import CollectError
from vfio_migcheck.audit.sources import collect_all, group_remote, is_url
from vfio_migcheck.cli import cli

pytest.importorskip("fsspec")

ROOT = Path(__file__).resolve().parents[1]
HOST = ROOT / "tests" / "fixtures" / "mtty-6.12" / "ff_o"   # includes strace -ff captures


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Path:
    """One host's captures as a directory, a .tar.gz and a .zip."""
    root = tmp_path_factory.mktemp("fleet")
    shutil.copytree(HOST, root / "host1", ignore=shutil.ignore_patterns("*.gt", "*.md"))
    for name in ("source-precopy.vmc", "destination.vmc"):
        shutil.copy(ROOT / "vfio_migcheck" / "examples" / name, root / "host1" / name)
    with tarfile.open(root / "fleet.tar.gz", "w:gz") as tar:
        tar.add(root / "host1", arcname="host1")
    with zipfile.ZipFile(root / "fleet.zip", "w") as z:
        for f in sorted((root / "host1").iterdir()):
            z.write(f, f"host1/{f.name}")
    return root


def audit_json(*args: str) -> dict:
    result = CliRunner().invoke(cli, ["audit", *args, "-j", "1", "-q", "--json", "-"],
                                catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.output)


def _numbers(doc: dict) -> dict:
    """What must not depend on where the captures were read from."""
    return {"totals": doc["totals"], "flag_sets": doc["coverage"]["flag_sets"],
            "captures": [(Path(c["path"].split("::")[0]).name, c["verdict"], c["counts"],
                          [(f["rule"], f["line"], f["text"]) for f in c["findings"]])
                         for c in doc["captures"]]}


def test_archives_and_file_urls_audit_like_the_directory(fleet):
    local = audit_json(str(fleet / "host1"))
    assert local["totals"]["findings"] > 0
    docs = {}
    for source in (str(fleet / "fleet.tar.gz"), str(fleet / "fleet.zip"),
                   (fleet / "host1").as_uri()):
        doc = docs[source] = audit_json(source)
        assert _numbers(doc) == _numbers(local), source
        assert all("://" in c["path"] for c in doc["captures"])
        for c in doc["captures"]:
            assert all(f["file"] in c["files"] for f in c["findings"]), c["path"]
    tar = docs[str(fleet / "fleet.tar.gz")]
    ff = [c for c in tar["captures"] if c["path"].startswith("tar://host1/threads.strace::")]
    assert len(ff) == 1 and len(ff[0]["files"]) == 2    # strace -ff members form one capture


def test_memory_filesystem_and_globs(fleet):
    fsspec = pytest.importorskip("fsspec")
    mem = fsspec.filesystem("memory")
    for f in (fleet / "host1").glob("*.vmc"):
        mem.pipe(f"/fleet-test/h/{f.name}", f.read_bytes())
    mem.pipe("/fleet-test/h/notes.md", b"# not a capture\n")
    caps = collect_all(["memory://fleet-test/h/*.vmc"])
    assert [Path(c.path).name for c in caps] == ["destination.vmc", "source-precopy.vmc"]
    doc = audit_json("memory://fleet-test/h")          # -j 1: the forked worker sees it
    assert [c["verdict"] for c in doc["captures"]] == ["pass", "pass"]


def test_bad_urls_are_one_line_usage_errors(fleet, tmp_path):
    with pytest.raises(CollectError, match="no such file"):
        collect_all([(fleet / "nothing-here").as_uri()])
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as z:
        z.writestr("README.md", "no traces\n")
    result = CliRunner().invoke(cli, ["audit", str(empty)])
    assert result.exit_code == 2 and "holds no trace" in result.output
    assert "Traceback" not in result.output


def test_grouping_and_url_detection():
    caps = group_remote(["s3://b/h/run.strace.12", "s3://b/h/run.strace.9", "s3://b/qemu.log.1"])
    assert [(c.path, len(c.files)) for c in caps] == [("s3://b/h/run.strace", 2),
                                                     ("s3://b/qemu.log.1", 1)]
    assert caps[0].files[0].endswith(".9")
    assert is_url("gs://x/y") and is_url("tar://a::file:///x.tar") and not is_url("a/b.strace")
