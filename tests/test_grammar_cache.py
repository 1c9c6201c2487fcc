"""Parser tables cached on disk (traces/grammars.py): a cached parser parses exactly as a
freshly built one, and a stale, damaged or unsafe cache only costs a rebuild."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vfio_migcheck.traces import grammars
from vfio_migcheck.traces.grammars import CACHE_ENV, cache_dir, load_parser

LINES = {
    "qemu": ["vfio_migration_set_state  (0000:3b:00.1) new state PRE_COPY recover RUNNING",
             "vfio_save_block  (0000:3b:00.1) data_size 1048576 ret 0"],
    "bpftrace": ["Attaching 12 probes..."],
}
OPTIONS = {
    "qemu": {"parser": "lalr", "lexer": "contextual", "keep_all_tokens": True},
    "bpftrace": {"parser": "lalr", "lexer": "contextual", "propagate_positions": False},
}


def _trees(name: str, parser) -> list:
    """The parse trees (rule names compare as strings: lark keeps them as tokens when it
    builds, as plain strings when it loads, and both are equal)."""
    out: list = []
    for line in LINES[name]:
        try:
            out.append(parser.parse(line))
        except Exception as exc:  # noqa: BLE001 - the same error is what must be equal
            out.append(f"{type(exc).__name__}")
    return out


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_a_cached_parser_parses_as_a_fresh_one(name: str, tmp_path: Path,
                                                monkeypatch) -> None:
    monkeypatch.setenv(CACHE_ENV, "")
    fresh = load_parser(name, **OPTIONS[name])
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    built = load_parser(name, **OPTIONS[name])            # builds and saves
    (saved,) = tmp_path.glob(f"{name}-*.lark-tables")
    assert saved.stat().st_size > 0
    stamp = saved.stat().st_mtime_ns
    loaded = load_parser(name, **OPTIONS[name])           # loads
    assert saved.stat().st_mtime_ns == stamp              # not rebuilt
    assert _trees(name, fresh) == _trees(name, built) == _trees(name, loaded)


def test_a_damaged_cache_file_is_rebuilt(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    good = _trees("qemu", load_parser("qemu", **OPTIONS["qemu"]))
    (saved,) = tmp_path.glob("qemu-*.lark-tables")
    saved.write_bytes(saved.read_bytes()[:100])           # cut mid-pickle
    assert _trees("qemu", load_parser("qemu", **OPTIONS["qemu"])) == good
    saved.write_bytes(b"not a hash\nnot a pickle")
    assert _trees("qemu", load_parser("qemu", **OPTIONS["qemu"])) == good


def test_other_options_do_not_load_the_wrong_tables(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    load_parser("qemu", **OPTIONS["qemu"])
    other = load_parser("qemu", parser="lalr", lexer="contextual")   # tokens filtered
    assert len(list(tmp_path.glob("qemu-*.lark-tables"))) == 2      # one file per option set
    monkeypatch.setenv(CACHE_ENV, "")
    fresh = load_parser("qemu", parser="lalr", lexer="contextual")
    assert _trees("qemu", other) == _trees("qemu", fresh)


def test_an_empty_setting_turns_the_cache_off(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(CACHE_ENV, "")
    assert cache_dir() is None
    monkeypatch.setenv(CACHE_ENV, " ")
    assert cache_dir() is None


def test_xdg_cache_home_is_used_when_no_directory_is_set(tmp_path: Path,
                                                         monkeypatch) -> None:
    monkeypatch.delenv(CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    where = cache_dir()
    assert where == tmp_path / "vfio-migcheck"
    assert not where.stat().st_mode & 0o077                # created private


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX permissions")
def test_a_directory_others_may_write_is_not_trusted(tmp_path: Path, monkeypatch) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv(CACHE_ENV, str(shared))
    assert cache_dir() is None
    parser = load_parser("bpftrace", **OPTIONS["bpftrace"])
    assert _trees("bpftrace", parser)
    assert not list(shared.iterdir())


def test_a_directory_that_cannot_be_made_means_no_cache(tmp_path: Path, monkeypatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv(CACHE_ENV, str(blocker / "below"))
    assert cache_dir() is None
    assert grammars.load_parser("bpftrace", **OPTIONS["bpftrace"]) is not None


def test_processes_starting_together_share_one_sound_file(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = ("from vfio_migcheck.traces.grammars import load_parser; "
              "p = load_parser('bpftrace', parser='lalr', lexer='contextual', "
              "propagate_positions=False); "
              f"print(p.parse({LINES['bpftrace'][0]!r}).pretty())")
    env = dict(os.environ, **{CACHE_ENV: str(tmp_path)})
    root = Path(__file__).parent.parent
    runs = [subprocess.Popen([sys.executable, "-c", script], env=env, cwd=root,
                             stdout=subprocess.PIPE, text=True) for _ in range(4)]
    outputs = {run.communicate()[0] for run in runs}
    assert all(run.returncode == 0 for run in runs)
    assert len(outputs) == 1
    (saved,) = tmp_path.glob("bpftrace-*.lark-tables")
    stamp = saved.stat().st_mtime_ns
    os.environ[CACHE_ENV] = str(tmp_path)
    try:
        again = load_parser("bpftrace", **OPTIONS["bpftrace"])
    finally:
        del os.environ[CACHE_ENV]
    assert saved.stat().st_mtime_ns == stamp                # it loads: nothing rebuilt
    assert again.parse(LINES["bpftrace"][0]).pretty() + "\n" in outputs
