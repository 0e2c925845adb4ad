"""mmdetection 2.x configs (mmcv 1.x era) to 3.x (mmengine): the framework of ``autofix migrate``.

A config is migrated as written: its own top-level statements are rewritten with libcst, bases
first (the engine's level order), so comments, variables and ``_base_`` stay. The mapping rules
(R1-R45 of the migration notes) are small declared :class:`Step` s, one module per group; each
reads the file's 2.x statements and the resolved configs of :class:`FileMigration` and emits 3.x
statements. What has no exact mapping is refused (left as written and named), never guessed.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any

import libcst as cst

from autofix.cst_helpers import (
    dict_call_keys,
    dict_literal_keys,
    nested_dict_call,
    referenced_names,
    remove_mapping_keys,
    set_nested_value,
)
from autofix.mmconfig import value_at
from autofix.provenance import assigned_name, binds_name
from autofix.rule import Example, TransformFailed

# Top-level keys mmengine never reads (or refuses): a migrated file keeps none but the refused.
LEGACY_KEYS = (
    "data", "optimizer", "optimizer_config", "fp16", "lr_config", "momentum_config", "runner", "evaluation",
    "checkpoint_config", "log_config", "resume_from", "dist_params", "workflow", "total_epochs", "cudnn_benchmark",
    "mp_start_method", "opencv_num_threads",
)
# mmcv 1.x's environment keys: mmengine reads them from ``env_cfg``.
ENVIRONMENT_KEYS = ("cudnn_benchmark", "mp_start_method", "opencv_num_threads", "dist_params")
# The groups of steps, in the order they run: pipelines are 3.x before the data group moves them.
GROUPS = ("pipelines", "model", "detectors", "data", "evaluation", "optim", "schedule", "runtime")


class Refused(Exception):
    """Raised inside a step: ``construct`` (a dotted key, a transform type) has no exact 3.x form."""

    def __init__(self, construct: str, reason: str) -> None:
        super().__init__(construct, reason)
        self.construct = construct
        self.reason = reason


@dataclass(frozen=True)
class Step:
    """One mapping rule (or a few tied ones): ``run`` rewrites a :class:`FileMigration` in place."""

    id: str  # the notes' rule ids, e.g. "R18, R30"
    summary: str
    run: Callable[[FileMigration], None]
    examples: tuple[Example, ...] = ()


def _comments(node: cst.CSTNode) -> list[cst.EmptyLine]:
    """Every comment inside ``node``, as comment lines (so moving them loses none)."""
    found: list[cst.EmptyLine] = []

    class Collector(cst.CSTVisitor):
        def visit_Comment(self, comment: cst.Comment) -> None:
            found.append(cst.EmptyLine(comment=comment))

    node.visit(Collector())
    return found


class FileMigration:
    """One config being migrated.

    ``old`` is the file's effective config as mmengine resolves it with its bases as the run found
    them (2.x); ``base`` the effective config of its bases alone, already migrated (``{}`` without
    ``_base_``). Steps read the file's own statements with :meth:`written` and emit 3.x ones.
    """

    def __init__(self, module: cst.Module, old: Mapping[str, Any], base: Mapping[str, Any]) -> None:
        self.module = module
        self.old = old
        self.base = base
        self.refused: list[tuple[str, str]] = []  # (construct, why)
        self.notes: list[str] = []
        self.kept: set[str] = set()  # dotted legacy keys left as written
        self._written_at_start = frozenset(self.names())

    # --- reading ---------------------------------------------------------------------------------

    def _index(self, name: str) -> int | None:
        found = [i for i, statement in enumerate(self.module.body) if assigned_name(statement) == name]
        return found[-1] if found else None

    def written(self, name: str) -> cst.BaseExpression | None:
        """The value of the file's own last top-level ``name = value``."""
        index = self._index(name)
        return None if index is None else self.module.body[index].body[0].value

    def names(self) -> list[str]:
        """The names the file assigns at top level, in order."""
        return [name for name in map(assigned_name, self.module.body) if name is not None]

    def wrote(self, name: str) -> bool:
        """Whether the file wrote ``name`` before this migration (a step may have moved it since)."""
        return name in self._written_at_start

    @property
    def iteration_based(self) -> bool:
        """Whether the 2.x config trains with mmcv's IterBasedRunner (which counts iterations everywhere)."""
        return value_at(self.old, ("runner", "type")) == "IterBasedRunner"

    def inherits(self, key: str) -> bool:
        """Whether the (migrated) bases give ``key``: a 3.x dict is then overridden in part."""
        return key in self.base

    # --- writing ---------------------------------------------------------------------------------

    def set(
        self,
        name: str,
        value: cst.BaseExpression | str,
        after: str | None = None,
        replacing: str | Sequence[str] | None = None,
    ) -> None:
        """Set the value of the statement ``name``; else put ``name = value`` where the first of
        ``replacing`` the file writes stands (its comments kept, its statement gone); else add it after
        ``after`` or at the end. A new statement never goes before the last statement that binds a name
        it reads (``max_iters = 368750`` below ``lr_config``): it goes just after that one instead."""
        expression = cst.parse_expression(value) if isinstance(value, str) else value
        candidates = [replacing] if isinstance(replacing, str) else replacing or ()
        replaced = next((old for old in candidates if old != name and self._index(old) is not None), None)
        body = list(self.module.body)
        index = self._index(name)
        if index is not None:
            assign = body[index].body[0]
            body[index] = body[index].with_changes(body=[assign.with_changes(value=expression)])
            self.module = self.module.with_changes(body=body)
            if replaced is not None:
                self.remove(replaced)
            return
        statement = cst.SimpleStatementLine(
            body=[cst.Assign(targets=[cst.AssignTarget(cst.Name(name))], value=expression)]
        )
        read = referenced_names(expression)
        last_binding = max((i for i, line in enumerate(body) if any(binds_name(line, n) for n in read)), default=-1)
        old_index = None if replaced is None else self._index(replaced)
        if old_index is not None and last_binding < old_index:
            old = body[old_index]
            kept = [line for line in _comments(old.with_changes(leading_lines=[])) if line.comment.value not in
                    cst.Module(body=[statement]).code]
            body[old_index] = statement.with_changes(leading_lines=[*old.leading_lines, *kept])
            self.module = self.module.with_changes(body=body)
            return
        if old_index is not None:
            position = last_binding + 1
        else:
            anchor = None if after is None else self._index(after)
            position = max(len(body) if anchor is None else anchor + 1, last_binding + 1)
        body.insert(position, statement)
        self.module = self.module.with_changes(body=body)
        if replaced is not None:
            self.remove(replaced)

    def set_nested(self, name: str, keys: Sequence[str], value: cst.BaseExpression | str) -> None:
        """Set ``name[k0][k1]...`` inside the file's own ``name = dict(...)``; else add ``name = dict(k0=dict(...))``."""
        expression = cst.parse_expression(value) if isinstance(value, str) else value
        current = self.written(name)
        updated = None if current is None else set_nested_value(current, list(keys), expression)
        if updated is None:
            if current is not None:
                raise TransformFailed(f"{name} is not a dict literal here: cannot set {'.'.join(keys)} in it")
            updated = nested_dict_call(keys, expression)
        self.set(name, updated)

    def remove(self, name: str) -> None:
        """Drop the statement ``name``; its comments move to the next statement (none is lost)."""
        index = self._index(name)
        if index is None:
            return
        body = list(self.module.body)
        comments = [*body[index].leading_lines, *_comments(body[index].with_changes(leading_lines=[]))]
        del body[index]
        if index < len(body):
            body[index] = body[index].with_changes(leading_lines=[*comments, *body[index].leading_lines])
            self.module = self.module.with_changes(body=body)
        else:
            self.module = self.module.with_changes(body=body, footer=[*comments, *self.module.footer])

    def refuse(self, construct: str, reason: str, keep: Sequence[str] = ()) -> None:
        """``construct`` (a dotted key, a transform type) has no exact 3.x mapping: it is named, and the
        legacy keys in ``keep`` (``"lr_config"`` whole, ``"evaluation.foo"`` one key) stay as written."""
        if (construct, reason) not in self.refused:
            self.refused.append((construct, reason))
        self.kept.update(keep)

    def note(self, message: str) -> None:
        if message not in self.notes:
            self.notes.append(message)

    def finish(self) -> None:
        """Drop the legacy statements, but for the parts refused and the variables what stays still reads."""
        dropped = [name for name in LEGACY_KEYS if self.written(name) is not None and name not in self.kept]
        staying = [statement for statement in self.module.body if assigned_name(statement) not in dropped]
        read = set().union(*(referenced_names(statement) for statement in staying))
        for name in dropped:
            if name in read:
                self.refuse(name, "a statement left as written reads it")
                continue
            value = self.written(name)
            kept_keys = {key.split(".")[1] for key in self.kept if key.startswith(f"{name}.")}
            keys = _mapping_keys(value)
            if kept_keys and keys is not None:
                self.set(name, remove_mapping_keys(value, [key for key in keys if key not in kept_keys]))
            else:
                self.remove(name)


def _mapping_keys(node: cst.BaseExpression) -> list[str] | None:
    if isinstance(node, cst.Call):
        keys = dict_call_keys(node)
        return None if keys is None else list(keys)
    if isinstance(node, cst.Dict):
        return list(dict_literal_keys(node))
    return None


@cache
def groups() -> tuple[ModuleType, ...]:
    """The group modules, imported on first use (they import this module's framework)."""
    return tuple(importlib.import_module(f"{__name__}.{name}") for name in GROUPS)


def steps() -> Iterator[Step]:
    for module in groups():
        yield from module.STEPS


def migrate(module: cst.Module, old: Mapping[str, Any], base: Mapping[str, Any]) -> FileMigration:
    """Run every step over one file; the result holds the new module, notes and refusals."""
    migration = FileMigration(module, old, base)
    for step in steps():
        step.run(migration)
    migration.finish()
    return migration
