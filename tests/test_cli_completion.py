"""Shell completion through click's own completion API: commands, states, flag names, rule
ids, drivers, specs and docs topics; and the scripts click generates for each shell."""

from __future__ import annotations

import pytest
from click.shell_completion import ShellComplete
from click.testing import CliRunner

from vfio_migcheck.checker.rules import all_rules
from vfio_migcheck.cli import COMMANDS, cli
from vfio_migcheck.model.spec import load_spec

SPEC = load_spec("linux-6.12")


def complete(args: list[str], incomplete: str) -> list[str]:
    shell = ShellComplete(cli, {}, "vfio-migcheck", "_VFIO_MIGCHECK_COMPLETE")
    return [item.value for item in shell.get_completions(args, incomplete)]


def test_commands() -> None:
    assert complete([], "") == list(COMMANDS)
    assert complete([], "ch") == ["check"]
    assert "--no-config" in complete([], "--no")


def test_state_names() -> None:
    assert complete(["path"], "") == list(SPEC.states)
    assert complete(["path"], "pre") == ["PRE_COPY", "PRE_COPY_P2P"]
    assert complete(["path", "RUNNING"], "STOP") == ["STOP", "STOP_COPY"]
    assert complete(["graph", "--highlight"], "RUNNING,RUNNING_") == ["RUNNING,RUNNING_P2P"]


def test_states_follow_the_spec_given_before() -> None:
    older = load_spec("linux-5.18")
    assert complete(["path", "--spec", "linux-5.18"], "") == list(older.states)


def test_flag_names_complete_the_last_item_of_a_list() -> None:
    assert complete(["arcs", "--flags"], "") == list(SPEC.flags)
    assert complete(["arcs", "--flags"], "stop") == ["STOP_COPY"]
    assert complete(["check", "--flags"], "STOP_COPY,P") == ["STOP_COPY,P2P",
                                                             "STOP_COPY,PRE_COPY"]
    assert complete(["arcs", "--flags"], "STOP_COPY,P2P,") == ["STOP_COPY,P2P,PRE_COPY"]


def test_rule_ids() -> None:
    ids = [r.id for r in all_rules()]
    assert complete(["rule"], "") == ids
    assert complete(["rule"], "k00") == [i for i in ids if i.startswith("K00")]
    assert complete(["check", "--select"], "U004,T") == [
        f"U004,{i}" for i in ids if i.startswith("T")]
    assert complete(["audit", "--ignore"], "U01") == [i for i in ids if i.startswith("U01")]


def test_drivers_specs_and_topics() -> None:
    assert complete(["check", "--driver"], "m") == ["mlx5", "mtty"]
    assert "generic" in complete(["audit", "--driver"], "")
    assert complete(["arcs", "--spec"], "linux-") == ["linux-6.12", "linux-5.18"]
    assert complete(["docs"], "ca") == ["canonical-format", "capture-guide"]


def test_a_broken_spec_does_not_break_completion(tmp_path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("not toml [")
    assert complete(["path", "--spec", str(bad)], "RES") == ["RESUMING"]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_click_generates_the_completion_script(shell: str) -> None:
    result = CliRunner().invoke(cli, [], prog_name="vfio-migcheck",
                                env={"_VFIO_MIGCHECK_COMPLETE": f"{shell}_source"})
    assert result.exit_code == 0
    assert "_VFIO_MIGCHECK_COMPLETE" in result.output
