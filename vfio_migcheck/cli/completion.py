"""Shell completion of the words only vfio-migcheck knows: states, flags, rule ids, driver
profiles, spec names and docs topics (click's shell_complete callbacks).

Enable it with click's mechanism (``vfio-migcheck docs cli`` shows how). A callback
never fails: a spec that does not load completes from the default spec instead.
"""

from __future__ import annotations

from collections.abc import Iterable

import click
from click.shell_completion import CompletionItem

from vfio_migcheck.model.spec import BUILTIN_SPECS, DEFAULT_SPEC, Spec


def _spec(ctx: click.Context) -> Spec:
    from vfio_migcheck.model.spec import SpecError, load_spec

    try:
        return load_spec(ctx.params.get("spec_arg") or DEFAULT_SPEC)
    except SpecError:
        return load_spec(DEFAULT_SPEC)


def _matching(words: Iterable[str], incomplete: str, help_of=None) -> list[CompletionItem]:
    prefix = incomplete.upper()
    return [CompletionItem(w, help=help_of(w) if help_of else None)
            for w in words if w.upper().startswith(prefix)]


def _list_item(words: Iterable[str], incomplete: str, help_of=None) -> list[CompletionItem]:
    """Complete the last word of a comma-separated list (``STOP_COPY,P``, ``U0,K``)."""
    head, _, last = incomplete.rpartition(",")
    done = {w.upper() for w in head.split(",") if w}
    lead = head + "," if head else ""
    return [CompletionItem(lead + item.value, help=item.help)
            for item in _matching([w for w in words if w.upper() not in done], last, help_of)]


def complete_states(ctx: click.Context, param: click.Parameter,
                    incomplete: str) -> list[CompletionItem]:
    return _matching(_spec(ctx).states, incomplete)


def complete_state_list(ctx: click.Context, param: click.Parameter,
                        incomplete: str) -> list[CompletionItem]:
    head, _, _ = incomplete.rpartition(",")
    lead = head + "," if head else ""
    last = incomplete[len(lead):]
    return [CompletionItem(lead + i.value) for i in _matching(_spec(ctx).states, last)]


def complete_flags(ctx: click.Context, param: click.Parameter,
                   incomplete: str) -> list[CompletionItem]:
    spec = _spec(ctx)
    return _list_item(spec.flags, incomplete, lambda name: f"{spec.flags[name]:#x}")


def complete_rules(ctx: click.Context, param: click.Parameter,
                   incomplete: str) -> list[CompletionItem]:
    from vfio_migcheck.checker.rules import all_rules

    rules = {r.id: r for r in all_rules()}
    return _list_item(rules, incomplete, lambda rid: rules[rid].summary)


def complete_rule(ctx: click.Context, param: click.Parameter,
                  incomplete: str) -> list[CompletionItem]:
    from vfio_migcheck.checker.rules import all_rules

    rules = {r.id: r for r in all_rules()}
    return _matching(rules, incomplete, lambda rid: rules[rid].summary)


def complete_drivers(ctx: click.Context, param: click.Parameter,
                     incomplete: str) -> list[CompletionItem]:
    from vfio_migcheck.model.profiles import GENERIC, builtin_profiles

    names = [p.name for p in builtin_profiles()] + [GENERIC]
    return [CompletionItem(n) for n in names if n.startswith(incomplete.lower())]


def complete_specs(ctx: click.Context, param: click.Parameter,
                   incomplete: str) -> list[CompletionItem]:
    """Built-in names, else a file name (the shell completes the path)."""
    names = [CompletionItem(n) for n in BUILTIN_SPECS if n.startswith(incomplete)]
    return names or [CompletionItem(incomplete, type="file")]


def complete_topics(ctx: click.Context, param: click.Parameter,
                    incomplete: str) -> list[CompletionItem]:
    from vfio_migcheck.userdocs import topics

    return [CompletionItem(t.name, help=t.title) for t in topics()
            if t.name.startswith(incomplete.lower())]
