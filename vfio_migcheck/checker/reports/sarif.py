"""SARIF 2.1.0 view: rule metadata from the catalogue, semantic partialFingerprints."""

from __future__ import annotations

import hashlib
from typing import Any

from vfio_migcheck import __version__
from vfio_migcheck.checker.repeats import repeats_note
from vfio_migcheck.checker.results import Finding, TraceResult
from vfio_migcheck.checker.rules import all_rules

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
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
        "help": {"text": f"{rule.fix}\n\nBad:\n{rule.bad}\nGood:\n{rule.good}"},
        "defaultConfiguration": {"level": _LEVEL[rule.severity]},
        "properties": {"party": rule.party, "kind": rule.kind,
                       "tags": [rule.party, rule.kind]},
    }


def _location(file: str, line: int) -> dict[str, Any]:
    return {"physicalLocation": {"artifactLocation": {"uri": file},
                                 "region": {"startLine": max(line, 1)}}}


def _result(finding: Finding, index: dict[str, int]) -> dict[str, Any]:
    text = finding.message
    if finding.observed:
        text += f" | observed: {finding.observed}"
    if finding.allowed:
        text += f" | allowed: {finding.allowed}"
    if finding.continuing:
        text += f" | continuing with: {finding.continuing}"
    out: dict[str, Any] = {
        "ruleId": finding.rule,
        "level": _LEVEL.get(finding.severity, "warning"),
        "message": {"text": f"{finding.device}: {text}"},
        "locations": [_location(finding.file, finding.line)],
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
            dict(_location(finding.file, line), id=i, message={"text": "session started here"})
            for i, line in enumerate(finding.related_lines)]
    return out


def to_sarif(results: list[TraceResult]) -> dict[str, Any]:
    rules = all_rules()
    index = {r.id: i for i, r in enumerate(rules)}
    failed = [r for r in results if r.error]
    invocation: dict[str, Any] = {"executionSuccessful": not failed}
    if failed:
        invocation["toolExecutionNotifications"] = [
            {"level": "error", "message": {"text": r.error},
             "locations": [{"physicalLocation": {"artifactLocation": {"uri": r.file}}}]}
            for r in failed]
    return {
        "version": "2.1.0",
        "$schema": SCHEMA_URI,
        "runs": [{
            "tool": {"driver": {
                "name": "vfio-migcheck", "version": __version__,
                "informationUri": "https://example.invalid/vfio-migcheck",
                "rules": [_rule_entry(r) for r in rules]}},
            "invocations": [invocation],
            "results": [_result(f, index) for r in results for f in r.findings],
        }],
    }
