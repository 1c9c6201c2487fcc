"""Project configuration: ``[tool.vfio-migcheck]`` in ``pyproject.toml``.

Found as ruff and mypy find theirs: the nearest ``pyproject.toml`` with that table, from
the working directory upwards. Its values become click's defaults, so a command-line
option always overrides them. Keys at the top of the table apply to every command that
takes the option; a sub-table (``[tool.vfio-migcheck.check]``) applies to one command and
overrides the top. A bad file or value is one line naming the file and the key.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

TABLE = "vfio-migcheck"
FILE_NAME = "pyproject.toml"

#: config key -> (click parameter name, value kind); kinds: str, list (of str), bool
KEYS: dict[str, tuple[str, str]] = {
    "spec": ("spec_arg", "str"),
    "flags": ("flags_arg", "str"),
    "driver": ("driver_arg", "str"),
    "select": ("select", "list"),
    "ignore": ("ignore", "list"),
    "output": ("output", "str"),
    "trace-format": ("fmt", "str"),
    "exit-zero": ("exit_zero", "bool"),
}
#: the commands whose --format is the trace format (graph's is its drawing format)
TRACE_FORMAT_COMMANDS = ("check", "audit", "convert")


class ConfigError(Exception):
    """A bad configuration file or value; the message names the file and the key."""


@dataclass
class Config:
    file: Path
    common: dict[str, Any] = field(default_factory=dict)
    per_command: dict[str, dict[str, Any]] = field(default_factory=dict)

    def values_for(self, command: str) -> dict[str, Any]:
        """The keys that apply to ``command``: the common ones, overridden by its table."""
        out = dict(self.common)
        out.update(self.per_command.get(command, {}))
        if command not in TRACE_FORMAT_COMMANDS:
            out.pop("trace-format", None)
        return out


def find_config(start: Path | None = None) -> Path | None:
    """The nearest pyproject.toml, from ``start`` upwards, that has a [tool.vfio-migcheck]."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / FILE_NAME
        if candidate.is_file() and _mentions_table(candidate):
            return candidate
    return None


def _mentions_table(path: Path) -> bool:
    """Cheap test before parsing: an unrelated, even broken, pyproject.toml is skipped."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return f"tool.{TABLE}" in text or f'tool."{TABLE}"' in text


def load_config(path: Path, commands: Iterable[str]) -> Config:
    """Parse and check the shape of ``path``'s table (values are checked per command)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    table = data.get("tool", {}).get(TABLE)
    config = Config(file=path)
    if table is None:
        return config
    where = f"{path}: [tool.{TABLE}]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    known_commands = set(commands)
    for key, value in table.items():
        if isinstance(value, dict) and key not in KEYS:
            if key not in known_commands:
                raise ConfigError(f"{where}.{key}: no command {key!r} (commands: "
                                  f"{', '.join(sorted(known_commands))})")
            config.per_command[key] = {k: _checked(f"{where}.{key}", k, v)
                                       for k, v in value.items()}
        else:
            config.common[key] = _checked(where, key, value)
    return config


def _checked(where: str, key: str, value: Any) -> Any:
    if key not in KEYS:
        raise ConfigError(f"{where} {key}: unknown key (known: {', '.join(KEYS)})")
    kind = KEYS[key][1]
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{where} {key}: must be true or false, not {value!r}")
        return value
    if kind == "list":
        if isinstance(value, str):
            value = [value]
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise ConfigError(f"{where} {key}: must be a list of strings, not {value!r}")
        return tuple(value)
    if isinstance(value, int) and not isinstance(value, bool) and key == "flags":
        return hex(value)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where} {key}: must be a non-empty string, not {value!r}")
    return value


def resolve_spec(value: str, config_file: Path) -> str:
    """A spec file is relative to the config file's folder; a built-in name stays a name."""
    from vfio_migcheck.model.spec import BUILTIN_SPECS

    if value in BUILTIN_SPECS:
        return value
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else config_file.parent / path)


def validate_values(config: Config, command: str, values: dict[str, Any]) -> None:
    """Check what a value means (a spec that loads, a defined flag set, a known driver and
    rule ids) so a typo in the file is reported against the file, not as an option."""
    where = f"{config.file}: [tool.{TABLE}]"

    def fail(key: str, why: str) -> ConfigError:
        table = where if key in config.common and key not in config.per_command.get(
            command, {}) else f"{where[:-1]}.{command}]"
        return ConfigError(f"{table} {key}: {why}")

    from vfio_migcheck.model.spec import DEFAULT_SPEC, SpecError, load_spec

    spec = None
    if "spec" in values or "flags" in values:
        try:
            spec = load_spec(values.get("spec", DEFAULT_SPEC))
        except SpecError as exc:
            raise fail("spec", str(exc)) from None
    if "flags" in values and spec is not None:
        from vfio_migcheck.cli.common import flags_problem
        from vfio_migcheck.model.names import NameError_, parse_flags

        try:
            problem = flags_problem(parse_flags(values["flags"], spec), spec)
        except NameError_ as exc:
            problem = str(exc)
        if problem:
            raise fail("flags", problem)
    if "driver" in values:
        from vfio_migcheck.model.profiles import ProfileError, find_profile

        try:
            find_profile(values["driver"])
        except ProfileError as exc:
            raise fail("driver", str(exc)) from None
    for key in ("select", "ignore"):
        if key in values:
            from vfio_migcheck.checker.api import RuleSelectionError, rule_filter

            ids = [p for v in values[key] for p in v.replace(" ", ",").split(",") if p]
            try:
                rule_filter(ids, ())
            except RuleSelectionError as exc:
                raise fail(key, str(exc)) from None


def default_map(config: Config, command: str, params: dict[str, Any]) -> dict[str, Any]:
    """click defaults for ``command`` from ``config``; ``params`` maps the command's option
    names to its click parameters (only keys the command takes are applied)."""
    values = config.values_for(command)
    if "spec" in values:
        values["spec"] = resolve_spec(values["spec"], config.file)
    applicable = {k: v for k, v in values.items() if KEYS[k][0] in params}
    choices = getattr(params.get("output"), "type", None)
    if "output" in applicable and hasattr(choices, "choices") and \
            applicable["output"] not in choices.choices:
        where = (f"{config.file}: [tool.{TABLE}.{command}]"
                 if "output" in config.per_command.get(command, {})
                 else f"{config.file}: [tool.{TABLE}]")
        raise ConfigError(f"{where} output: {command} has no output {applicable['output']!r} "
                          f"(it has {', '.join(choices.choices)}); a format only one command "
                          f"has belongs in that command's table, e.g. [tool.{TABLE}.check]")
    validate_values(config, command, applicable)
    return {KEYS[k][0]: v for k, v in applicable.items()}
