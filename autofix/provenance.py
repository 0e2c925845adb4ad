"""Where one config file writes the values that mmengine puts at given effective key paths.

:func:`trace` follows the key paths through this file's top-level statements to the expressions
that give them their values: ``train_dataloader = dict(dataset=dict(pipeline=train_pipeline))``
leads into the ``train_pipeline = [...]`` list, ``dict(base, **more)`` into both mappings, and
``_base_.train_dataloader.dataset.pipeline[3].prob = ...`` or ``x.update(dict(...))`` write a key
directly. A value taken from a base (``{{_base_.train_pipeline}}``) is recorded as a reference: an
override can reach it only through that name. :func:`last_assignment` says which top-level statement
gives a name its final value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import libcst as cst

from autofix.cst_helpers import dict_literal_keys, literal_value, string_value
from autofix.mmconfig import value_at
from autofix.rule import KeyPath

NO_VALUE = object()  # a path the value does not have; an expression that is not a literal


@dataclass(frozen=True)
class Source:
    """An expression in this file whose value mmengine puts at ``path`` (at or below a traced path)."""

    node: cst.BaseExpression
    path: KeyPath
    traced: KeyPath  # the traced path it is at or below
    value: Any  # its effective value now


@dataclass
class Provenance:
    """What :func:`trace` found."""

    sources: list[Source] = field(default_factory=list)
    # path -> the `_base_` value this file puts there (`pipeline={{_base_.train_pipeline}}`)
    base_references: dict[KeyPath, KeyPath] = field(default_factory=dict)


def assigned_name(statement: cst.BaseStatement) -> str | None:
    """``name`` for a top-level ``name = ...`` statement, else None."""
    if isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1:
        small = statement.body[0]
        if isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name):
            return small.targets[0].target.value
    return None


def binds_name(statement: cst.BaseStatement, name: str) -> bool:
    """Whether a top-level statement (re)binds ``name``: assignment, import, loop or with target."""
    finder = _BindingFinder(name)
    statement.visit(finder)
    return finder.found


class _BindingFinder(cst.CSTVisitor):
    def __init__(self, name: str) -> None:
        self.name = name
        self.found = False

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self.found |= isinstance(node.target, cst.Name) and node.target.value == self.name

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self.found |= isinstance(node.target, cst.Name) and node.target.value == self.name

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self.found |= isinstance(node.target, cst.Name) and node.target.value == self.name

    def visit_ImportAlias(self, node: cst.ImportAlias) -> None:
        local = node.asname.name if node.asname else node.name
        self.found |= isinstance(local, cst.Name) and local.value == self.name

    def visit_ImportStar(self, node: cst.ImportStar) -> None:
        self.found = True  # a star import may bind anything

    def visit_For(self, node: cst.For) -> None:
        self.found |= isinstance(node.target, cst.Name) and node.target.value == self.name

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self.found |= node.name.value == self.name
        return False  # names bound inside a function are local to it

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self.found |= node.name.value == self.name
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_ListComp(self, node: cst.ListComp) -> bool:
        return False

    def visit_DictComp(self, node: cst.DictComp) -> bool:
        return False

    def visit_SetComp(self, node: cst.SetComp) -> bool:
        return False

    def visit_GeneratorExp(self, node: cst.GeneratorExp) -> bool:
        return False


def last_assignment(module: cst.Module, name: str) -> tuple[int, cst.Assign] | None:
    """The top-level ``name = <value>`` that gives ``name`` its final value, if that is the last binding."""
    for index in range(len(module.body) - 1, -1, -1):
        statement = module.body[index]
        if binds_name(statement, name):
            if assigned_name(statement) == name:
                return index, statement.body[0]
            return None
    return None


def _is_dict_call(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "dict"


def mapping_items(node: cst.BaseExpression) -> dict[str, cst.BaseExpression]:
    """The keyword values of ``dict(k=v)`` or the string-keyed values of ``{'k': v}``; else empty."""
    if _is_dict_call(node):
        return {arg.keyword.value: arg.value for arg in node.args if arg.keyword is not None}
    if isinstance(node, cst.Dict):
        return {key: element.value for key, element in dict_literal_keys(node).items()}
    return {}


def _merged_in(node: cst.BaseExpression) -> list[cst.BaseExpression]:
    """The mappings whose keys land at the same level: ``dict(base, **more)``, ``{**more}``."""
    if _is_dict_call(node):
        return [arg.value for arg in node.args if arg.keyword is None and arg.star in ("", "**")]
    if isinstance(node, cst.Dict):
        return [element.value for element in node.elements if isinstance(element, cst.StarredDictElement)]
    return []


def sequence_items(node: cst.BaseExpression) -> list[cst.BaseExpression]:
    """A list or tuple literal's items up to the first ``*splat`` (after it, indices are unknown)."""
    found: list[cst.BaseExpression] = []
    if isinstance(node, (cst.List, cst.Tuple)):
        for element in node.elements:
            if isinstance(element, cst.StarredElement):
                break
            found.append(element.value)
    return found


def written_path(node: cst.BaseExpression) -> KeyPath | None:
    """The key path an assignment target writes: ``a.b[0]`` and ``a['b'][0]`` both give ('a', 'b', 0)."""
    if isinstance(node, cst.Name):
        return (node.value,)
    if isinstance(node, cst.Attribute):
        parent = written_path(node.value)
        return None if parent is None else (*parent, node.attr.value)
    if isinstance(node, cst.Subscript) and len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
        parent, index = written_path(node.value), node.slice[0].slice.value
        key = index.evaluated_value if isinstance(index, cst.Integer) else string_value(index)
        return None if parent is None or key is None else (*parent, key)
    return None


def _base_reference(node: cst.BaseExpression) -> KeyPath | None:
    """('_base_', 'train_pipeline') for ``_base_.train_pipeline`` or mmengine's ``{{_base_.train_pipeline}}``."""
    if isinstance(node, cst.Set) and len(node.elements) == 1:
        inner = node.elements[0].value
        if isinstance(inner, cst.Set) and len(inner.elements) == 1:
            node = inner.elements[0].value
    path = written_path(node)
    return path if path and len(path) > 1 and path[0] == "_base_" else None


def trace(module: cst.Module, values: Mapping[KeyPath, Any]) -> Provenance:
    """The expressions in ``module`` that put the effective ``values`` (path -> value now) in place."""
    tracer = _Tracer(module, values)
    names = [assigned_name(statement) for statement in module.body]
    last_assigned = {name: index for index, name in enumerate(names)}
    for index, (name, statement) in enumerate(zip(names, module.body)):
        if name is not None and last_assigned[name] != index:
            continue  # assigned again further down: mmengine keeps only the last value
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                tracer.statement(small)
    return tracer.found


class _Tracer:
    def __init__(self, module: cst.Module, values: Mapping[KeyPath, Any]) -> None:
        self.module = module
        self.values = values
        self.on_the_way = {path[:length] for path in values for length in range(len(path))}
        self.found = Provenance()
        self.following: list[str] = []  # variables being followed (a guard against `a = b; b = a`)

    def statement(self, small: cst.BaseSmallStatement) -> None:
        if isinstance(small, cst.Assign) and len(small.targets) == 1:
            self._written(small.targets[0].target, small.value)
        elif isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
            call = small.value  # `train_dataloader.update(dict(...))` or `.merge(...)` deep-merges
            if (
                isinstance(call.func, cst.Attribute)
                and call.func.attr.value in ("update", "merge")
                and len(call.args) == 1
                and call.args[0].keyword is None
            ):
                self._written(call.func.value, call.args[0].value)

    def _written(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        path = written_path(target)
        if path and path[0] == "_base_":  # old style: `_base_.x = ...` changes the inherited x
            path = path[1:]
        if path:
            self._walk(value, path)

    def _walk(self, node: cst.BaseExpression, path: KeyPath) -> None:
        for length in range(len(path), 0, -1):
            if path[:length] in self.values:
                self._source(node, path, path[:length])
                return
        if path not in self.on_the_way:
            return
        base_path = _base_reference(node)
        if base_path is not None:
            self.found.base_references[path] = base_path
            return
        for key, value in mapping_items(node).items():
            self._walk(value, (*path, key))
        for value in _merged_in(node):
            self._walk(value, path)
        for index, value in enumerate(sequence_items(node)):
            self._walk(value, (*path, index))
        if isinstance(node, cst.Name) and node.value not in self.following:
            found = last_assignment(self.module, node.value)
            if found is not None:
                self.following.append(node.value)
                self._walk(found[1].value, path)
                self.following.pop()

    def _source(self, node: cst.BaseExpression, path: KeyPath, traced: KeyPath) -> None:
        value = value_at(self.values[traced], path[len(traced):], NO_VALUE)
        if value is NO_VALUE:
            return
        written = literal_value(node, NO_VALUE)
        if written is NO_VALUE or written == value:  # a literal of another value is not what mmengine kept
            self.found.sources.append(Source(node, path, traced, value))
