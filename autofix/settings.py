"""Defaults from ``pyproject.toml`` ``[tool.autofix]``: the nearest one upward from the working directory.

Command-line flags win over these. Unknown keys and wrong types are errors that name the file.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    split_thr: int | None = None
    scale: str | None = None
    jobs: int | None = None


# key -> (field, what it must be); `split_thr` is accepted for `split-thr`, as the CLI's option name is.
_KEYS = {
    "fix": ("fix", "a fix id or a list of them"),
    "exclude": ("exclude", "a list of gitignore-style patterns"),
    "configs": ("configs", "a list of gitignore-style patterns"),
    "split-thr": ("split_thr", "a whole number of at least 1"),
    "split_thr": ("split_thr", "a whole number of at least 1"),
    "scale": ("scale", 'a size such as "1333x800"'),
    "jobs": ("jobs", "a whole number of at least 1"),
}


def parse_scale(text: str) -> tuple[int, int] | None:
    """``"1333x800"`` -> ``(1333, 800)``; None for anything else."""
    width, sep, height = text.lower().partition("x")
    if sep and width.isdigit() and height.isdigit() and int(width) > 0 and int(height) > 0:
        return int(width), int(height)
    return None


def _valid(field: str, value: Any) -> Any:
    """The value converted for ``ProjectSettings``, or None when it has the wrong type."""
    if field in ("fix", "exclude", "configs"):
        items = [value] if field == "fix" and isinstance(value, str) else value
        if isinstance(items, list) and all(isinstance(item, str) for item in items):
            return tuple(items)
        return None
    if field in ("split_thr", "jobs"):
        return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else None
    return value if isinstance(value, str) and parse_scale(value) else None


def load_project_settings(start: Path) -> ProjectSettings:
    """The ``[tool.autofix]`` table of the nearest ``pyproject.toml`` that has one, at ``start`` or above it."""
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
        values: dict[str, Any] = {}
        for key, value in table.items():
            if key not in _KEYS:
                raise SettingsError(f"{candidate}: [tool.autofix] has no setting {key!r}; known: fix, exclude, configs, split-thr, scale, jobs")
            field, expected = _KEYS[key]
            converted = _valid(field, value)
            if converted is None:
                raise SettingsError(f"{candidate}: [tool.autofix] {key} must be {expected}, not {value!r}")
            values[field] = converted
        return ProjectSettings(source=candidate, **values)
    return ProjectSettings()
