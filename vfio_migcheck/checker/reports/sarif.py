"""SARIF 2.1.0 view: rule metadata from the catalogue, semantic partialFingerprints.

Artifact URIs are relative to ``%SRCROOT%``, the working directory the check ran in (a CI
job's checkout), so code scanning maps results to repository files; a trace outside it
keeps an absolute ``file://`` URI. There is no project web site, so no ``helpUri``: the
rule's whole explanation travels in ``help`` (text and markdown).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from vfio_migcheck import __version__
from vfio_migcheck.checker.repeats import repeats_note
from vfio_migcheck.checker.results import Finding, TraceResult
from vfio_migcheck.checker.rule_docs import rule_help
from vfio_migcheck.checker.rules import all_rules

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"
FINGERPRINT_KEY = "vfioMigcheck/v1"
_LEVEL = {"error": "error", "warning": "warning", "note": "note"}


def fingerprint(finding: Finding) -> str:
    """Hash of the finding's semantic identity (never its line), stable across captures."""
    basis = finding.fingerprint or f"{finding.rule}|{finding.device}"
    return hashlib.sha256(f"{finding.file}|{basis}".encode()).hexdigest()[:32]


def _rule_entry(rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": f"{rule.doc} Source: {rule.cite}"},
        "help": rule_help(rule),
        "defaultConfiguration": {"level": _LEVEL[rule.severity]},
        "properties": {"party": rule.party, "kind": rule.kind,
                       "tags": [rule.party, rule.kind]},
    }


def artifact(file: str, root: Path | None = None) -> dict[str, Any]:
    """An artifactLocation: relative to %SRCROOT% (the working directory) when the trace is
    under it, else an absolute file URI (or the URL the trace came from)."""
    if "://" in file:
        return {"uri": file}
    root = (root or Path.cwd()).resolve()
    path = Path(os.path.abspath(file))
    try:
        relative = path.relative_to(root)
    except ValueError:
        return {"uri": path.as_uri()}
    return {"uri": quote(relative.as_posix()), "uriBaseId": SRCROOT}


def _location(file: str, line: int, root: Path | None = None) -> dict[str, Any]:
    return {"physicalLocation": {"artifactLocation": artifact(file, root),
                                 "region": {"startLine": max(line, 1)}}}


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def message_text(finding: Finding) -> str:
    """The finding as sentences: what is wrong, then observed / allowed / continuing with."""
    device = f"Device {finding.device}: " if finding.device and finding.device != "-" else ""
    parts = [device + _sentence(finding.message)]
    for label, value in (("Observed", finding.observed), ("Allowed are only", finding.allowed),
                         ("Checking continues with", finding.continuing)):
        if value:
            parts.append(_sentence(f"{label}: {value}"))
    return " ".join(parts)


def _result(finding: Finding, index: dict[str, int], root: Path | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ruleId": finding.rule,
        "level": _LEVEL.get(finding.severity, "warning"),
        "message": {"text": message_text(finding)},
        "locations": [_location(finding.file, finding.line, root)],
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint(finding)},
        "properties": {"device": finding.device, "party": finding.party},
    }
    if finding.rule in index:
        out["ruleIndex"] = index[finding.rule]
    if finding.suppressed:
        # the findings alike this one that were counted, not listed (check --max-repeats)
        out["occurrenceCount"] = 1 + finding.suppressed
        out["message"]["text"] += f" | {repeats_note(finding)}"
        out["properties"]["suppressed"] = finding.suppressed
        out["properties"]["suppressedLastLine"] = finding.suppressed_last_line
    if finding.related_lines:
        out["relatedLocations"] = [
            dict(_location(finding.file, line, root), id=i,
                 message={"text": "The data session started here."})
            for i, line in enumerate(finding.related_lines)]
    return out


def to_sarif(results: list[TraceResult], root: Path | None = None) -> dict[str, Any]:
    """SARIF for ``results``; URIs relative to ``root`` (default: the working directory)."""
    root = (root or Path.cwd()).resolve()
    rules = all_rules()
    index = {r.id: i for i, r in enumerate(rules)}
    failed = [r for r in results if r.error]
    invocation: dict[str, Any] = {"executionSuccessful": not failed}
    if failed:
        invocation["toolExecutionNotifications"] = [
            {"level": "error", "message": {"text": r.error},
             "locations": [{"physicalLocation": {"artifactLocation": artifact(r.file, root)}}]}
            for r in failed]
    return {
        "version": "2.1.0",
        "$schema": SCHEMA_URI,
        "runs": [{
            "tool": {"driver": {
                "name": "vfio-migcheck", "version": __version__,
                "rules": [_rule_entry(r) for r in rules]}},
            "originalUriBaseIds": {SRCROOT: {"uri": root.as_uri() + "/"}},
            "invocations": [invocation],
            "results": [_result(f, index, root) for r in results for f in r.findings],
        }],
    }
