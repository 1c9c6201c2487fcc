"""The lab's plumbing: the serial-stream splitter, the deviations file, the corpus refresh."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vfio_migcheck.conformance.corpus import refresh
from vfio_migcheck.conformance.deviations import DeviationError, load_deviations
from vfio_migcheck.conformance.predict import Outcome, Prediction
from vfio_migcheck.conformance.serial import SerialError, split_stream, write_files


def test_split_stream_strips_carriage_returns_and_ignores_noise() -> None:
    text = ("boot noise\r\n=====BEGIN plain/a.canon=====\r\nline 1\r\nline 2\r\n"
            "=====END plain/a.canon=====\r\nmore noise\n=====ALL DONE=====\n")
    files, done = split_stream(text)
    assert files == {"plain/a.canon": "line 1\nline 2\n"} and done


def test_split_stream_reports_a_truncated_file() -> None:
    with pytest.raises(SerialError, match="ends inside plain/a.canon"):
        split_stream("=====BEGIN plain/a.canon=====\nline\n", "x.serial")


@pytest.mark.parametrize("name", ["../evil", "/etc/passwd"])
def test_split_stream_refuses_paths_outside_the_output(name: str) -> None:
    with pytest.raises(SerialError, match="unsafe file name"):
        split_stream(f"=====BEGIN {name}=====\nx\n=====END {name}=====\n")


text_line = st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)),
                    max_size=30).filter(lambda s: "=====" not in s)


@given(files=st.dictionaries(st.from_regex(r"[a-z]{1,6}/[a-z]{1,6}\.canon", fullmatch=True),
                             st.lists(text_line, max_size=5), max_size=4))
def test_split_stream_round_trips_what_init_prints(files: dict[str, list[str]]) -> None:
    stream = "".join(f"=====BEGIN {n}=====\r\n" + "".join(f"{x}\r\n" for x in body)
                     + f"=====END {n}=====\r\n" for n, body in files.items())
    out, done = split_stream(stream + "=====ALL DONE=====\r\n")
    assert done
    assert out == {n: "".join(f"{x}\n" for x in body) for n, body in files.items()}


def test_write_files_creates_variant_folders(tmp_path: Path) -> None:
    write_files({"v/a.canon": "x\n"}, tmp_path)
    assert (tmp_path / "v" / "a.canon").read_text() == "x\n"


# --- deviations ------------------------------------------------------------------------------
def test_builtin_deviation_explains_only_its_case() -> None:
    (dev,) = load_deviations()
    pre = Prediction((Outcome(">=1"), Outcome("-1", "ENOMSG")), ("PRE_COPY",), "saving")
    stop = Prediction((Outcome(">=0"),), ("STOP_COPY",), "saving")
    assert dev.explains("fd.read", pre, 0, None)
    assert not dev.explains("fd.read", pre, -1, "EIO")
    assert not dev.explains("fd.read", stop, 0, None)
    assert not dev.explains("fd.write", pre, 0, None)


@pytest.mark.parametrize("body,message", [
    ('[[deviation]]\nid = "x"\n', "driver must be a non-empty string"),
    ('[[deviation]]\nid="x"\ndriver="d"\ncall="fd.read"\nexplanation="e"\n', "observed_ret"),
    ('[[deviation]]\nid="x"\ndriver="d"\ncall="c"\nexplanation="e"\nobserved_ret=0\nbad=1\n',
     "unknown keys"),
    ("not toml [", "cannot read deviations"),
])
def test_bad_deviation_files_are_named_errors(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "d.toml"
    path.write_text(body)
    with pytest.raises(DeviationError) as err:
        load_deviations(path)
    assert str(err.value).startswith(str(path)) and message in str(err.value)


# --- corpus refresh ----------------------------------------------------------------------------
def test_refresh_keeps_readme_ground_truth_and_chosen_captures(tmp_path: Path) -> None:
    """Kernel logs, stale files and variants outside CORPUS_VARIANTS are left out."""
    results, corpus = tmp_path / "results", tmp_path / "corpus"
    (results / "scenarios" / "group").mkdir(parents=True)
    (results / "scenarios" / "group" / "a.vmc").write_text("x\n")
    for variant in ("plain", "f_y_tt_T", "cdev_f_y_tt_T"):
        (results / variant).mkdir()
        (results / variant / "a.canon").write_text("gt\n")
        if variant != "plain":
            (results / variant / "a.strace").write_text("st\n")
        (results / variant / "a.kmsg").write_text("log\n")
    (results / "env.txt").write_text("env\n")
    corpus.mkdir()
    (corpus / "README.md").write_text("hand written\n")
    (corpus / "stale.txt").write_text("old\n")
    (results / "plain" / "a.stderr").write_text("runner said\n")
    refresh(results, corpus)
    kept = sorted(p.relative_to(corpus).as_posix() for p in corpus.rglob("*") if p.is_file())
    assert kept == ["README.md", "env.txt", "f_y_tt_T/a.canon.gz", "f_y_tt_T/a.strace.gz",
                    "plain/a.canon.gz", "plain/a.stderr", "scenarios/group/a.vmc.gz"]
    assert gzip.decompress((corpus / "f_y_tt_T" / "a.strace.gz").read_bytes()) == b"st\n"
    assert (corpus / "env.txt").read_text() == "env\n"          # people's files stay plain
    assert (corpus / "plain" / "a.stderr").read_text() == "runner said\n"


def test_refresh_is_reproducible_byte_for_byte(tmp_path: Path) -> None:
    """Same run, same corpus bytes: no names or timestamps in the gzip headers."""
    results = tmp_path / "results"
    (results / "scenarios" / "cdev").mkdir(parents=True)
    (results / "scenarios" / "cdev" / "w.predict.json").write_text('{"calls": []}\n')
    (results / "ff_o").mkdir()
    (results / "ff_o" / "w.canon").write_text("gt\n" * 100)
    (results / "ff_o" / "w.strace.41").write_text("st\n" * 100)
    snapshots = []
    for attempt, when in enumerate((1_000_000, 2_000_000)):
        for path in results.rglob("*"):
            os.utime(path, (when, when))
        corpus = tmp_path / f"corpus{attempt}"
        refresh(results, corpus)
        snapshots.append({p.relative_to(corpus).as_posix(): p.read_bytes()
                          for p in sorted(corpus.rglob("*")) if p.is_file()})
    assert snapshots[0] == snapshots[1]
    assert set(snapshots[0]) == {"scenarios/cdev/w.predict.json.gz", "ff_o/w.canon.gz",
                                 "ff_o/w.strace.41.gz"}
