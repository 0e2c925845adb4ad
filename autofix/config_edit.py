"""Editing mmengine configs so that the *effective* config changes, proved by mmengine itself.

Rules declare edits (:class:`~autofix.rule.SetKey`, :class:`~autofix.rule.PopKey`);
:func:`place_edits` proposes candidate texts in order of preference (edit the definition in this
file, else append the smallest override this file's style honours) and keeps the first one whose
resolved config passes the rule's check and changes nothing beyond the edited keys. Nothing here
re-implements mmengine's merge rules: every candidate is resolved by mmengine.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import libcst as cst

from autofix.cst_helpers import (
    dotted_name,
    import_names,
    is_mapping_literal,
    mapping_value,
    nested_dict_call,
    remove_mapping_keys,
    set_mapping_value,
    set_nested_value,
    string_value,
)
from autofix.mmconfig import ConfigUnavailable, unexpected_changes
from autofix.rule import Code, ConfigEdit, PopKey, SetKey, TransformContext, TransformFailed


class ConfigStyle(str, enum.Enum):
    """How a config inherits, which decides which override forms mmengine honours."""

    BASE = "base"  # `_base_ = ...` (mmengine old style, mmdet 2.x) or no inheritance at all
    LAZY = "lazy"  # `with read_base(): from .x import *` (mmengine new style)


def config_style(module: cst.Module) -> ConfigStyle:
    for statement in module.body:
        if isinstance(statement, cst.With) and any(
            isinstance(item.item, cst.Call) and isinstance(item.item.func, cst.Name) and item.item.func.value == "read_base"
            for item in statement.items
        ):
            return ConfigStyle.LAZY
    return ConfigStyle.BASE


def inherits(module: cst.Module) -> bool:
    """True when the file has a ``_base_`` or ``read_base`` block (something to inherit from)."""
    if config_style(module) is ConfigStyle.LAZY:
        return True
    return any(_assigned_name(statement) == "_base_" for statement in module.body)


def _assigned_name(statement: cst.BaseStatement) -> str | None:
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
            if _assigned_name(statement) == name:
                return index, statement.body[0]
            return None
    return None


def replace_assigned_value(module: cst.Module, index: int, value: cst.BaseExpression) -> cst.Module:
    statement = module.body[index]
    assign = statement.body[0]
    new_statement = statement.with_changes(body=[assign.with_changes(value=value)])
    return module.with_changes(body=[*module.body[:index], new_statement, *module.body[index + 1 :]])


def append_statements(module: cst.Module, code: str, comment: str | None = None) -> cst.Module:
    """Append ``code`` (one or more statements) at the end, after a blank line and an optional ``# comment``.

    Comments that ended the file stay above the new code. New lines take the file's newline
    style: libcst writes the module's default newline for them.
    """
    statements = list(cst.parse_module(code).body)
    leading = [*module.footer]
    if module.body or leading:
        leading.append(cst.EmptyLine())
    if comment:
        leading.append(cst.EmptyLine(comment=cst.Comment(f"# {comment}")))
    statements[0] = statements[0].with_changes(leading_lines=[*leading, *statements[0].leading_lines])
    return module.with_changes(body=[*module.body, *statements], footer=[], has_trailing_newline=True)


def render(value: Any) -> str:
    """Python source for a plain config value (what ``Config.to_dict()`` holds), or a :class:`Code`."""
    if isinstance(value, Code):
        return value.expression
    if isinstance(value, Mapping):
        if all(isinstance(k, str) and k.isidentifier() for k in value):
            return "dict(" + ", ".join(f"{k}={render(v)}" for k, v in value.items()) + ")"
        return "{" + ", ".join(f"{render(k)}: {render(v)}" for k, v in value.items()) + "}"
    if isinstance(value, tuple):
        return "(" + ", ".join(render(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, list):
        return "[" + ", ".join(render(v) for v in value) + "]"
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    raise TransformFailed(f"cannot write a value of type {type(value).__name__} into a config")


def subscript_chain(root: str, keys: Sequence[str | int]) -> str:
    """``model['train_cfg']['rpn_proposal']``: works on plain dicts and ConfigDicts alike."""
    return root + "".join(f"[{key!r}]" for key in keys)


def first_effective(
    context: TransformContext,
    candidates: Iterable[cst.Module | None],
    problem: Callable[[Mapping[str, Any]], str | None],
    intended: Sequence[str | re.Pattern[str]],
) -> cst.Module:
    """The first candidate whose resolved config has no ``problem`` and changes only ``intended`` keys.

    Candidates are generated lazily (each costs one mmengine load); ``None`` entries are skipped.
    Raises ``TransformFailed`` with the reason of the last rejection when none works.
    """
    before = context.resolve_config()
    reason = "no edit that mmengine honours was found"
    for candidate in candidates:
        if candidate is None:
            continue
        try:
            after = context.resolve_config(candidate.code)
        except ConfigUnavailable as exc:
            reason = f"the edit would not load: {exc}"
            continue
        left = problem(after)
        if left:
            reason = f"the edit did not take effect ({left})"
            continue
        _, unexpected = unexpected_changes(before, after, intended)
        if unexpected:
            reason = f"the edit would also change {', '.join(unexpected[:5])}"
            continue
        return candidate
    raise TransformFailed(reason)


def place_edits(
    context: TransformContext,
    module: cst.Module,
    edits: Sequence[ConfigEdit],
    problem: Callable[[Mapping[str, Any]], str | None],
    comment: str | Callable[[Sequence[ConfigEdit]], str | None] | None = None,
) -> cst.Module:
    """The smallest edit of ``module`` that makes its effective config carry ``edits``, proved by mmengine.

    Candidates, in order: every edit in this file's own definitions; those that can be made there
    plus an override for the rest (a merged ``root = dict(...)`` where the style merges, else an
    assignment or ``.pop`` on the inherited value), keys removed here popped from the base too;
    then overrides alone. ``comment`` goes above an override: text, or made from the edits it carries.
    The imports a :class:`Code` value needs are added to every candidate.
    """
    intended = [pattern for edit in edits for pattern in (edit.key, f"{edit.key}.*")]
    comment_for = comment if callable(comment) else lambda overridden: comment
    imports = [
        needed for edit in edits if isinstance(edit, SetKey) and isinstance(edit.value, Code)
        for needed in edit.value.imports
    ]
    candidates = _candidates(module, list(edits), comment_for)
    if imports:
        candidates = (import_names(module, candidate, imports) for candidate in candidates)
    return first_effective(context, candidates, problem, intended)


def _candidates(
    module: cst.Module, edits: list[ConfigEdit], comment: Callable[[Sequence[ConfigEdit]], str | None]
) -> Iterator[cst.Module]:
    seen = {module.code}
    in_place, rest = module, []
    for edit in edits:
        edited = _in_place(in_place, edit) or _in_own_statement(in_place, edit)
        if edited is None:
            rest.append(edit)
        else:
            in_place = edited
    # A key removed from this file's own definition may still come from a base.
    pops_too = [edit for edit in edits if isinstance(edit, PopKey) or edit in rest]
    starts = [(in_place, rest), (in_place, pops_too)] if len(rest) < len(edits) else []
    for start, remaining in [*starts, (module, edits)]:
        if not remaining:
            forms = [start]
        else:
            forms = [
                _merged_override(start, remaining, comment(remaining)),
                _assignment_override(start, remaining, comment(remaining)),
            ]
        for candidate in forms:
            if candidate is not None and candidate.code not in seen:
                seen.add(candidate.code)
                yield candidate


def _in_place(module: cst.Module, edit: ConfigEdit) -> cst.Module | None:
    """The edit made inside this file's own last ``<root> = dict(...)`` literal, or None."""
    found = last_assignment(module, edit.path[0])
    if found is None or len(edit.path) < 2:
        return None
    index, assign = found
    if isinstance(edit, SetKey):
        new_value = set_nested_value(assign.value, list(edit.path[1:]), cst.parse_expression(render(edit.value)))
    else:
        new_value = _without(assign.value, list(edit.path[1:]))
    return None if new_value is None else replace_assigned_value(module, index, new_value)


def _in_own_statement(module: cst.Module, edit: ConfigEdit) -> cst.Module | None:
    """The edit made in the last statement of this file that sets the key itself: a top-level
    ``root = value`` for a one-key path, ``_base_.a.b = v`` / ``a.b = v`` / ``a['b'] = v`` for the path,
    or a ``root.update(dict(...))`` / ``root.merge(...)`` literal that holds it; None where none does."""
    root, keys = edit.path[0], list(edit.path[1:])
    value = cst.parse_expression(render(edit.value)) if isinstance(edit, SetKey) else None
    if not keys:
        found = last_assignment(module, root) if value is not None else None
        return None if found is None else replace_assigned_value(module, found[0], value)
    for index in range(len(module.body) - 1, -1, -1):
        statement = module.body[index]
        if binds_name(statement, root):
            return None  # the file rebinds it here: what came before no longer counts
        one_line = isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1
        small = statement.body[0] if one_line else None
        if (
            isinstance(small, cst.Assign) and value is not None and len(small.targets) == 1
            and _key_path(small.targets[0].target) in ((root, *keys), ("_base_", root, *keys))
        ):
            return replace_assigned_value(module, index, value)
        call = small.value if isinstance(small, cst.Expr) else None
        if (
            isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and call.args
            and call.func.attr.value in ("update", "merge") and _key_path(call.func.value) == (root,)
            and _holds(call.args[0].value, keys)
        ):
            literal = call.args[0].value
            new_literal = _without(literal, keys) if value is None else set_nested_value(literal, keys, value)
            new_call = call.with_changes(args=[call.args[0].with_changes(value=new_literal), *call.args[1:]])
            new_statement = statement.with_changes(body=[small.with_changes(value=new_call)])
            return module.with_changes(body=[*module.body[:index], new_statement, *module.body[index + 1 :]])
    return None


def _key_path(target: cst.BaseExpression) -> tuple[str, ...] | None:
    """``('_base_', 'a', 'b')`` for ``_base_.a.b`` or ``_base_['a']['b']``; None for other expressions."""
    if isinstance(target, cst.Subscript) and len(target.slice) == 1 and isinstance(target.slice[0].slice, cst.Index):
        key, owner = string_value(target.slice[0].slice.value), _key_path(target.value)
        return None if key is None or owner is None else (*owner, key)
    name = dotted_name(target)
    return None if name is None else tuple(name.split("."))


def _holds(node: cst.BaseExpression, keys: Sequence[str]) -> bool:
    """Whether nested mapping literals hold the key path."""
    for key in keys:
        node = mapping_value(node, key) if is_mapping_literal(node) else None
        if node is None:
            return False
    return True


def _without(node: cst.BaseExpression, keys: list[str]) -> cst.BaseExpression | None:
    """``node`` with the nested key removed; None when this literal does not hold it."""
    if not is_mapping_literal(node):
        return None
    child = mapping_value(node, keys[0])
    if child is None:
        return None
    if len(keys) == 1:
        return remove_mapping_keys(node, [keys[0]])
    new_child = _without(child, keys[1:])
    return None if new_child is None else set_mapping_value(node, keys[0], new_child)


def _merged_override(module: cst.Module, edits: list[ConfigEdit], comment: str | None) -> cst.Module | None:
    """``_base_`` style: a new ``model = dict(...)`` merges into the inherited one (not for a name bound here)."""
    if config_style(module) is not ConfigStyle.BASE or any(isinstance(edit, PopKey) for edit in edits):
        return None  # a merge adds and replaces keys, it cannot remove one
    roots: dict[str, cst.BaseExpression] = {}
    for edit in edits:
        root, keys, value = edit.path[0], list(edit.path[1:]), cst.parse_expression(render(edit.value))
        if not keys or any(binds_name(statement, root) for statement in module.body):
            return None
        roots[root] = set_nested_value(roots[root], keys, value) if root in roots else nested_dict_call(keys, value)
    code = "".join(f"{root} = {cst.Module(body=[]).code_for_node(value)}\n" for root, value in roots.items())
    return append_statements(module, code, comment=comment)


def _assignment_override(module: cst.Module, edits: list[ConfigEdit], comment: str | None) -> cst.Module | None:
    """Assign (or pop) the key itself: ConfigDict attributes in new style; in old style on the
    inherited ``_base_`` value, or keys of the name this file binds (a pop there would leave the
    base's key to come back in the merge); a one-key path is assigned as a name."""
    lazy = config_style(module) is ConfigStyle.LAZY
    lines = []
    for edit in edits:
        root, keys = edit.path[0], edit.path[1:]
        owner_keys = keys if isinstance(edit, SetKey) else keys[:-1]
        if not keys:
            if isinstance(edit, PopKey):
                return None  # a top-level name cannot be taken out of a config
            lines.append(f"{root} = {render(edit.value)}")
            continue
        if lazy:
            target = ".".join((root, *owner_keys))
        elif isinstance(edit, SetKey) and any(binds_name(statement, root) for statement in module.body):
            target = subscript_chain(root, owner_keys)
        else:
            target = ".".join(("_base_", root, *owner_keys))
        if isinstance(edit, SetKey):
            lines.append(f"{target} = {render(edit.value)}")
        else:
            lines.append(f"{target}.pop({edit.path[-1]!r}, None)")
    return append_statements(module, "\n".join(lines) + "\n", comment=comment)
