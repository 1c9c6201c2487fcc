"""Known driver deviations: observed kernel behaviour the model does not allow, explained.

Each entry of ``deviations.toml`` names a call kind and the model context it applies to
(fd kind, the states the model thought possible) and the observed result it explains. A
disagreement matching no entry is unexplained: either a model error or a new deviation.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from vfio_migcheck.conformance.predict import Prediction

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

KEYS = {"id", "driver", "call", "fd_kind", "states", "observed_ret", "observed_errno",
        "explanation", "cite"}


class DeviationError(ValueError):
    """The deviations file is malformed; the message names file and entry."""


@dataclass(frozen=True)
class Deviation:
    id: str
    driver: str
    call: str
    explanation: str
    cite: str = ""
    fd_kind: str | None = None
    states: frozenset[str] | None = None
    observed_ret: int | None = None
    observed_errno: str | None = None

    def explains(self, kind: str, prediction: Prediction, ret: int, errno: str | None) -> bool:
        if kind != self.call:
            return False
        if self.fd_kind is not None and prediction.fd_kind != self.fd_kind:
            return False
        if self.states is not None and not set(prediction.states) <= self.states:
            return False
        if self.observed_ret is not None and ret != self.observed_ret:
            return False
        if self.observed_errno is not None and errno != self.observed_errno:
            return False
        return True


def default_path() -> Path:
    return Path(str(resources.files("vfio_migcheck.conformance") / "deviations.toml"))


def load_deviations(path: Path | None = None) -> list[Deviation]:
    path = path or default_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise DeviationError(f"{path}: cannot read deviations: {exc}") from exc
    out: list[Deviation] = []
    for i, entry in enumerate(data.get("deviation", [])):
        where = f"{path}: deviation[{i}]"
        unknown = set(entry) - KEYS
        if unknown:
            raise DeviationError(f"{where}: unknown keys {sorted(unknown)}")
        for key in ("id", "driver", "call", "explanation"):
            if not isinstance(entry.get(key), str) or not entry[key]:
                raise DeviationError(f"{where}: {key} must be a non-empty string")
        if "observed_ret" not in entry and "observed_errno" not in entry:
            raise DeviationError(f"{where}: say what is observed (observed_ret/observed_errno)")
        states = entry.get("states")
        out.append(Deviation(
            id=entry["id"], driver=entry["driver"], call=entry["call"],
            explanation=entry["explanation"], cite=entry.get("cite", ""),
            fd_kind=entry.get("fd_kind"),
            states=frozenset(states) if states is not None else None,
            observed_ret=entry.get("observed_ret"), observed_errno=entry.get("observed_errno"),
        ))
    ids = [d.id for d in out]
    if len(ids) != len(set(ids)):
        raise DeviationError(f"{path}: duplicate deviation ids")
    return out
