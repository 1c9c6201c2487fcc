"""Rule documentation as text: ``vfio-migcheck rule ID`` and docs/rules.md are both made here."""

from __future__ import annotations

from vfio_migcheck.checker.rules import all_rules
from vfio_migcheck.checker.rules.base import Rule

_KIND_TEXT = {
    "misfit": "reported when no reading of the trace fits the model",
    "behaviour": "reported when every reading of the trace that fits the model breaks it",
}


def rule_text(rule: Rule) -> str:
    """Plain text for the terminal."""
    def indent(block: str) -> str:
        return "\n".join("    " + line for line in block.rstrip("\n").splitlines())

    parts = [
        f"{rule.id} {rule.name} ({rule.severity}, party: {rule.party})",
        "",
        f"What it checks: {rule.summary}; {_KIND_TEXT[rule.kind]}.",
        f"Why: {rule.doc}",
        f"Source: {rule.cite}" + (f" (VMM rule {rule.uapi_rule} in docs/uapi.md: "
                                  "vfio-migcheck docs uapi)" if rule.uapi_rule else ""),
        "",
        "Bad (canonical trace):",
        indent(rule.bad),
        "",
        "Good:",
        indent(rule.good),
        "",
        f"How to fix: {rule.fix}",
    ]
    return "\n".join(parts)


def rule_help(rule: Rule) -> dict[str, str]:
    """The rule's explanation as SARIF ``help``: plain text and markdown, so a code-scanning
    alert explains itself without a link."""
    uapi = (f" (VMM rule {rule.uapi_rule} in docs/uapi.md: `vfio-migcheck docs uapi`)"
            if rule.uapi_rule else "")
    text = "\n".join([
        f"{rule.summary}; {_KIND_TEXT[rule.kind]}.", "", rule.doc, "",
        f"Source: {rule.cite}{uapi}", "", f"How to fix: {rule.fix}", "",
        "Bad (canonical trace):", rule.bad.rstrip("\n"), "", "Good:", rule.good.rstrip("\n"),
    ])
    markdown = "\n".join([
        f"**{rule.id} {rule.name}** ({rule.severity}, party *{rule.party}*): {rule.summary}; "
        f"{_KIND_TEXT[rule.kind]}.", "", rule.doc, "",
        f"**Source:** {rule.cite}{uapi}", "", f"**How to fix:** {rule.fix}", "",
        "Bad (canonical trace):", "", "```", rule.bad.rstrip("\n"), "```", "",
        "Good:", "", "```", rule.good.rstrip("\n"), "```",
    ])
    return {"text": text, "markdown": markdown}


def rules_markdown() -> str:
    """docs/rules.md, generated from the rule units (a test keeps the file in sync)."""
    out = [
        "# Checker rules",
        "",
        "Generated from `vfio_migcheck/checker/rules/` by "
        "`python -m vfio_migcheck.checker.rule_docs > docs/rules.md`; do not edit by hand.",
        "",
        "Ids: `U###` the VMM (user space) broke a rule, `K###` the kernel driver did, `T###` "
        "the trace itself. Ids are stable and never reused. *misfit* rules fire when no "
        "reading of the trace fits the model; *behaviour* rules fire when every fitting "
        "reading breaks them (docs/checking.md).",
        "",
        "| id | name | severity | party | kind | what |",
        "|---|---|---|---|---|---|",
    ]
    for r in all_rules():
        out.append(f"| [{r.id}](#{r.id.lower()}) | {r.name} | {r.severity} | {r.party} | "
                   f"{r.kind} | {r.summary} |")
    for r in all_rules():
        out += [
            "", f"## {r.id}", "",
            f"**{r.name}** — {r.severity}, party *{r.party}*, {r.kind}"
            + (f", VMM rule {r.uapi_rule} in [uapi.md](uapi.md#10-rules-for-a-vmm)"
               if r.uapi_rule else "") + ".", "",
            f"{r.summary}. {r.doc}", "",
            f"Source: {r.cite}", "",
            "Bad:", "", "```", r.bad.rstrip("\n"), "```", "",
            "Good:", "", "```", r.good.rstrip("\n"), "```", "",
            f"Fix: {r.fix}",
        ]
    return "\n".join(out) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(rules_markdown(), end="")
