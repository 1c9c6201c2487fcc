"""Every rule unit: metadata is complete, its bad example triggers it, its good one does not."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vfio_migcheck.checker.api import check_events
from vfio_migcheck.checker.rule_docs import rule_text, rules_markdown
from vfio_migcheck.checker.rules import CATALOGUE, all_rules, get_rule
from vfio_migcheck.checker.rules.base import KINDS
from vfio_migcheck.traces.canonical.reader import read_text
from vfio_migcheck.traces.events import ReadSummary

DOCS = Path(__file__).parent.parent / "docs" / "rules.md"
NOT_AS_EXAMPLE = {"T002"}  # needs thousands of hidden calls; tested in test_engine_core


def findings_of(text: str) -> list[str]:
    summary = ReadSummary(format="canonical")
    events = list(read_text(text, file="example.vmc", summary=summary))
    return [f.rule for f in check_events(events, spec="linux-6.12", summary=summary).findings]


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.id)
def test_metadata_is_complete(rule) -> None:
    assert re.fullmatch(r"[UKT]\d{3}", rule.id)
    assert rule.severity in ("error", "warning", "note")
    assert rule.party in ("driver", "vmm", "unknown")
    assert rule.kind in KINDS
    assert rule.id[0] != "U" or rule.party == "vmm"
    assert rule.id[0] != "K" or rule.party in ("driver", "unknown")
    assert re.fullmatch(r"[A-Z][A-Za-z0-9]+", rule.name) and len(rule.name) < 30
    for text in (rule.summary, rule.cite, rule.doc, rule.fix):
        assert text.strip()
    if rule.id[0] in "UK":
        assert "vfio.h" in rule.cite or "uapi.md" in rule.cite or "core" in rule.cite


def test_names_and_ids_are_unique() -> None:
    assert len({r.name for r in all_rules()}) == len(CATALOGUE)


@pytest.mark.parametrize("rule", [r for r in all_rules() if r.id not in NOT_AS_EXAMPLE],
                         ids=lambda r: r.id)
def test_bad_example_triggers(rule) -> None:
    assert rule.id in findings_of(rule.bad)


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.id)
def test_good_example_is_a_near_miss(rule) -> None:
    assert rule.id not in findings_of(rule.good)


def test_lookup_is_case_insensitive() -> None:
    assert get_rule("u004") is CATALOGUE["U004"]
    assert get_rule("X999") is None


def test_rule_text_has_every_section() -> None:
    text = rule_text(CATALOGUE["U008"])
    for part in ("What it checks", "Why", "Source", "Bad", "Good", "How to fix"):
        assert part in text


def test_docs_rules_md_is_up_to_date() -> None:
    assert DOCS.read_text() == rules_markdown(), (
        "docs/rules.md is stale: python -m vfio_migcheck.checker.rule_docs > docs/rules.md")


def test_one_module_per_rule_named_by_its_id_in_its_party_folder() -> None:
    from vfio_migcheck.checker.rules import rule_modules

    folder = {"U": "vmm", "K": "driver", "T": "trace"}
    modules = rule_modules()
    assert len(modules) == len(CATALOGUE)
    for module in modules:
        rule = module.RULE
        party, name = module.__name__.split(".")[-2:]
        assert name.startswith(rule.id.lower() + "_"), module.__name__
        assert party == folder[rule.id[0]], module.__name__


def test_behaviour_rules_carry_their_predicate_and_every_rule_is_raised_somewhere() -> None:
    import inspect

    from vfio_migcheck.checker import engine, transitions
    from vfio_migcheck.checker.rules import rule_modules

    used = [*vars(engine).values(), *vars(transitions).values()]
    for module in rule_modules():
        rule = module.RULE
        predicates = [name for name, value in vars(module).items()
                      if inspect.isfunction(value) and value.__module__ == module.__name__
                      and not name.startswith("_")]
        if rule.kind == "behaviour":
            assert predicates, f"{rule.id}: a behaviour rule needs its predicate in its module"
        assert any(value is module for value in used), f"{rule.id}: the checker never uses it"
