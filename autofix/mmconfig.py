"""mmengine as the reference for config semantics: resolving, inheritance graph, dotted diffs.

Resolution can see texts that are not on disk yet (this run's fixes, a candidate rewrite):
mmengine reads every config file through the ``open`` of its config module, so an overlay of
path -> text there makes it resolve what ``--dry-run`` would have written. Bases in installed
packages (``mmdet::x.py``, ``from mmdet.configs.x import *``) are found in the user's training
environment (:mod:`autofix.environment`): mmengine asks its config module's ``is_installed`` and
``get_installed_path`` where a package is, and gets that environment's answer first.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import copy
import fnmatch
import functools
import io
import os
import re
import threading
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from autofix import environment

_READ_BASE = re.compile(r"^with\s+read_base\s*\(\s*\)\s*:", re.MULTILINE)
_lock = threading.RLock()


class ConfigUnavailable(Exception):
    """The config cannot be resolved (missing base, code that raises...); the text says why."""


def is_lazy_style(text: str) -> bool:
    """New-style (``with read_base():``) configs load with lazy_import=True, the rest with False."""
    return bool(_READ_BASE.search(text))


def _config_module():
    import mmengine.config.config as config_module  # imported late: ~0.2 s, only for configs

    return config_module


@functools.cache
def _module_of_package() -> dict[str, str]:
    """pip name -> import name (mmengine asks for packages by their pip names)."""
    from mmengine.config.utils import MODULE2PACKAGE

    return {package: module for module, package in MODULE2PACKAGE.items()}


@contextlib.contextmanager
def overlay(texts: Mapping[str, str]) -> Iterator[None]:
    """While active, mmengine reads ``texts[abs_path]`` instead of the file at that path, and finds the
    packages of ``pkg::`` and absolute ``read_base`` bases in the training environment, else in
    autofix's own (a package in neither names the cure)."""
    config_module = _config_module()
    own_is_installed, own_installed_path = config_module.is_installed, config_module.get_installed_path

    def overlay_open(file, mode="r", *args, **kwargs):
        key = os.path.abspath(file) if isinstance(file, (str, os.PathLike)) else None
        if key in texts and "r" in mode and "b" not in mode:
            return io.StringIO(texts[key])
        return builtins.open(file, mode, *args, **kwargs)

    def folder(package: str) -> str:
        module = _module_of_package().get(package, package)
        found = environment.training_package_dir(module)
        if found is not None:
            return str(found)
        if own_is_installed(package):
            return own_installed_path(package)
        raise ConfigUnavailable(environment.not_installed(module))

    with _lock:
        config_module.open = overlay_open
        config_module.is_installed = lambda package: bool(folder(package))
        config_module.get_installed_path = folder
        try:
            yield
        finally:
            del config_module.open
            config_module.is_installed, config_module.get_installed_path = own_is_installed, own_installed_path


class FileLoadCache:
    """Memoizes mmengine's per-file loading (``Config._file2dict``) for one run.

    mmengine loads every base of every config again (the mmdet tree: 4,605 loads for 869
    configs). An entry is reused only while the file and every file its load read (its bases,
    recursively) still hold the same texts, overlay included; callers get deep copies, because
    a child's ``_base_.x.y = v`` mutates what the load returned.
    """

    def __init__(self) -> None:
        self._entries: dict[tuple[Any, ...], list[tuple[dict[str, str], tuple[Any, ...]]]] = {}
        self._reading: list[dict[str, str]] = []  # the files read by each load in progress, innermost last
        self._loading: list[str] = []  # the paths of the loads in progress, innermost last
        self._disk: dict[str, tuple[tuple[int, int, int], str]] = {}  # path -> (identity from stat, text)

    def _current_text(self, path: str, texts: Mapping[str, str]) -> str | None:
        if path in texts:
            return texts[path]
        try:
            status = os.stat(path)
            identity = (status.st_ino, status.st_mtime_ns, status.st_size)  # a replaced file is a new inode
            if path not in self._disk or self._disk[path][0] != identity:
                self._disk[path] = (identity, Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            return None
        return self._disk[path][1]

    @contextlib.contextmanager
    def active(self, config_class: Any, texts: Mapping[str, str]) -> Iterator[None]:
        """While active, ``config_class._file2dict`` goes through this cache."""
        uncached = config_class.__dict__["_file2dict"]
        load = uncached.__func__
        config_dict = _config_module().ConfigDict

        def cached_file2dict(filename, use_predefined_variables=True, use_environment_variables=True, lazy_import=None):
            path = os.path.abspath(os.path.expanduser(filename))
            if path in self._loading:  # mmengine itself would recurse ~10 s to Python's recursion limit
                raise CircularBase([*self._loading[self._loading.index(path):], path])
            key = (path, use_predefined_variables, use_environment_variables, lazy_import)
            for dependencies, value in self._entries.get(key, ()):
                if all(self._current_text(p, texts) == text for p, text in dependencies.items()):
                    for reading in self._reading:
                        reading.update(dependencies)
                    return _deep_copy(value, config_dict, {})
            self._reading.append({})
            self._loading.append(path)
            try:
                value = load(filename, use_predefined_variables, use_environment_variables, lazy_import)
            finally:
                dependencies = self._reading.pop()
                self._loading.pop()
            text = self._current_text(path, texts)
            if text is not None:
                dependencies[path] = text
                self._entries.setdefault(key, []).append((dependencies, _deep_copy(value, config_dict, {})))
            for reading in self._reading:
                reading.update(dependencies)
            return value

        config_class._file2dict = staticmethod(cached_file2dict)
        try:
            yield
        finally:
            config_class._file2dict = uncached


_IMMUTABLE = (str, int, float, bool, type(None), bytes)


def _deep_copy(value: Any, config_dict: type, memo: dict[int, Any]) -> Any:
    """``copy.deepcopy`` for what mmengine's loading returns, ~9x faster on ConfigDict trees.

    Its values are already ConfigDicts (``ConfigDict.__setitem__``'s conversion, the slow part of
    its ``__deepcopy__``, has nothing left to do); other types go to ``copy.deepcopy``.
    """
    if isinstance(value, _IMMUTABLE):
        return value
    if id(value) in memo:  # shared references stay shared, as with deepcopy
        return memo[id(value)]
    kind = type(value)
    if kind is config_dict:
        copied = kind()
        memo[id(value)] = copied
        for key, item in dict.items(value):
            dict.__setitem__(copied, key, _deep_copy(item, config_dict, memo))
    elif kind is dict:
        copied = memo[id(value)] = {}
        for key, item in value.items():
            copied[key] = _deep_copy(item, config_dict, memo)
    elif kind is list:
        copied = memo[id(value)] = []
        copied.extend(_deep_copy(item, config_dict, memo) for item in value)
    elif kind is tuple:
        copied = memo[id(value)] = tuple(_deep_copy(item, config_dict, memo) for item in value)
    else:
        copied = copy.deepcopy(value, memo)
    return copied


class CircularBase(Exception):
    """A config inherits, through its bases, from itself; the chain of absolute paths."""

    def __init__(self, chain: list[str]) -> None:
        super().__init__(" -> ".join(chain))
        self.chain = chain


def resolve(path: Path, texts: Mapping[str, str], cache: FileLoadCache | None = None) -> dict[str, Any]:
    """``Config.fromfile(path).to_dict()`` as mmengine gives it, with ``texts`` overlaid.

    With a ``cache`` (one run's), files already loaded with the same texts are not loaded again.
    """
    key = os.path.abspath(path)
    cache = cache or FileLoadCache()  # it also stops a circular _base_ at once
    with overlay(texts), warnings.catch_warnings():
        # mmengine imports pkg_resources for `pkg::` bases; its deprecation notice is not the user's concern.
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
        from mmengine.config import Config

        try:  # reading the file too: mmengine reads it as UTF-8, so one that is not can never load
            on_disk = Path(key).read_text(encoding="utf-8")
            text = texts.get(key, on_disk)
            lazy = is_lazy_style(text)
            # New-style bases are imported, not loaded through _file2dict, so the cache cannot see a cycle there.
            cycle = _circular_bases(Path(key), texts) if lazy else None
            if cycle:
                raise ConfigUnavailable(f"circular _base_: {' -> '.join(cycle)}")
            with cache.active(Config, texts):
                config = Config.fromfile(key, lazy_import=lazy, import_custom_modules=False)
            return config.to_dict()
        except CircularBase as exc:
            chain = [os.path.relpath(p, os.path.dirname(key)) for p in exc.chain]
            raise ConfigUnavailable(f"circular _base_: {' -> '.join(chain)}") from None
        except ConfigUnavailable:
            raise
        except Exception as exc:  # mmengine raises anything the config's own code raises
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConfigUnavailable(f"mmengine cannot load it: {type(exc).__name__}: {message}") from None


def _circular_bases(path: Path, texts: Mapping[str, str]) -> list[str] | None:
    """The first chain of bases from ``path`` that comes back to one of its files, else None."""
    cleared: set[Path] = set()  # bases already followed to the end: no cycle through them

    def follow(current: Path, chain: list[Path]) -> list[Path] | None:
        if current in chain:
            return [*chain[chain.index(current):], current]
        if current in cleared:
            return None
        try:
            text = texts[str(current)] if str(current) in texts else current.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = ""  # mmengine will say what is wrong with it
        for base in base_paths(current, text) if may_inherit(text) else []:
            found = follow(base, [*chain, current])
            if found:
                return found
        cleared.add(current)
        return None

    cycle = follow(path, [])
    return [os.path.relpath(p, path.parent) for p in cycle] if cycle else None


def may_inherit(text: str) -> bool:
    """Cheap test: a file without these words has no ``_base_`` and no ``read_base``."""
    return "_base_" in text or "read_base" in text


def base_paths(path: Path, text: str) -> list[Path]:
    """The files ``path`` inherits from directly (``_base_`` or ``read_base`` relative imports)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, RecursionError, MemoryError):  # hostile files are the engine's to report
        return []
    return direct_bases(path, tree)[0]


def direct_bases(path: Path, tree: ast.Module) -> tuple[list[Path], bool]:
    """The files a parsed config inherits from directly, and whether that list is known to be complete.

    Incomplete: a ``_base_`` that is not a literal, or a base that mmengine finds in an installed
    package (``pkg::path``, an absolute ``read_base`` import): finding those costs an mmengine import.
    """
    folder = Path(os.path.abspath(path)).parent
    found: list[Path] = []
    complete = True
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "_base_" for t in node.targets):
            try:
                value = ast.literal_eval(node.value)
            except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
                complete = False
                continue
            for base in value if isinstance(value, (list, tuple)) else [value]:
                if isinstance(base, str) and "::" not in base:
                    found.append(Path(os.path.normpath(folder / base)))
                else:
                    complete = False
        elif isinstance(node, ast.With) and _READ_BASE.match(ast.unparse(node).split("\n")[0]):
            for statement in node.body:
                if isinstance(statement, ast.ImportFrom) and statement.level and statement.module:
                    anchor = folder
                    for _ in range(statement.level - 1):
                        anchor = anchor.parent
                    found.append(Path(os.path.normpath(anchor.joinpath(*statement.module.split(".")))).with_suffix(".py"))
                elif isinstance(statement, ast.ImportFrom):
                    complete = False
    return found, complete


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted keys to leaf values: ``{'a': {'b': [1]}}`` -> ``{'a.b[0]': 1}``; empty containers kept."""
    if isinstance(value, Mapping) and value:
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, (list, tuple)) and value:
        out = {}
        for index, item in enumerate(value):
            out.update(flatten(item, f"{prefix}[{index}]"))
        return out
    return {prefix: value}


def changed_keys(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Dotted keys whose effective value differs (added, removed or changed), sorted."""
    flat_before, flat_after = flatten(before), flatten(after)
    keys = set(flat_before) | set(flat_after)
    missing = object()
    return sorted(k for k in keys if flat_before.get(k, missing) != flat_after.get(k, missing))


def unexpected_changes(
    before: Mapping[str, Any], after: Mapping[str, Any], intended: Sequence[str | re.Pattern[str]]
) -> tuple[list[str], list[str]]:
    """The changed dotted keys, and those of them that match none of the ``intended`` patterns."""
    changed = changed_keys(before, after)
    return changed, [key for key in changed if not any(key_matches(key, pattern) for pattern in intended)]


def value_at(value: Any, path: Sequence[str | int], default: Any = None) -> Any:
    """``value[k0][k1]...`` of a resolved config (str keys, int list indices), or ``default`` where a step is missing."""
    for key in path:
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            return default
    return value


def key_matches(key: str, pattern: str | re.Pattern[str]) -> bool:
    """A dotted key against an fnmatch pattern, or a compiled regular expression that must match it whole.

    Regular expressions say what fnmatch cannot, e.g. "a top-level name with no dot in it".
    """
    if isinstance(pattern, re.Pattern):
        return pattern.fullmatch(key) is not None
    return fnmatch.fnmatchcase(key, pattern)


def registry_name(value: Any) -> str | None:
    """The name a config ``type`` registers: ``Resize`` for ``'Resize'``, ``'mmdet.Resize'``, a lazy
    import's ``'mmdet.datasets.transforms.Resize'`` or the class itself; None when there is none."""
    if isinstance(value, str):
        return value.rpartition(".")[2]
    return getattr(value, "__name__", None)
