"""The optimizer group: 2.x ``optimizer``, ``optimizer_config`` and ``fp16`` become one ``optim_wrapper``.

## What it maps
- R18: ``optimizer=dict(type, lr, ...)`` + ``optimizer_config=dict(grad_clip=G)`` ->
  ``optim_wrapper=dict(type='OptimWrapper', optimizer=dict(type, lr, ...), clip_grad=G)``
  (``grad_clip=None`` writes no ``clip_grad``, as the official ports do).
- R30: ``optimizer.paramwise_cfg`` and ``optimizer.constructor`` move up to ``optim_wrapper``
  (``DefaultOptimizerConstructor`` is named ``DefaultOptimWrapperConstructor`` in mmengine).
- R31: ``fp16=dict(loss_scale=X)`` -> ``type='AmpOptimWrapper', loss_scale=X`` (X a number,
  ``'dynamic'`` or a GradScaler dict; mmcv's default 512. is written out, since mmengine's is
  ``'dynamic'``); ``optimizer_config=dict(type='Fp16OptimizerHook', loss_scale=X)`` likewise.
- ``optimizer_config=dict(type='GradientCumulativeOptimizerHook', cumulative_iters=N)`` ->
  ``accumulative_counts=N`` (``GradientCumulativeFp16OptimizerHook``: both).
- A child overrides in part: ``optimizer=dict(lr=0.01)`` over a migrated base ->
  ``optim_wrapper=dict(optimizer=dict(lr=0.01))``. Each part of the wrapper is checked against
  the 2.x meaning (``FileMigration.old``): ``_delete_=True`` on ``optimizer`` replaces the
  optimizer and drops the base's ``paramwise_cfg`` (2.x kept it inside ``optimizer``) but keeps the
  base's ``grad_clip``; ``_delete_=True`` on ``optimizer_config`` replaces ``clip_grad`` only. A
  part the base has and 2.x no longer does is reset to mmengine's neutral value (``clip_grad=None``),
  or, with none (``loss_scale`` once ``fp16=None``), the wrapper is rewritten whole with ``_delete_=True``.
  A 2.x ``optimizer_config``/``fp16`` over a 3.x base ``optim_wrapper`` overrides that wrapper.

## Refused (left as written, named in the file's notes)
- ``optimizer_config.type``: a hook other than OptimizerHook, Fp16OptimizerHook,
  GradientCumulativeOptimizerHook and GradientCumulativeFp16OptimizerHook.
- ``optimizer_config.<key>`` / ``fp16.<key>``: an argument with no OptimWrapper equivalent
  (``detect_anomalous_params``, ``coalesce``, ``bucket_size_mb``, ``distributed``...).
- ``optimizer.constructor``: a constructor mmengine/mmdet 3.x does not register under that name.
- ``fp16``: ``fp16`` together with a typed ``optimizer_config`` (mmdet 2.x passes both to
  Fp16OptimizerHook, which fails on ``type``).
- ``optimizer`` / ``optimizer_config`` / ``fp16`` in a file that writes ``optim_wrapper`` too.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from autofix.config_edit import render
from autofix.cst_helpers import (
    dict_call_keys,
    dict_literal_keys,
    is_mapping_literal,
    is_true,
    mapping_value,
    node_code,
    remove_mapping_keys,
)
from autofix.migration import FileMigration, Step
from autofix.rule import Example

DELETE = "_delete_"
_DEFAULT_LOSS_SCALE = 512.0  # mmcv 1.x Fp16OptimizerHook's default; mmengine's AmpOptimWrapper defaults to 'dynamic'
# 2.x optimizer-hook type -> (fp16, gradient accumulation)
_HOOKS = {
    "OptimizerHook": (False, False),
    "Fp16OptimizerHook": (True, False),
    "GradientCumulativeOptimizerHook": (False, True),
    "GradientCumulativeFp16OptimizerHook": (True, True),
}
_CONSTRUCTORS = {
    "DefaultOptimizerConstructor": "DefaultOptimWrapperConstructor",
    "LearningRateDecayOptimizerConstructor": "LearningRateDecayOptimizerConstructor",  # mmdet 3.x registers it
}
# A wrapper part with this value is as good as absent (mmengine's defaults), so a base's part is reset with it.
_NEUTRAL = {"clip_grad": None, "paramwise_cfg": None, "constructor": "DefaultOptimWrapperConstructor",
            "accumulative_counts": 1}
_PARTS = ("type", "optimizer", "paramwise_cfg", "constructor", "clip_grad", "loss_scale", "accumulative_counts")
_MISSING = object()
_SOURCES = ("optimizer", "optimizer_config", "fp16")  # kept whole when refused: the file keeps its 2.x meaning


def without_delete(value: Any) -> Any:
    """A resolved value without the ``_delete_`` flags mmengine leaves where no base had the key."""
    if isinstance(value, Mapping):
        return {key: without_delete(item) for key, item in value.items() if key != DELETE}
    return value


# --- the 3.x wrapper a resolved 2.x config means ------------------------------------------------------


def wrapper_for(
    fm: FileMigration, old: Mapping[str, Any], base: Mapping[str, Any] | None = None
) -> dict[str, Any] | None:
    """The ``optim_wrapper`` equivalent to the resolved 2.x ``old`` (refusing through ``fm``), or None.
    Without a 2.x ``optimizer``, ``old``'s hook and fp16 keys apply to the 3.x ``base`` wrapper (a 2.x
    child of a 3.x base)."""
    old = {name: without_delete(old.get(name)) for name in _SOURCES if name in old}
    optimizer = old.get("optimizer")
    if isinstance(optimizer, Mapping):
        wrapper: dict[str, Any] = {"type": "OptimWrapper"}
        wrapper["optimizer"] = {k: v for k, v in optimizer.items() if k not in ("paramwise_cfg", "constructor")}
        if optimizer.get("paramwise_cfg") is not None:
            wrapper["paramwise_cfg"] = optimizer["paramwise_cfg"]
        constructor = optimizer.get("constructor")
        if constructor is not None:
            if constructor not in _CONSTRUCTORS:
                fm.refuse("optimizer.constructor", f"{constructor} is not a 3.x optim wrapper constructor",
                          keep=_SOURCES)
                return None
            wrapper["constructor"] = _CONSTRUCTORS[constructor]
    elif base is not None and ("optimizer_config" in old or "fp16" in old):
        replaced = ("clip_grad", "accumulative_counts") if "optimizer_config" in old else ()
        wrapper = {part: value for part, value in base.items() if part not in replaced}
    else:
        return None
    hook = dict(old.get("optimizer_config") or {})
    fp16 = old.get("fp16")
    hook_type = hook.pop("type", "OptimizerHook")
    if hook_type not in _HOOKS:
        fm.refuse("optimizer_config.type", f"{hook_type} has no OptimWrapper equivalent", keep=_SOURCES)
        return None
    amp, cumulative = _HOOKS[hook_type]
    if fp16 is not None and "type" in (old.get("optimizer_config") or {}):
        fm.refuse("fp16", "mmdet 2.x cannot build fp16 with a typed optimizer_config", keep=_SOURCES)
        return None
    allowed = {"grad_clip"} | ({"loss_scale"} if amp else set()) | ({"cumulative_iters"} if cumulative else set())
    foreign = [f"optimizer_config.{key}" for key in hook if key not in allowed]
    foreign += [f"fp16.{key}" for key in (fp16 or {}) if key != "loss_scale"]
    if foreign:
        for construct in foreign:
            fm.refuse(construct, "no OptimWrapper argument does this", keep=_SOURCES)
        return None
    if hook.get("grad_clip") is not None:
        wrapper["clip_grad"] = hook["grad_clip"]
    if amp or fp16 is not None:
        wrapper["type"] = "AmpOptimWrapper"
        wrapper["loss_scale"] = (fp16 if fp16 is not None else hook).get("loss_scale", _DEFAULT_LOSS_SCALE)
    if cumulative:
        wrapper["accumulative_counts"] = hook.get("cumulative_iters", 1)
    return {part: value for part, value in wrapper.items() if _NEUTRAL.get(part, _MISSING) != value}


# --- writing it with the file's own expressions ---------------------------------------------------------


def _written_parts(fm: FileMigration) -> dict[str, tuple[cst.BaseExpression, bool]]:
    """The wrapper parts this file writes: part -> (its 2.x expression, whether it replaces the base's part)."""
    parts: dict[str, tuple[cst.BaseExpression, bool]] = {}
    optimizer = fm.written("optimizer")
    if is_mapping_literal(optimizer):
        replaced = _deletes(optimizer)
        moved = [key for key in ("paramwise_cfg", "constructor") if mapping_value(optimizer, key) is not None]
        kept = remove_mapping_keys(optimizer, moved) if moved else optimizer
        parts["optimizer"] = (kept, replaced)
        for key in moved:
            parts[key] = (mapping_value(optimizer, key), replaced)
    hook = fm.written("optimizer_config")
    if is_mapping_literal(hook):
        replaced = _deletes(hook)
        for key, part in (("grad_clip", "clip_grad"), ("cumulative_iters", "accumulative_counts"),
                          ("loss_scale", "loss_scale")):
            if mapping_value(hook, key) is not None:
                parts[part] = (mapping_value(hook, key), replaced)
    fp16 = fm.written("fp16")
    if is_mapping_literal(fp16) and mapping_value(fp16, "loss_scale") is not None:
        parts["loss_scale"] = (mapping_value(fp16, "loss_scale"), _deletes(fp16))
    return parts


def _deletes(node: cst.BaseExpression) -> bool:
    return is_true(mapping_value(node, DELETE))


def _without_delete(node: cst.BaseExpression) -> cst.BaseExpression:
    return remove_mapping_keys(node, [DELETE]) if is_mapping_literal(node) else node


def _key_tree(node: cst.BaseExpression) -> dict[str, Any] | None:
    """The keys a dict literal writes, nested; None for a value that replaces whatever it overrides."""
    if isinstance(node, cst.Call):
        keys = dict_call_keys(node)
        items = None if keys is None else {name: arg.value for name, arg in keys.items()}
    elif isinstance(node, cst.Dict):
        items = {name: element.value for name, element in dict_literal_keys(node).items()}
    else:
        return None
    if items is None or is_true(items.get(DELETE)):
        return None
    return {name: _key_tree(value) for name, value in items.items() if name != DELETE}


def reproduces(tree: dict[str, Any] | None, base: Any, target: Any) -> bool:
    """Whether a literal with keys ``tree`` (its values being ``target``'s there) written over ``base``
    gives ``target`` under mmengine's rule: dicts update dicts key by key, anything else replaces."""
    if tree is None:
        return True
    if not isinstance(target, Mapping) or not isinstance(base, Mapping):
        return False  # mmengine refuses a dict over a non-dict without _delete_
    for key in {*target, *base}:
        if key in tree:
            if key not in target or not reproduces(tree[key], base.get(key, {}), target[key]):
                return False
        elif base.get(key, _MISSING) != target.get(key, _MISSING):
            return False
    return True


def deleting(node: cst.BaseExpression) -> str:
    """``node`` (a dict literal) replacing what it overrides: ``dict(_delete_=True, ...)``."""
    if not isinstance(node, cst.Call) or _deletes(node):
        return node_code(node)
    code = node_code(node)
    opened = code.index("(") + 1
    return f"{code[:opened]}{DELETE}=True{', ' if node.args else ''}{code[opened:]}"


def rendered(wanted: Any, given: Any) -> str:
    """``wanted`` as a literal; a dict replaces what the base has there."""
    if isinstance(wanted, Mapping) and given is not _MISSING:
        return render({DELETE: True, **wanted})
    return render(wanted)


def part_source(node: cst.BaseExpression, replaces: bool, given: Any, wanted: Any) -> str:
    """The file's own expression for a wrapper part, made to give ``wanted`` over the base's ``given``."""
    tree = _key_tree(node)
    if reproduces(tree, {} if given is _MISSING else given, wanted):
        return node_code(node)
    if (replaces or reproduces(tree, {}, wanted)) and isinstance(node, cst.Call):
        return deleting(node)
    return rendered(wanted, given)


def dict_source(name: str, items: list[tuple[str, str]]) -> str:
    """``dict(k=v, ...)`` for ``name = ...`` on one line where it fits, else one item a line (yapf's
    layout in the official ports)."""
    flat = f"dict({', '.join(f'{key}={value}' for key, value in items)})"
    if len(f"{name} = {flat}") <= 79 and "\n" not in flat:
        return flat
    return "dict(\n" + ",\n".join(f"    {key}={indented(value)}" for key, value in items) + ")"


def indented(code: str) -> str:
    """A multi-line expression moved one level in: its continuation lines too (strings left intact)."""
    moved = code.replace("\n", "\n    ")
    return moved if ast.dump(ast.parse(moved, mode="eval")) == ast.dump(ast.parse(code, mode="eval")) else code


def wrapper_override(
    target: Mapping[str, Any], base: Mapping[str, Any] | None, written: Mapping[str, tuple[cst.BaseExpression, bool]]
) -> str | None:
    """Source of the ``optim_wrapper`` value that, written over ``base``, gives ``target``: the parts
    that differ (and those the file writes) when it can be partial, else the whole with ``_delete_``."""
    if base is not None:
        base = {part: value for part, value in base.items() if _NEUTRAL.get(part, _MISSING) != value}
    if base is None or any(part not in target and part not in _NEUTRAL for part in base):
        # No base wrapper, or one with a part 2.x lost and mmengine has no neutral value for
        # (``loss_scale`` of a plain OptimWrapper): the whole wrapper.
        items = [] if base is None else [(DELETE, "True")]
        for part in _PARTS:
            if part in target:
                node, replaces = written.get(part, (None, False))
                if node is not None and reproduces(None if replaces else _key_tree(node), {}, target[part]):
                    items.append((part, node_code(_without_delete(node))))
                else:
                    items.append((part, render(target[part])))
        return dict_source("optim_wrapper", items)
    items = []
    for part in _PARTS:
        wanted, given = target.get(part, _MISSING), base.get(part, _MISSING)
        if part not in written and wanted == given:
            continue
        if wanted is _MISSING:
            items.append((part, render(_NEUTRAL[part])))
        elif part in written:
            items.append((part, part_source(*written[part], given, wanted)))
        else:
            items.append((part, rendered(wanted, given)))
    return dict_source("optim_wrapper", items) if items else None


def migrate_optimizer(fm: FileMigration) -> None:
    written_sources = [name for name in _SOURCES if fm.written(name) is not None]
    if fm.written("optim_wrapper") is not None:
        if written_sources:
            fm.refuse(written_sources[0], "the file writes optim_wrapper as well", keep=_SOURCES)
        return  # a 3.x file
    base = fm.base.get("optim_wrapper")
    target = wrapper_for(fm, fm.old, base)
    if target is None:
        return
    value = wrapper_override(target, base, _written_parts(fm))
    if value is not None:
        fm.set("optim_wrapper", value, replacing=_SOURCES)


STEPS = (
    Step(
        id="R18, R30, R31",
        summary="optimizer + optimizer_config + fp16 -> optim_wrapper (OptimWrapper / AmpOptimWrapper)",
        run=migrate_optimizer,
        examples=(
            Example(
                title="R18: a schedule base",
                before="""
                # optimizer
                optimizer = dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001)
                optimizer_config = dict(grad_clip=None)
                """,
                after="""
                # optimizer
                optim_wrapper = dict(
                    type='OptimWrapper',
                    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001))
                """,
            ),
            Example(
                title="R18, R30, R31: grad_clip, paramwise_cfg and fp16",
                before="""
                optimizer = dict(
                    type='AdamW',
                    lr=0.0001,
                    weight_decay=0.05,
                    paramwise_cfg=dict(norm_decay_mult=0.0))
                optimizer_config = dict(grad_clip=dict(max_norm=0.1, norm_type=2))
                fp16 = dict(loss_scale=dict(init_scale=512))
                """,
                after="""
                optim_wrapper = dict(
                    type='AmpOptimWrapper',
                    optimizer=dict(
                        type='AdamW',
                        lr=0.0001,
                        weight_decay=0.05),
                    paramwise_cfg=dict(norm_decay_mult=0.0),
                    clip_grad=dict(max_norm=0.1, norm_type=2),
                    loss_scale=dict(init_scale=512))
                """,
            ),
            Example(
                title="A child's partial overrides",
                files={"base.py": """
                    optimizer = dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001)
                    optimizer_config = dict(grad_clip=None)
                    """},
                before="""
                _base_ = './base.py'
                optimizer = dict(lr=0.01)
                optimizer_config = dict(_delete_=True, grad_clip=dict(max_norm=35, norm_type=2))
                fp16 = dict(loss_scale=512.)
                """,
                after="""
                _base_ = './base.py'
                optim_wrapper = dict(
                    type='AmpOptimWrapper',
                    optimizer=dict(lr=0.01),
                    clip_grad=dict(max_norm=35, norm_type=2),
                    loss_scale=512.)
                """,
            ),
            Example(
                title="_delete_ on optimizer drops the base's paramwise_cfg, not its grad_clip",
                files={"base.py": """
                    optimizer = dict(
                        type='SGD', lr=0.01, momentum=0.9, paramwise_cfg=dict(bias_lr_mult=2.))
                    optimizer_config = dict(grad_clip=dict(max_norm=35, norm_type=2))
                    """},
                before="""
                _base_ = './base.py'
                optimizer = dict(_delete_=True, type='AdamW', lr=0.0001, weight_decay=0.05)
                """,
                after="""
                _base_ = './base.py'
                optim_wrapper = dict(
                    optimizer=dict(_delete_=True, type='AdamW', lr=0.0001, weight_decay=0.05),
                    paramwise_cfg=None)
                """,
            ),
            Example(
                title="A 2.x child of a 3.x base",
                files={"base.py": """
                    optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.02))
                    """},
                before="""
                _base_ = './base.py'
                optimizer_config = dict(_delete_=True, grad_clip=dict(max_norm=35, norm_type=2))
                """,
                after="""
                _base_ = './base.py'
                optim_wrapper = dict(clip_grad=dict(max_norm=35, norm_type=2))
                """,
            ),
            Example(
                title="Gradient accumulation",
                before="""
                optimizer = dict(type='SGD', lr=0.02)
                optimizer_config = dict(type='GradientCumulativeOptimizerHook', cumulative_iters=4)
                """,
                after="""
                optim_wrapper = dict(
                    type='OptimWrapper',
                    optimizer=dict(type='SGD', lr=0.02),
                    accumulative_counts=4)
                """,
            ),
            Example(
                title="Refused: a hook argument OptimWrapper lacks",
                before="""
                optimizer = dict(type='SGD', lr=0.02)
                optimizer_config = dict(grad_clip=None, detect_anomalous_params=True)
                """,
                after=None,
            ),
        ),
    ),
)
