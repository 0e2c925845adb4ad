"""Finds the transforms and crash fixes (one module each in autofix.catalogue) and resolves ``--fix`` ids."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator, Mapping
from functools import cache
from types import ModuleType

import autofix.catalogue
from autofix import index
from autofix.crashes import CrashFix
from autofix.rule import Option, Rule


class UnknownFixError(ValueError):
    pass


def _catalogue_module(name: str) -> ModuleType:
    return importlib.import_module(f"autofix.catalogue.{name}")


@cache
def _fix_modules() -> tuple[ModuleType, ...]:
    return tuple(_catalogue_module(info.name) for info in pkgutil.iter_modules(autofix.catalogue.__path__))


def _modules_declaring(ids: list[str]) -> tuple[ModuleType, ...]:
    """The catalogue modules that declare ``ids`` and the rules their crash fixes run, as the catalogue index
    records them, so that a run imports its own rules only; every module when the index lacks an id."""
    names = index.catalogue_modules(ids)
    return _fix_modules() if names is None else tuple(_catalogue_module(name) for name in names)


def declaring_module(crash: CrashFix) -> str:
    """The name (in autofix.catalogue) of the first module that holds ``crash`` at its top level."""
    return next(module.__name__.rpartition(".")[2] for module in _fix_modules() if crash in vars(module).values())


@cache
def all_transforms() -> dict[str, type[Rule]]:
    return _transforms_in(_fix_modules())


def _transforms_in(modules: tuple[ModuleType, ...]) -> dict[str, type[Rule]]:
    found: dict[str, type[Rule]] = {}
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Rule) and value.__module__ == module.__name__:
                if value.id in found:
                    raise RuntimeError(f"transform id {value.id!r} is declared twice")
                found[value.id] = value
    return dict(sorted(found.items()))


@cache
def crash_fixes() -> dict[str, CrashFix]:
    """Every ``CrashFix`` declared at the top level of a module in autofix.catalogue."""
    return _crash_fixes_in(_fix_modules(), all_transforms())


def _crash_fixes_in(modules: tuple[ModuleType, ...], transforms: Mapping[str, type[Rule]]) -> dict[str, CrashFix]:
    found: dict[str, CrashFix] = {}
    for module in modules:
        for value in vars(module).values():
            if not isinstance(value, CrashFix) or found.get(value.id) is value:
                continue  # the same object imported into another module is one declaration
            own_rule = value.default_transforms == (value.id,)  # a crash fixed by the one rule of that id
            if value.id in found or (value.id in transforms and not own_rule):
                raise RuntimeError(f"crash-fix id {value.id!r} is declared twice")
            found[value.id] = value
    return dict(sorted(found.items()))


@cache
def fix_ids() -> frozenset[str]:
    """Every id ``--fix`` takes: the rules' and the crash fixes'."""
    return frozenset({*all_transforms(), *crash_fixes()})


@cache
def rule_options() -> dict[str, tuple[Option, ...]]:
    """Each rule's options; an option name means one thing, so no two rules declare the same one."""
    owners: dict[str, str] = {}
    for rule_id, rule in all_transforms().items():
        for option in rule.options:
            if owners.setdefault(option.key, rule_id) != rule_id:
                raise RuntimeError(f"option {option.name!r} is declared by {owners[option.key]!r} and {rule_id!r}")
    return {rule_id: rule.options for rule_id, rule in all_transforms().items()}


class _RuleOptionsWhenRead(Mapping[str, tuple[Option, ...]]):
    """:func:`rule_options`, imported when first read: settings read it only for a [tool.autofix] table."""

    def __getitem__(self, rule_id: str) -> tuple[Option, ...]:
        return rule_options()[rule_id]

    def __iter__(self) -> Iterator[str]:
        return iter(rule_options())

    def __len__(self) -> int:
        return len(rule_options())


RULE_OPTIONS_WHEN_READ = _RuleOptionsWhenRead()


def rule_class(rule_id: str) -> type[Rule]:
    """One rule, its own module imported (not every rule's)."""
    return _transforms_in(_modules_declaring([rule_id]))[rule_id]


def default_rules() -> list[Rule]:
    """What runs when no fix is selected: every rule but the opt-in ones."""
    return [rule() for rule in all_transforms().values() if not rule.opt_in]


def resolve_fix_ids(ids: list[str]) -> list[Rule]:
    """Expand transform and crash-fix ids (comma-separated or repeated) into transform instances."""
    wanted = [fix_id for raw in ids for fix_id in filter(None, (part.strip() for part in raw.split(",")))]
    modules = _modules_declaring(wanted)
    transforms = _transforms_in(modules)
    fixes = _crash_fixes_in(modules, transforms)
    chosen: dict[str, Rule] = {}
    for fix_id in wanted:
        if fix_id in fixes:
            expanded = fixes[fix_id].default_transforms
        elif fix_id in transforms:
            expanded = (fix_id,)
        else:
            raise UnknownFixError(index.unknown_fix_id(fix_id, [*fixes, *transforms]))
        for transform_id in expanded:
            if transform_id not in transforms:
                raise UnknownFixError(f"fix {fix_id!r} needs transform {transform_id!r}, which is not available yet")
            chosen.setdefault(transform_id, transforms[transform_id]())
    if not chosen:
        raise UnknownFixError("no fix selected; pass --fix ID (see `autofix list`)")
    return list(chosen.values())
