"""Defaults from ``pyproject.toml`` ``[tool.autofix]``: the nearest one upward from the working directory.

Command-line flags win over these. Besides the run's own keys, the table takes every rule option
(``NAME = value``; ``-`` and ``_`` alike), and ``[tool.autofix.RULE]`` tables take that rule's
options only. Which options exist is the rules' business: the caller passes them in. Unknown keys
and wrong values are errors that name the file.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autofix.rule import Option, positive_int

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover (3.10)
    import tomli as tomllib


class SettingsError(ValueError):
    """A ``[tool.autofix]`` table autofix cannot use; the text names the file and the key."""


@dataclass(frozen=True)
class ProjectSettings:
    source: Path | None = None  # the pyproject.toml read, if any
    fix: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    configs: tuple[str, ...] = ()  # files that are configs whatever their content, relative to `source`'s folder
    jobs: int | None = None
    strict: bool = False  # a config found in a folder that mmengine cannot load is an error
    options: Mapping[str, Any] = field(default_factory=dict)  # rule option key -> parsed value


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{value!r} is not true or false")
    return value


def _string_list(value: Any, single_allowed: bool = False) -> tuple[str, ...]:
    items = [value] if single_allowed and isinstance(value, str) else value
    if isinstance(items, list) and all(isinstance(item, str) for item in items):
        return tuple(items)
    raise ValueError("must be a list of strings" + (" or one string" if single_allowed else ""))


# The run's own keys: name -> (field, parser).
_RUN_KEYS = {
    "fix": ("fix", lambda value: _string_list(value, single_allowed=True)),
    "exclude": ("exclude", _string_list),
    "configs": ("configs", _string_list),
    "jobs": ("jobs", positive_int),
    "strict": ("strict", _boolean),
}


def load_project_settings(start: Path, rule_options: Mapping[str, tuple[Option, ...]] = {}) -> ProjectSettings:
    """The ``[tool.autofix]`` table of the nearest ``pyproject.toml`` that has one, at ``start`` or above it.

    ``rule_options`` maps each rule id to the options it declares.
    """
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if not candidate.is_file():
            continue
        try:
            document = tomllib.loads(candidate.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
            raise SettingsError(f"{candidate}: cannot read it as TOML: {exc}") from None
        table = document.get("tool", {}).get("autofix")
        if table is None:
            continue
        if not isinstance(table, dict):
            raise SettingsError(f"{candidate}: [tool.autofix] must be a table")
        return _read_table(candidate, table, rule_options)
    return ProjectSettings()


def _read_table(source: Path, table: dict[str, Any], rule_options: Mapping[str, tuple[Option, ...]]) -> ProjectSettings:
    every_option = {option.key: option for options in rule_options.values() for option in options}
    values: dict[str, Any] = {}
    options: dict[str, Any] = {}
    for key, value in table.items():
        if key in rule_options and isinstance(value, dict):
            own = {option.key: option for option in rule_options[key]}
            for option_key, option_value in value.items():
                options.update(_option_value(source, f"[tool.autofix.{key}]", option_key, option_value, own))
        elif key in _RUN_KEYS:
            field_name, parse = _RUN_KEYS[key]
            try:
                values[field_name] = parse(value)
            except ValueError as exc:
                raise SettingsError(f"{source}: [tool.autofix] {key} {exc}") from None
        else:
            options.update(_option_value(source, "[tool.autofix]", key, value, every_option, known=_RUN_KEYS))
    return ProjectSettings(source=source, options=options, **values)


def _option_value(
    source: Path, table: str, key: str, value: Any, options: Mapping[str, Option], known: Mapping[str, Any] = {}
) -> dict[str, Any]:
    option = options.get(key.replace("-", "_"))
    if option is None:
        names = ", ".join(sorted([*known, *(o.name for o in options.values())]))
        raise SettingsError(f"{source}: {table} has no setting {key!r}; known: {names}")
    try:
        return {option.key: _parsed(option, value)}
    except ValueError as exc:
        raise SettingsError(f"{source}: {table} {key}: {exc}") from None


def _parsed(option: Option, value: Any) -> Any:
    return _boolean(value) if option.flag else option.parse(value)
