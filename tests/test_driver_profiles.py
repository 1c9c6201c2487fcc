"""Driver profiles as data: loading, validation errors, selection, the generic union, CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from vfio_migcheck.cli import cli
from vfio_migcheck.model.profiles import (
    ProfileError,
    builtin_profile_names,
    builtin_profiles,
    detect_profile,
    find_profile,
    generic_profile,
    load_common_facts,
    load_profile_file,
)
from vfio_migcheck.model.spec import load_spec

KERNEL_FILE = re.compile(r"(drivers|samples|include|fs)/[\w./-]+\.[ch]")

MINIMAL = """
[driver]
name = "toy"
flag_sets = [0x1]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "toy.toml"
    path.write_text(text)
    return path


def test_every_builtin_profile_loads_and_names_its_kernel() -> None:
    names = builtin_profile_names()
    assert {"mlx5", "hisi_acc", "pds", "qat", "virtio", "xe", "mtty"} <= set(names)
    spec = load_spec("linux-6.12")
    for profile in builtin_profiles():
        assert profile.kernel.startswith("Linux"), profile.name
        assert set(profile.flag_sets) <= set(spec.defined_flag_sets), profile.name
        assert profile.facts, profile.name


def test_every_fact_cites_a_kernel_file_and_never_a_file_outside_the_repository() -> None:
    facts = [f for p in builtin_profiles() for f in p.facts] + list(load_common_facts())
    for fact in facts:
        assert KERNEL_FILE.search(fact.cite), fact
        assert "uapi.md" not in fact.cite and "/work/" not in fact.cite


@pytest.mark.parametrize("name, expected", [
    ("mlx5", "mlx5"), ("mlx5_vfio_pci", "mlx5"), ("mlx5-vfio-pci", "mlx5"),
    ("HISI_ACC_VFIO_PCI", "hisi_acc"), ("pds_vfio_pci", "pds"), ("qat_vfio_pci", "qat"),
    ("vfio-mtty", "mtty"), ("xe-vfio-pci", "xe"), ("virtio_vfio_pci", "virtio"),
    ("generic", "generic"),
])
def test_profiles_are_found_by_short_module_and_alias_names(name: str, expected: str) -> None:
    assert find_profile(name).name == expected


def test_an_unknown_driver_is_a_one_line_error_listing_the_known_ones() -> None:
    with pytest.raises(ProfileError, match="unknown driver; built-in profiles: hisi_acc"):
        find_profile("nosuchdriver")


def test_the_generic_profile_is_the_union_and_names_who_does_what() -> None:
    generic = generic_profile()
    assert generic.open_states == {"reset", "kept"}
    assert generic.precopy_ends == {"ENOMSG", "zero"}
    assert generic.keeps_without_session == {"none", "creates_saving"}
    assert generic.who(lambda p: "kept" in p.open_states) == ["mtty"]
    assert generic.who(lambda p: "zero" in p.precopy_ends) == ["hisi_acc", "mtty", "qat"]
    assert generic.who(lambda p: p.async_error) == ["pds"]
    assert [f.driver for f in generic.failures_for("PRE_COPY", "RUNNING")] == ["mlx5"]


def test_a_single_driver_profile_is_exact() -> None:
    mtty = find_profile("mtty")
    assert mtty.open_states == {"kept"} and mtty.keeps_without_session == {"creates_saving"}
    mlx5 = find_profile("mlx5")
    assert mlx5.open_states == {"reset"} and mlx5.precopy_ends == {"ENOMSG"}
    assert mlx5.who(lambda p: True) == ["mlx5"]


@pytest.mark.parametrize("hints, expected", [
    ({"anon_inode": "mtty_mig"}, "mtty"),
    ({"anon_inode": "mlx5vf_mig"}, "mlx5"),
    ({"anon_inode": "hisi_acc_vf_mig"}, "hisi_acc"),
    ({"sysfs_path": "/sys/devices/pci0000:00/0000:00:02.1/driver -> "
                    "/sys/bus/pci/drivers/qat_vfio_pci"}, "qat"),
    ({"anon_inode": "[eventfd]"}, None),
])
def test_detection_from_trace_hints(hints: dict, expected: str | None) -> None:
    found = detect_profile(**hints)
    assert (found.name if found else None) == expected


def test_a_minimal_profile_file_gets_the_defaults(tmp_path: Path) -> None:
    profile = load_profile_file(write(tmp_path, MINIMAL))
    assert profile.open_states == {"reset"} and profile.precopy_ends == frozenset()
    assert find_profile(str(tmp_path / "toy.toml")).name == "toy"


@pytest.mark.parametrize("extra, key, problem", [
    ("[open]\nstate = 'sometimes'\n", "open.state", "is not one of"),
    ("[saving]\nprecopy_end = ['EIO']\n", "saving.precopy_end[0]", "is not one of"),
    ("[bogus]\n", "bogus", "unknown top-level key"),
    ("[close]\nstate = 'WALKING'\n", "close.state", "unknown state"),
    ("[[failures]]\nfrom='PRE_COPY'\nto='RUNNING'\nerrno='EIO'\nsession='maybe'\ncite='x.c:1'\n",
     "failures[0].session", "is not one of"),
    ("[[failures]]\nfrom='ERROR'\nto='RUNNING'\nerrno='EIO'\nsession='kept'\ncite='x.c:1'\n",
     "failures[0].from", "unusable state"),
    ("[[facts]]\ntext = 'x'\ncite = ''\n", "facts[0].cite", "needs a kernel citation"),
])
def test_bad_profiles_name_file_key_and_problem(tmp_path: Path, extra: str, key: str,
                                                problem: str) -> None:
    path = write(tmp_path, MINIMAL + extra)
    with pytest.raises(ProfileError) as info:
        load_profile_file(path)
    assert info.value.file == str(path) and info.value.key == key
    assert problem in info.value.problem


def test_flag_sets_must_include_stop_copy(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("0x1]", "0x2]"))
    with pytest.raises(ProfileError, match="lacks STOP_COPY"):
        load_profile_file(path)


def test_invalid_toml_is_a_one_line_error(tmp_path: Path) -> None:
    path = write(tmp_path, "[driver\n")
    with pytest.raises(ProfileError, match="not valid TOML"):
        load_profile_file(path)


def test_drivers_command_lists_every_profile_with_citations() -> None:
    result = CliRunner().invoke(cli, ["drivers"])
    assert result.exit_code == 0, result.output
    for name in builtin_profile_names():
        assert f"\n{name} (" in "\n" + result.output
    assert "samples/vfio-mdev/mtty.c:" in result.output
    assert "every driver" in result.output


def test_drivers_command_json_for_one_profile() -> None:
    result = CliRunner().invoke(cli, ["drivers", "vfio-mtty", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    (mtty,) = doc["drivers"]
    assert mtty["open_state"] == ["kept"] and mtty["flag_sets"] == ["0x7"]
    assert all(f["cite"] for f in mtty["facts"])


def test_drivers_command_unknown_name_exits_2_with_one_line() -> None:
    result = CliRunner().invoke(cli, ["drivers", "nosuch"])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "unknown driver" in result.output


def test_audit_takes_driver_and_rejects_unknown_names(tmp_path: Path) -> None:
    trace = tmp_path / "t.vmc"
    trace.write_text("device d0 flags=0x7\nd0 GET MIGRATION = 0 flags=0x7\n"
                     "d0 GET STATE = 0 state=STOP data_fd=-1\n")
    ok = CliRunner().invoke(cli, ["audit", str(trace), "--driver", "mtty", "-q", "-j", "1",
                                  "--json", "-"])
    assert ok.exit_code == 0, ok.output
    bad = CliRunner().invoke(cli, ["audit", str(trace), "--driver", "nosuch", "-q"])
    assert bad.exit_code == 2 and "unknown driver" in bad.output
