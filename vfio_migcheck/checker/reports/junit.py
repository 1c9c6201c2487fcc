"""JUnit XML view: one testsuite per trace, one testcase per device, each failure once.

A device is one test: it passes, fails (one ``<failure>`` listing every error finding,
whatever the number of rules broken), or is skipped when its verdict is inconclusive or
unchecked (with the reasons). An unreadable trace is one ``<error>``; a trace with no
migration device is one skipped test, never a pass. Warnings and notes go to
``system-out``. ``<testsuites>`` carries the totals and the time.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from vfio_migcheck.checker.repeats import repeats_note
from vfio_migcheck.checker.results import TraceResult

_COUNTS = ("tests", "failures", "errors", "skipped")


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


def _suite(root: ET.Element, r: TraceResult, seconds: float | None) -> dict[str, int]:
    suite = ET.SubElement(root, "testsuite", name=r.file)
    counts = dict.fromkeys(_COUNTS, 0)
    classname = f"vfio_migcheck.{r.format}"

    def case(name: str) -> ET.Element:
        counts["tests"] += 1
        return ET.SubElement(suite, "testcase", name=name, classname=classname)

    if r.error:
        counts["errors"] += 1
        ET.SubElement(case("read trace"), "error", message=r.error,
                      type="unreadable").text = r.error
    elif not r.devices:
        counts["skipped"] += 1
        ET.SubElement(case("no migration device"), "skipped",
                      message="no VFIO migration device in this trace: nothing was checked")
    for d in r.devices:
        mine = [f for f in r.findings if f.device == d.name]
        errors = [f for f in mine if f.severity == "error"]
        test = case(f"device {d.name}")
        if d.verdict == "fail" or errors:
            counts["failures"] += 1
            rules = sorted({f.rule for f in errors})
            ET.SubElement(test, "failure",
                          message=f"{len(errors)} error(s), rules broken: {', '.join(rules)}",
                          type="fail").text = _block(errors)
        elif d.verdict in ("inconclusive", "unchecked"):
            counts["skipped"] += 1
            ET.SubElement(test, "skipped", message=f"{d.verdict}: "
                          + ("; ".join(d.inconclusive_reasons) or "no reason recorded"))
        others = [f for f in mine if f.severity != "error"]
        if others:
            ET.SubElement(test, "system-out").text = _block(others)
    for key, value in counts.items():
        suite.set(key, str(value))
    if seconds is not None:
        suite.set("time", f"{seconds:.3f}")
    return counts


def to_junit(results: list[TraceResult], seconds: Sequence[float] | None = None) -> str:
    """``seconds[i]`` is how long checking ``results[i]`` took (the ``time`` attributes)."""
    root = ET.Element("testsuites", name="vfio-migcheck")
    totals = dict.fromkeys(_COUNTS, 0)
    for i, r in enumerate(results):
        for key, value in _suite(root, r, seconds[i] if seconds else None).items():
            totals[key] += value
    for key, value in totals.items():
        root.set(key, str(value))
    if seconds:
        root.set("time", f"{sum(seconds):.3f}")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
