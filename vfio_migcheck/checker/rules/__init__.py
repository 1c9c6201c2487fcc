"""The rule catalogue: one module per rule, by party (vmm U###, driver K###, trace T###).

Each rule module defines ``RULE`` (id, metadata, citation, bad and good example) and, for a
behaviour rule, the predicate the checker calls; misfit rules follow from the model, so
their module holds the metadata and the checker raises them where the model's answer and
the trace disagree. Adding a rule is adding one module (``<id>_<name>.py``) to its party's
folder: the catalogue finds it, ``vfio-migcheck rule ID`` and docs/rules.md show it.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from vfio_migcheck.checker.rules.base import Rule

PARTIES = ("driver", "trace", "vmm")


def rule_modules() -> list[ModuleType]:
    """Every rule module, in file-name order within each party folder."""
    out: list[ModuleType] = []
    for party in PARTIES:
        package = importlib.import_module(f"{__name__}.{party}")
        names = sorted(info.name for info in pkgutil.iter_modules(package.__path__))
        out.extend(importlib.import_module(f"{package.__name__}.{name}") for name in names)
    return out


def _catalogue() -> dict[str, Rule]:
    catalogue: dict[str, Rule] = {}
    for module in rule_modules():
        rule = module.RULE
        if rule.id in catalogue:  # pragma: no cover - guarded by a test
            raise RuntimeError(f"duplicate rule id {rule.id}")
        catalogue[rule.id] = rule
    return catalogue


CATALOGUE: dict[str, Rule] = _catalogue()


def all_rules() -> list[Rule]:
    """Rules in id order: K (driver), T (trace), U (VMM)."""
    return [CATALOGUE[k] for k in sorted(CATALOGUE)]


def get_rule(rule_id: str) -> Rule | None:
    return CATALOGUE.get(rule_id.strip().upper())
