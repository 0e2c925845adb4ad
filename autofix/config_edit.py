"""Editing mmengine configs so that the *effective* config changes, proved by mmengine itself.

Rules declare edits (:class:`~autofix.rule.SetKey`, :class:`~autofix.rule.PopKey`,
:class:`~autofix.rule.ReplaceKey`); :func:`place_edits` proposes candidate texts in order of preference (edit the definition in this
file, else append the smallest override this file's style honours) and keeps the first one whose
resolved config passes the rule's check and changes nothing beyond the edited keys. Nothing here
re-implements mmengine's merge rules: every candidate is resolved by mmengine.
"""

from __future__ import annotations

import enum
import keyword
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

import libcst as cst

from autofix.cst_helpers import (
    ReplaceNodes,
    dotted_name,
    import_names,
    is_mapping_literal,
    literal_value,
    mapping_value,
    name_loads,
    nested_dict_call,
    node_code,
    quoted_like,
    remove_mapping_keys,
    set_mapping_value,
    set_nested_value,
    string_value,
)
from autofix.mmconfig import ConfigUnavailable, unexpected_changes, value_at
from autofix.provenance import (
    NO_VALUE,
    Source,
    assigned_name,
    binds_name,
    last_assignment,
    mapping_items,
    sequence_items,
    trace,
)
from autofix.rule import (
    Code,
    ConfigEdit,
    KeyPath,
    PopKey,
    ReplaceKey,
    SetKey,
    TransformContext,
    TransformFailed,
    edited_keys,
)


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
    return any(assigned_name(statement) == "_base_" for statement in module.body)


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


def attribute_chain(path: KeyPath) -> str:
    """``train_dataloader.dataset.pipeline[3].prob``: readable, and Python for a config's names."""
    text = ""
    for key in path:
        if isinstance(key, int):
            text += f"[{key}]"
        elif key.isidentifier() and not keyword.iskeyword(key) and not hasattr(dict, key):
            text += f".{key}" if text else key
        else:
            text += f"[{key!r}]"
    return text


def _first_effective(
    context: TransformContext,
    candidates: Iterable[tuple[cst.Module, str]],
    problem: Callable[[Mapping[str, Any]], str | None],
    intended: Sequence[str | re.Pattern[str]],
) -> cst.Module:
    """The first candidate whose resolved config has no ``problem`` and changes only ``intended`` keys.

    Candidates (each with its code) are generated lazily: each costs one mmengine load. Raises
    ``TransformFailed`` with the reason of the last rejection when none works.
    """
    before = context.resolve_config()
    reason = "no edit that mmengine honours was found"
    for candidate, code in candidates:
        try:
            after = context.resolve_config(code)
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

    Candidates, in order: each value changed where this file writes it (a variable at its definition
    when only the edited keys read it, else where it is read), the other edits in this file's own
    definitions or statements, and an override for the rest (keys removed here popped from the base
    too); then overrides alone. An override is a merged ``root = dict(...)`` where the style merges,
    else an assignment or ``.pop`` on the inherited value; a list changes item by item
    (``_base_.a.b[2].c = v``, through ``{{_base_.x}}`` where the file takes the value from there).
    ``comment`` goes above an override: text, or made from the edits it carries. The imports a
    :class:`Code` value needs are added to every candidate.
    """
    before = context.resolve_config()
    comment_for = comment if callable(comment) else lambda overridden: comment
    imports = [
        needed for edit in edits if isinstance(edit, SetKey) and isinstance(edit.value, Code)
        for needed in edit.value.imports
    ]
    replacements = [edit for edit in edits if isinstance(edit, ReplaceKey)]
    if replacements:
        if len(replacements) < len(edits):
            raise TransformFailed("a replaced key cannot be planned together with other edits")
        candidates = _replacement_candidates(module, replacements, before, comment_for(replacements))
        problem = _also_replaced(problem, replacements)
    else:
        candidates = _candidates(module, list(edits), before, comment_for)
    if imports:
        candidates = (import_names(module, candidate, imports) for candidate in candidates if candidate is not None)
    return _first_effective(context, _distinct(candidates, context.text), problem, edited_keys(before, edits))


def _distinct(candidates: Iterable[cst.Module | None], original: str) -> Iterator[tuple[cst.Module, str]]:
    """Each candidate with its code, once: not the file as it is, nor a text already tried."""
    seen = {original}
    for candidate in candidates:
        if candidate is not None:
            code = candidate.code
            if code not in seen:
                seen.add(code)
                yield candidate, code


def _candidates(
    module: cst.Module,
    edits: list[ConfigEdit],
    config: Mapping[str, Any],
    comment: Callable[[Sequence[ConfigEdit]], str | None],
) -> Iterator[cst.Module | None]:
    set_keys = [edit for edit in edits if isinstance(edit, SetKey)]
    traced = trace(module, {edit.path: value_at(config, edit.path, NO_VALUE) for edit in set_keys})
    changes = _changes(traced.sources, {edit.path: edit.value for edit in set_keys})
    at_reads = {source.node: rewrite_literal(source.node, source.value, new) for source, new in changes}
    shared = _shared_definitions(module, changes)
    at_definitions = {
        node: edit for node, edit in at_reads.items() if not (isinstance(node, cst.Name) and node.value in shared)
    }
    at_definitions.update(
        {definition: rewrite_literal(definition, old, new) for definition, old, new in shared.values()}
    )
    units = _units(edits, config)
    unwritten = [unit for unit in units if not any(_overlap(source.path, unit.path) for source, _ in changes)]
    starts = []
    # The same replacements twice (no variable shared) would make the same candidates: a second
    # whole-tree visit and in-place search for nothing.
    for replacements in [at_definitions, *([at_reads] if at_reads != at_definitions else [])]:
        start, rest = module.visit(ReplaceNodes(replacements)) if replacements else module, []
        for unit in unwritten:
            edited = _in_place(start, unit) or _in_own_statement(start, unit)
            if edited is None:
                rest.append(unit)
            else:
                start = edited
        if len(rest) < len(units):
            starts.append((start, rest))
            # A key removed from this file's own definition may still come from a base.
            pops_too = [unit for unit in units if isinstance(unit, PopKey) or unit in rest]
            if pops_too != rest:
                starts.append((start, pops_too))
    for start, remaining in [*starts, (module, units)]:
        yield from _overrides(start, remaining, traced.base_references, comment(remaining)) if remaining else [start]


def _units(edits: Sequence[ConfigEdit], config: Mapping[str, Any]) -> list[ConfigEdit]:
    """The edits, a list replaced by one of the same length split into its changed items: only they
    are overridden, so that a base's other items stay as they are."""
    units: list[ConfigEdit] = []
    for edit in edits:
        old = value_at(config, edit.path)
        if isinstance(edit, SetKey) and isinstance(old, list) and isinstance(edit.value, list) and len(old) == len(edit.value):
            units += [SetKey((*edit.path, i), new) for i, (item, new) in enumerate(zip(old, edit.value)) if item != new]
        else:
            units.append(edit)
    return units


def _overlap(path: KeyPath, other: KeyPath) -> bool:
    return path[: len(other)] == other or other[: len(path)] == path


def _changes(sources: Sequence[Source], values: Mapping[KeyPath, Any]) -> list[tuple[Source, Any]]:
    """(source, its new value) for each source the edits change."""
    found = []
    for source in sources:
        new = value_at(values[source.traced], source.path[len(source.traced):], NO_VALUE)
        if new is not NO_VALUE and new != source.value:
            found.append((source, new))
    return found


def _shared_definitions(
    module: cst.Module, changes: Sequence[tuple[Source, Any]]
) -> dict[str, tuple[cst.BaseExpression, Any, Any]]:
    """Variables (``backend_args=backend_args``) whose every reader in the file is an edited key needing
    the same new value: name -> (the literal in its definition, its value, the new value)."""
    readers: dict[str, list[tuple[Source, Any]]] = {}
    for source, new in changes:
        if isinstance(source.node, cst.Name):
            readers.setdefault(source.node.value, []).append((source, new))
    chosen = {}
    for name, reads in readers.items():
        first, new = reads[0]
        if any((source.value, other) != (first.value, new) for source, other in reads):
            continue
        if {id(node) for node in name_loads(module, name)} != {id(source.node) for source, _ in reads}:
            continue  # also read by a key that must not change
        found = last_assignment(module, name)
        if found is not None and literal_value(found[1].value, NO_VALUE) == first.value:
            chosen[name] = (found[1].value, first.value, new)
    return chosen


def rewrite_literal(node: cst.BaseExpression, old: Any, new: Any) -> cst.BaseExpression:
    """``node`` (worth ``old``) rewritten to ``new``: a literal keeps its layout and unchanged parts;
    anything else (a variable, ``_base_.x``, an expression) becomes the new literal."""
    if old == new:
        return node
    if (
        isinstance(node, (cst.List, cst.Tuple))
        and isinstance(old, (tuple, list))
        and isinstance(new, (tuple, list))
        and len(sequence_items(node)) == len(node.elements) == len(old) == len(new)
        and literal_value(node, NO_VALUE) == old
    ):
        return node.with_changes(
            elements=[
                element.with_changes(value=rewrite_literal(element.value, item_old, item_new))
                for element, item_old, item_new in zip(node.elements, old, new)
            ]
        )
    return quoted_like(node, cst.parse_expression(render(new)))


def _in_place(module: cst.Module, edit: ConfigEdit) -> cst.Module | None:
    """The edit made inside this file's own last ``<root> = dict(...)`` literal (into the items of
    its list literals too: Co-DETR's ``train_cfg=[dict(...), ...]``), or None."""
    found = last_assignment(module, edit.path[0])
    if found is None or len(edit.path) < 2:
        return None
    index, assign = found
    value = cst.parse_expression(render(edit.value)) if isinstance(edit, SetKey) else None
    new_value = _edited(assign.value, list(edit.path[1:]), value)
    return None if new_value is None else replace_assigned_value(module, index, new_value)


def _edited(
    node: cst.BaseExpression, keys: list[str | int], value: cst.BaseExpression | None
) -> cst.BaseExpression | None:
    """``node`` with the nested key set to ``value`` (removed when None), through mapping literals and
    the items of list or tuple literals; None where a level on the way is not a literal that has it."""
    head, rest = keys[0], keys[1:]
    if isinstance(head, int):
        items = sequence_items(node)
        if not rest or head >= len(items):
            return None  # a whole item is changed where the file writes it, or overridden
        new_item = _edited(items[head], rest, value)
        if new_item is None:
            return None
        elements = list(node.elements)
        elements[head] = elements[head].with_changes(value=new_item)
        return node.with_changes(elements=elements)
    if not any(isinstance(key, int) for key in rest):
        return set_nested_value(node, keys, value) if value is not None else _without(node, keys)
    child = mapping_value(node, head) if is_mapping_literal(node) else None
    new_child = None if child is None else _edited(child, rest, value)
    return None if new_child is None else set_mapping_value(node, head, new_child)


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
        holder, target = _written_mapping(small)
        if isinstance(small, cst.Assign) and value is not None and target in ((root, *keys), ("_base_", root, *keys)):
            return replace_assigned_value(module, index, value)
        if isinstance(small, cst.Expr) and target == (root,) and _literal_at(holder.value, keys) is not None:
            literal = holder.value
            new_literal = _without(literal, keys) if value is None else set_nested_value(literal, keys, value)
            new_call = small.value.with_changes(args=[holder.with_changes(value=new_literal)])
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


def _literal_at(node: cst.BaseExpression, keys: Sequence[str]) -> cst.BaseExpression | None:
    """What nested mapping literals hold at the key path; None where they do not hold it."""
    for key in keys:
        node = mapping_value(node, key) if is_mapping_literal(node) else None
        if node is None:
            return None
    return node


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


def _overrides(
    module: cst.Module, edits: list[ConfigEdit], references: Mapping[KeyPath, KeyPath], comment: str | None
) -> Iterator[cst.Module | None]:
    if not any(isinstance(key, int) for edit in edits for key in edit.path):
        yield _merged_override(module, edits, comment)
        yield _assignment_override(module, edits, comment)
        return
    referenced = [replace(edit, path=_through_base_references(edit.path, references)) for edit in edits]
    for variant in [referenced, edits] if referenced != edits else [edits]:
        for root, attributes in _indexed_forms(module, variant):
            yield append_statements(module, _indexed_assignments(variant, root, attributes), comment)


def _through_base_references(path: KeyPath, references: Mapping[KeyPath, KeyPath]) -> KeyPath:
    """The path re-addressed to where this file takes the value from: a pipeline written as
    ``{{_base_.train_pipeline}}`` is only reachable as ``_base_.train_pipeline[...]``."""
    for length in range(len(path), 0, -1):
        if path[:length] in references:
            return (*references[path[:length]], *path[length:])
    return path


def _indexed_forms(module: cst.Module, edits: Sequence[ConfigEdit]) -> list[tuple[str | None, bool]]:
    """(root, attribute form?) pairs mmengine may honour for assignments through list items, in order."""
    roots = {str(edit.path[0]) for edit in edits}
    forms: list[tuple[str | None, bool]] = []
    if "_base_" not in roots and config_style(module) is ConfigStyle.BASE and inherits(module):
        forms += [("_base_", True), ("_base_", False)]  # the inherited dicts are ConfigDicts
    if all(any(binds_name(statement, root) for statement in module.body) for root in roots):
        forms += [(None, True), (None, False)]  # an old-style file's own dicts are plain dicts
    return forms


def _indexed_assignments(edits: Sequence[ConfigEdit], root: str | None, attributes: bool) -> str:
    """``_base_.train_dataloader.dataset.pipeline[3].prob = 0.5`` and the like."""
    lines = []
    for edit in edits:
        keys = edit.path if root is None else (root, *edit.path)
        if isinstance(edit, PopKey):
            keys = keys[:-1]
        target = attribute_chain(keys) if attributes else subscript_chain(str(keys[0]), keys[1:])
        lines.append(f"{target} = {render(edit.value)}\n" if isinstance(edit, SetKey)
                     else f"{target}.pop({edit.path[-1]!r}, None)\n")
    return "".join(lines)


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
    code = "".join(f"{root} = {node_code(value)}\n" for root, value in roots.items())
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


def _also_replaced(
    problem: Callable[[Mapping[str, Any]], str | None], replacements: Sequence[ReplaceKey]
) -> Callable[[Mapping[str, Any]], str | None]:
    """``problem``, and a replaced key whose effective value is not exactly the declared one (a base's
    keys still merged in)."""

    def left(config: Mapping[str, Any]) -> str | None:
        wrong = [edit.key for edit in replacements if value_at(config, edit.path, NO_VALUE) != edit.value]
        return problem(config) or (f"{', '.join(wrong)} still differs from the replacement" if wrong else None)

    return left


def _replacement_candidates(
    module: cst.Module, replacements: Sequence[ReplaceKey], config: Mapping[str, Any], comment: str | None
) -> Iterator[cst.Module | None]:
    """Where this file writes the mapping, it is rewritten to the replacement: its own keys kept as
    written, then with ``_delete_=True`` (old style: the bases' keys no longer merge in; in new style
    only rebinding replaces). Else an override: a merged ``root = dict(k=dict(_delete_=True, ...))``;
    the keys that differ popped or set (``root.k.pop('x', None)``: new style keeps the names it
    imported, ``type=AdamW``); an assignment of the whole mapping (``_base_.root.k = dict(...)``)."""
    deletes = (False, True) if config_style(module) is ConfigStyle.BASE else (False,)
    for delete in deletes:
        edited: cst.Module | None = module
        for edit in replacements:
            edited = None if edited is None else _replaced_where_written(edited, edit, delete)
        yield edited
    with_delete = [SetKey(edit.path, {"_delete_": True, **edit.value}) for edit in replacements]
    yield _merged_override(module, with_delete, comment)
    key_by_key: list[ConfigEdit] = []
    for edit in replacements:
        old = value_at(config, edit.path, {})
        key_by_key += [PopKey((*edit.path, key)) for key in old if key not in edit.value]
        key_by_key += [SetKey((*edit.path, key), value) for key, value in edit.value.items()
                       if old.get(key, NO_VALUE) != value]
    yield _assignment_override(module, key_by_key, comment)
    yield _assignment_override(module, [SetKey(edit.path, dict(edit.value)) for edit in replacements], comment)
    yield _assignment_override(module, with_delete, comment)


def _replaced_where_written(module: cst.Module, edit: ReplaceKey, delete: bool) -> cst.Module | None:
    """The last mapping literal this file writes at ``edit.path`` (``root = dict(...)`` and the
    literals nested in it, ``_base_.root.k = dict(...)``, ``root.update(dict(...))``) rewritten to
    the replacement; None where the file writes no such literal."""
    root = edit.path[0]
    for index in range(len(module.body) - 1, -1, -1):
        statement = module.body[index]
        small = statement.body[0] if isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1 else None
        holder, target = _written_mapping(small)
        if target and target[0] == "_base_":
            target = target[1:]
        if target and target[0] == root:
            if len(target) > len(edit.path) or edit.path[: len(target)] != target:
                return None  # a key inside the mapping is set after any literal of it
            rest = [str(key) for key in edit.path[len(target):]]
            literal = _literal_at(holder.value, rest)
            new_literal = _rewritten_mapping(literal, edit.value, delete) if is_mapping_literal(literal) else None
            if new_literal is None:
                return None
            new_value = set_nested_value(holder.value, rest, new_literal) if rest else new_literal
            new_small = (small.with_changes(value=new_value) if isinstance(small, cst.Assign)
                         else small.with_changes(value=small.value.with_changes(args=[holder.with_changes(value=new_value)])))
            return module.with_changes(body=[*module.body[:index], statement.with_changes(body=[new_small]),
                                             *module.body[index + 1:]])
        if binds_name(statement, root):
            return None
    return None


def _written_mapping(small: cst.BaseSmallStatement | None) -> tuple[Any, KeyPath | None]:
    """(what holds the written value, the key path it writes) for ``a.b = v`` and ``a.update(v)`` /
    ``a.merge(v)``: the Assign or the call's only Arg, whose ``.value`` is ``v``."""
    if isinstance(small, cst.Assign) and len(small.targets) == 1:
        return small, _key_path(small.targets[0].target)
    call = small.value if isinstance(small, cst.Expr) else None
    if (
        isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and len(call.args) == 1
        and call.args[0].keyword is None and call.func.attr.value in ("update", "merge")
    ):
        return call.args[0], _key_path(call.func.value)
    return None, None


def _rewritten_mapping(node: cst.BaseExpression, value: Mapping[str, Any], delete: bool) -> cst.BaseExpression | None:
    """A mapping literal made to hold exactly ``value``: keys it lacks are dropped, keys written as
    literals of another value rewritten (nested mappings key by key), missing keys added, and
    ``_delete_=True`` first or dropped; None for a literal with ``**`` or positional parts."""
    written = mapping_items(node)
    parts = node.args if isinstance(node, cst.Call) else node.elements
    if len(written) != len(parts):
        return None
    new = remove_mapping_keys(node, [key for key in written if key not in value and (key != "_delete_" or not delete)])
    for key, wanted in value.items():
        old = written.get(key)
        if old is not None and is_mapping_literal(old) and isinstance(wanted, Mapping):
            child = _rewritten_mapping(old, wanted, delete=False)
            if child is None:
                return None
            new = set_mapping_value(new, key, child)
        elif old is None or literal_value(old, NO_VALUE) not in (wanted, NO_VALUE):
            new = set_mapping_value(new, key, cst.parse_expression(render(wanted)))
    if delete and "_delete_" not in written:
        new = _with_delete_first(new)
    return new


def _with_delete_first(node: cst.Call | cst.Dict) -> cst.Call | cst.Dict:
    """``dict(_delete_=True, ...)``: where mmdet's configs put it, on the first line of a wrapped literal."""
    if isinstance(node, cst.Dict) or not node.args:
        return set_mapping_value(node, "_delete_", cst.Name("True"))
    flag = cst.Arg(
        keyword=cst.Name("_delete_"), value=cst.Name("True"),
        equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")),
        comma=cst.Comma(whitespace_after=node.whitespace_before_args if isinstance(
            node.whitespace_before_args, cst.ParenthesizedWhitespace) else cst.SimpleWhitespace(" ")),
    )
    return node.with_changes(args=[flag, *node.args])
