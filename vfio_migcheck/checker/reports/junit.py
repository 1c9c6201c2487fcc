"""JUnit XML view: one testsuite per trace, a testcase per device and broken rule."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from vfio_migcheck.checker.repeats import repeats_note
from vfio_migcheck.checker.results import TraceResult


def _block(findings) -> str:
    lines = []
    for f in findings:
        lines.append(f"{f.file}:{f.line}: {f.rule} {f.message}")
        for label, value in (("observed", f.observed), ("allowed", f.allowed),
                             ("continuing with", f.continuing)):
            if value:
                lines.append(f"    {label}: {value}")
        if f.suppressed:
            lines.append(f"    {repeats_note(f)}")
    return "\n".join(lines)


def to_junit(results: list[TraceResult]) -> str:
    root = ET.Element("testsuites")
    for r in results:
        suite = ET.SubElement(root, "testsuite", name=r.file)
        tests = failures = errors = skipped = 0
        if r.error:
            case = ET.SubElement(suite, "testcase", name="read trace", classname="vfio_migcheck")
            ET.SubElement(case, "error", message=r.error, type="unreadable").text = r.error
            tests, errors = 1, 1
        for d in r.devices:
            mine = [f for f in r.findings if f.device == d.name]
            broken = sorted({f.rule for f in mine if f.severity == "error"})
            for rule in broken:
                tests += 1
                failures += 1
                case = ET.SubElement(suite, "testcase", name=f"{d.name} {rule}",
                                     classname=f"vfio_migcheck.{rule}")
                these = [f for f in mine if f.rule == rule and f.severity == "error"]
                ET.SubElement(case, "failure", message=these[0].message,
                              type=rule).text = _block(these)
            tests += 1
            case = ET.SubElement(suite, "testcase", name=f"{d.name} verdict",
                                 classname="vfio_migcheck.device")
            if d.verdict in ("inconclusive", "unchecked"):
                skipped += 1
                ET.SubElement(case, "skipped", message="; ".join(d.inconclusive_reasons))
            elif d.verdict == "fail":
                failures += 1
                ET.SubElement(case, "failure", message=f"{len(broken)} rule(s) broken",
                              type="verdict").text = _block(
                                  [f for f in mine if f.severity == "error"])
            notes = [f for f in mine if f.severity != "error"]
            if notes:
                ET.SubElement(case, "system-out").text = _block(notes)
        suite.set("tests", str(tests))
        suite.set("failures", str(failures))
        suite.set("errors", str(errors))
        suite.set("skipped", str(skipped))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
