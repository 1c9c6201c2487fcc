"""What a rule is: a stable id, who breaks it, the uAPI text it enforces, and examples.

Rules come in two kinds, and the kind decides how the engine reports them soundly:

* ``misfit`` - the kernel's answer fits no reading of the model (the configuration set would
  become empty). Reported when *no* configuration fits; checking then continues with what the
  model allowed ("continuing with").
* ``behaviour`` - the trace fits the model, but a party did something the uAPI forbids or
  advises against. Reported only when *every* reading that fits the trace breaks the rule.
"""

from __future__ import annotations

from vfio_migcheck.records import Record, record

KINDS = ("misfit", "behaviour")


@record
class Rule(Record):
    id: str                 # U### (VMM / user space), K### (kernel driver), T### (trace)
    name: str               # PascalCase, < 30 chars (SARIF rule name)
    severity: str           # error | warning | note
    party: str              # driver | vmm | unknown
    kind: str               # misfit | behaviour
    summary: str            # one line: what is wrong
    cite: str               # where the uAPI says so
    doc: str                # why, in a few sentences
    fix: str                # how to fix it
    bad: str                # a canonical trace that triggers the rule
    good: str               # the near miss that does not
    uapi_rule: str = ""     # VMM rule number(s) of docs/uapi.md section 10, e.g. "R3"
    once_per_session: bool = False   # repeat findings within one data session are folded

    def to_json(self) -> dict[str, str]:
        return {
            "id": self.id, "name": self.name, "severity": self.severity, "party": self.party,
            "kind": self.kind, "summary": self.summary, "cite": self.cite, "doc": self.doc,
            "fix": self.fix, "bad": self.bad, "good": self.good, "uapi_rule": self.uapi_rule,
        }
