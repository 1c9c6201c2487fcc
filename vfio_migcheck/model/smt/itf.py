"""Counterexamples as ITF traces (Apalache ADR-015): one state per step of the path.

A lifecycle counterexample (L1-L7) is a run of events instead: its ITF has one state per
event (the abstract device and session state) and a canonical ``.vmc`` twin is written next
to it, which ``vfio-migcheck check`` replays.

Variables: ``device_state`` (a state name) and ``session`` (the open data session:
"none", "saving" or "resuming"). The session at the start is the one the spec's arcs give
the start state; each arc then creates, keeps or ends it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from vfio_migcheck.model.smt.results import Counterexample
from vfio_migcheck.model.spec import Spec

ITF_VARS = ["device_state", "session"]


def session_in(spec: Spec, state: str) -> str:
    """The session a device has while it sits in ``state``, derived from the arcs into it."""
    seen: set[str] = set()
    todo = [state]
    while todo:
        cur = todo.pop()
        if cur in seen:
            continue
        seen.add(cur)
        for arc in spec.arcs:
            if arc.dst != cur:
                continue
            if arc.session.startswith("creates_"):
                return arc.session.removeprefix("creates_")
            if arc.session == "keeps":
                todo.append(arc.src)
    return "none"


def arc_effect(spec: Spec, flags: int, src: str, dst: str) -> str | None:
    """The session effect of the arc ``src -> dst`` under ``flags`` (None: no such arc)."""
    names = spec.flag_names(flags & spec.all_flags_mask)
    for arc in spec.arcs:
        if arc.src == src and arc.dst == dst and arc.condition.holds(names):
            return arc.session
    return None


def lifecycle_itf(spec: Spec, prop: str, cex: Counterexample) -> dict[str, Any]:
    """A lifecycle run: one ITF state per event, with the data session's abstract state."""
    trace = []
    for i, values in enumerate(cex.extra["states"]):
        meta: dict[str, Any] = {"index": i}
        if i:
            meta["event"] = cex.extra["events"][i - 1]
        trace.append({"#meta": meta, **values})
    return {
        "#meta": _meta(spec, prop, cex, cex.detail, events=list(cex.extra["events"])),
        "vars": list(LIFECYCLE_VARS),
        "states": trace,
    }


def _meta(spec: Spec, prop: str, cex: Counterexample, what: str, **extra: Any
          ) -> dict[str, Any]:
    """The document header every ITF file of a counterexample carries."""
    return {
        "format": "ITF",
        "format-description": "https://apalache-mc.org/docs/adr/015adr-trace.html",
        "source": spec.file,
        "description": f"{prop} counterexample, spec {spec.name}, flags {cex.flags:#x}: {what}",
        "property": prop,
        "flags": f"{cex.flags:#x}",
        **extra,
    }


LIFECYCLE_VARS = ["device_state", "session", "session_fd", "eof", "resume_data_accepted",
                  "fd_closed", "dead_fds"]


def to_itf(spec: Spec, prop: str, cex: Counterexample) -> dict[str, Any]:
    """The ITF document of one counterexample."""
    if "events" in cex.extra:
        return lifecycle_itf(spec, prop, cex)
    states = cex.states
    session = session_in(spec, states[0])
    trace = [{"#meta": {"index": 0}, "device_state": states[0], "session": session}]
    for i, (src, dst) in enumerate(zip(states, states[1:]), start=1):
        effect = arc_effect(spec, cex.flags, src, dst)
        if effect is not None and effect.startswith("creates_"):
            session = effect.removeprefix("creates_")
        elif effect is not None and effect.startswith("ends_"):
            session = "none"
        trace.append({
            "#meta": {"index": i, "arc": f"{src} -> {dst}",
                      "effect": effect if effect is not None else "no such arc under the flags"},
            "device_state": dst,
            "session": session,
        })
    return {
        "#meta": _meta(spec, prop, cex, f"SET {cex.dst} in {cex.src}. {cex.detail}",
                       request={"from": cex.src, "to": cex.dst}),
        "vars": list(ITF_VARS),
        "states": trace,
    }


def itf_file_name(prop: str, cex: Counterexample, index: int) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{cex.src}-{cex.dst}")
    return f"{prop}-{cex.flags:#x}-{safe}-{index}.itf.json"


def write_itf(directory: Path, spec: Spec, items: list[tuple[str, Counterexample]]
              ) -> list[Path]:
    """Write one ITF file per counterexample into ``directory`` (created if missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for index, (prop, cex) in enumerate(items, start=1):
        path = directory / itf_file_name(prop, cex, index)
        path.write_text(json.dumps(to_itf(spec, prop, cex), indent=2) + "\n", encoding="utf-8")
        written.append(path)
        if "vmc" in cex.extra:  # a lifecycle run: also a trace `vfio-migcheck check` replays
            path.with_name(path.name.removesuffix(".itf.json") + ".vmc").write_text(
                cex.extra["vmc"], encoding="utf-8")
    return written
