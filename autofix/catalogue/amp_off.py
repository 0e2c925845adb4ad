from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import libcst as cst

from autofix.catalogue.amp_nms import AMP_NMS
from autofix.config_edit import (
    ConfigStyle,
    append_statements,
    config_style,
    first_effective,
    inherits,
    replace_assigned_value,
)
from autofix.cst_helpers import (
    add_from_import,
    dict_call_keys,
    dict_literal_keys,
    dotted_name,
    has_star_args,
    import_aliases,
    is_mapping_literal,
    qualified_name,
    referenced_names,
    remove_arg,
    remove_mapping_keys,
    set_mapping_value,
    string_value,
)
from autofix.mmconfig import ConfigUnavailable, registry_name
from autofix.provenance import last_assignment
from autofix.rule import Applicability, Example, FileKind, Rule, TransformContext


@dataclass(frozen=True)
class _Section:
    """A config section that switches mixed precision on by its ``type``."""

    key: str  # the top-level config key
    amp_types: Mapping[str, str]  # mixed-precision type -> its full-precision counterpart
    amp_only: tuple[str, ...]  # keys only the mixed-precision types accept

    @property
    def default_type(self) -> str:
        """What the section builds when it names no type (mmengine / mmcv defaults)."""
        return next(iter(self.amp_types.values()))


_AMP_WRAPPER, _WRAPPER = "AmpOptimWrapper", "OptimWrapper"
# mmengine (mmdet 3.x): AmpOptimWrapper(loss_scale='dynamic', dtype=None, use_fsdp=False, **kwargs).
_OPTIM_WRAPPER = _Section("optim_wrapper", {_AMP_WRAPPER: _WRAPPER}, ("loss_scale", "dtype", "use_fsdp"))
# mmcv 1.x: Fp16OptimizerHook(grad_clip, coalesce, bucket_size_mb, loss_scale, distributed).
_OPTIMIZER_HOOK = _Section(
    "optimizer_config",
    {"Fp16OptimizerHook": "OptimizerHook", "GradientCumulativeFp16OptimizerHook": "GradientCumulativeOptimizerHook"},
    ("loss_scale", "coalesce", "bucket_size_mb", "distributed"),
)
_SECTIONS = (_OPTIM_WRAPPER, _OPTIMIZER_HOOK)
_FP16 = "fp16"  # mmdet 2.x: a top-level `fp16 = dict(loss_scale=...)` turns AMP on
# Modules that export OptimWrapper under that name, so an AmpOptimWrapper import from them can be renamed.
_EXPORTS_WRAPPER = {"mmengine.optim", "mmengine.optim.optimizer"}
_AMP_MODULE, _WRAPPER_MODULE = "mmengine.optim.optimizer.amp_optimizer_wrapper", "mmengine.optim.optimizer.optimizer_wrapper"

_COST_NOTE = "mixed precision is now off: training takes more GPU memory and runs slower"
_AMP_FLAG_NOTE = (
    "mmdet's tools/train.py --amp turns AMP back on at run time (it sets AmpOptimWrapper after "
    "loading the config): train without --amp"
)


def _is_amp_class(qualified: str | None) -> bool:
    return qualified is not None and qualified.rpartition(".")[2] == _AMP_WRAPPER


class _Rewriter(cst.CSTTransformer):
    """Switches every mixed-precision site in the file to full precision, in place."""

    def __init__(self, aliases: dict[str, str], in_config: bool) -> None:
        self.aliases = aliases
        self.in_config = in_config
        self.renamed: set[str] = set()  # local names of AmpOptimWrapper whose uses now say OptimWrapper
        self.unchecked_calls = 0

    def _wrapper_reference(self, node: cst.BaseExpression) -> cst.BaseExpression:
        if isinstance(node, cst.Name):
            self.renamed.add(node.value)
            return cst.Name(_WRAPPER)
        return node.with_changes(attr=cst.Name(_WRAPPER))  # `optim.AmpOptimWrapper`

    def _swap(self, node: cst.BaseExpression) -> tuple[_Section, cst.BaseExpression] | None:
        """The section a type value switches on, and its full-precision replacement (quotes kept)."""
        text = string_value(node)
        if text is not None:
            name = text.rpartition(".")[2]
            for section in _SECTIONS:
                if name in section.amp_types:
                    head, _, tail = node.value.rpartition(name)
                    return section, node.with_changes(value=head + section.amp_types[name] + tail)
            return None
        if isinstance(node, (cst.Name, cst.Attribute)) and _is_amp_class(qualified_name(node, self.aliases)):
            return _OPTIM_WRAPPER, self._wrapper_reference(node)
        return None

    def _switch_mapping(self, node: cst.Call | cst.Dict, type_value: cst.BaseExpression) -> cst.Call | cst.Dict:
        swap = self._swap(type_value)
        if swap is None:
            return node
        section, new_type = swap
        return remove_mapping_keys(set_mapping_value(node, "type", new_type), section.amp_only)

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        if _is_amp_class(qualified_name(updated.func, self.aliases)):
            return self._construction(updated)
        keys = dict_call_keys(updated)
        if keys and "type" in keys:
            return self._switch_mapping(updated, keys["type"].value)
        if self.in_config and isinstance(updated.func, cst.Attribute) and updated.func.attr.value in ("update", "merge"):
            section = _section_named(updated.func.value)  # optim_wrapper.update(dict(loss_scale=...))
            if section and updated.args and is_mapping_literal(updated.args[0].value):
                new_value = remove_mapping_keys(updated.args[0].value, section.amp_only)
                return updated.with_changes(args=[updated.args[0].with_changes(value=new_value), *updated.args[1:]])
        return updated

    def leave_Dict(self, original: cst.Dict, updated: cst.Dict) -> cst.BaseExpression:
        element = dict_literal_keys(updated).get("type")
        return updated if element is None else self._switch_mapping(updated, element.value)

    def leave_Assign(self, original: cst.Assign, updated: cst.Assign) -> cst.Assign:
        """``_base_.optim_wrapper.type = 'AmpOptimWrapper'``, and ``optim_wrapper = dict(loss_scale=...)``
        over an AMP base (configs only: scripts such as mmdet's tools/train.py set the type this
        way to implement ``--amp``)."""
        if not self.in_config or len(updated.targets) != 1:
            return updated
        target = updated.targets[0].target
        section = _section_named(target)
        if section and is_mapping_literal(updated.value):
            return updated.with_changes(value=remove_mapping_keys(updated.value, section.amp_only))
        swap = self._swap(updated.value) if _sets_type(target) else None
        return updated if swap is None else updated.with_changes(value=swap[1])

    def _construction(self, call: cst.Call) -> cst.Call:
        if has_star_args(call.args):
            self.unchecked_calls += 1  # `**kwargs` may carry loss_scale: nothing can be known
            return call
        args = list(call.args)
        # Its positional parameters are loss_scale, dtype, use_fsdp: all of them AMP-only.
        for index in reversed(range(len(args))):
            keyword = args[index].keyword
            if keyword is None or keyword.value in _OPTIM_WRAPPER.amp_only:
                args = remove_arg(args, index)
        return call.with_changes(func=self._wrapper_reference(call.func), args=args)


def _section_named(node: cst.BaseExpression) -> _Section | None:
    """The section a top-level name holds: ``optim_wrapper`` -> its section, else None."""
    return next((s for s in _SECTIONS if isinstance(node, cst.Name) and node.value == s.key), None)


def _sets_type(target: cst.BaseExpression) -> bool:
    """``x.type`` or ``x['type']``."""
    if isinstance(target, cst.Attribute):
        return target.attr.value == "type"
    if isinstance(target, cst.Subscript) and len(target.slice) == 1 and isinstance(target.slice[0].slice, cst.Index):
        return string_value(target.slice[0].slice.value) == "type"
    return False


class _ImportRetargeter(cst.CSTTransformer):
    """Imports OptimWrapper where AmpOptimWrapper was imported: in its place when nothing uses
    AmpOptimWrapper any more, else beside it."""

    def __init__(self, renamed: set[str], still_used: set[str], has_wrapper: bool) -> None:
        self.renamed = renamed
        self.still_used = still_used
        self.has_wrapper = has_wrapper

    def leave_ImportFrom(
        self, original: cst.ImportFrom, updated: cst.ImportFrom
    ) -> cst.ImportFrom | cst.RemovalSentinel:
        if isinstance(updated.names, cst.ImportStar) or updated.relative or updated.module is None:
            return updated
        source = dotted_name(updated.module)
        names = list(updated.names)
        for index in reversed(range(len(names))):
            alias = names[index]
            local = alias.evaluated_alias or alias.evaluated_name
            if local not in self.renamed:
                continue
            if local in self.still_used:  # e.g. isinstance(w, AmpOptimWrapper): keep it
                if not self.has_wrapper and source in _EXPORTS_WRAPPER:
                    names[index] = alias.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
                    names.insert(index + 1, cst.ImportAlias(name=cst.Name(_WRAPPER), comma=alias.comma))
                    self.has_wrapper = True
                continue
            renamable = source in _EXPORTS_WRAPPER or (source == _AMP_MODULE and len(names) == 1)
            if self.has_wrapper or not renamable:
                names = _drop_alias(names, index)
                continue
            names[index] = cst.ImportAlias(name=cst.Name(_WRAPPER), comma=alias.comma)
            if source == _AMP_MODULE:
                updated = updated.with_changes(module=cst.parse_expression(_WRAPPER_MODULE))
            self.has_wrapper = True
        if not names:
            return cst.RemovalSentinel.REMOVE
        return updated.with_changes(names=names)


def _imports_wrapper(module: cst.Module) -> bool:
    """Whether the name OptimWrapper is imported (from wherever) in the file."""
    imported = import_aliases(module).get(_WRAPPER)
    return imported is not None and imported.rpartition(".")[2] == _WRAPPER


def _drop_alias(names: list[cst.ImportAlias], index: int) -> list[cst.ImportAlias]:
    """Remove ``names[index]``; the new last name takes over the removed one's (trailing) comma."""
    kept = names[:index] + names[index + 1 :]
    if index == len(kept) and kept:
        kept[-1] = kept[-1].with_changes(comma=names[index].comma)
    return kept


def _retarget_imports(module: cst.Module, renamed: set[str]) -> cst.Module:
    if not renamed:
        return module
    retargeter = _ImportRetargeter(renamed, referenced_names(module), _imports_wrapper(module))
    module = module.visit(retargeter)
    return module if retargeter.has_wrapper else add_from_import(module, "mmengine.optim", _WRAPPER)


class AmpOff(Rule):
    """Turn AMP off: `AmpOptimWrapper` becomes `OptimWrapper`.

    ## What it does
    In configs, rewrites `dict(type='AmpOptimWrapper', ...)` (or a `{...}` literal, a lazy config's
    `type=AmpOptimWrapper` class with its import, an `optim_wrapper.update(...)`/`.merge(...)`
    argument) to `OptimWrapper` and drops the keys only AmpOptimWrapper accepts (`loss_scale`,
    `dtype`, `use_fsdp`); `_base_.optim_wrapper.type = 'AmpOptimWrapper'` likewise. mmdet 2.x
    configs get `fp16 = None` and `Fp16OptimizerHook` becomes `OptimizerHook`.

    When the AMP setting comes from a base config, the base is left alone (it is shared) and the
    file gets the smallest override that mmengine honours: `_base_.optim_wrapper.type =
    'OptimWrapper'` (`optim_wrapper.type = OptimWrapper` in lazy configs), a `.pop(key, None)` for
    each AMP-only key the base sets, or `fp16 = None`. Every config edit is resolved with mmengine
    before it is kept: it must turn AMP off and change no other key. A config whose resolved
    settings are already full precision (its base was fixed in the same run) is left alone. In model
    and training-script files, `AmpOptimWrapper(...)` constructions and the same dict literals are
    rewritten, without resolving anything.

    ## Why
    Under fp16 AMP the RPN's scores are Half, and mmcv's `batched_nms` fails when it has more boxes
    than `split_thr` (default 10000): "Index put requires the source and destination dtypes match,
    got Half for the destination and Float for the source". In full precision every tensor there is
    Float.

    ## Fix safety
    Training in fp32 needs more GPU memory and is much slower, so batch sizes tuned for AMP may no
    longer fit. A plain type swap is not enough when a base sets `loss_scale`: mmengine merges the
    child into the base and `OptimWrapper` rejects the key (TypeError), which is why the AMP-only
    keys are removed from the merged result. mmdet's `tools/train.py --amp` switches AMP back on
    after loading the config, so train without it.
    Prefer `split-thr` or `nms-dtype-cast` for this crash.
    """

    id = "amp-off"
    summary = (
        "Turns mixed precision off: AmpOptimWrapper -> OptimWrapper (AMP-only keys dropped), "
        "mmdet 2.x fp16 -> None; training then takes more memory and time"
    )
    crash = AMP_NMS.crash
    tradeoff = (
        "Changes training: fp32 uses more GPU memory and trains much slower; "
        "tools/train.py --amp turns AMP back on at run time"
    )
    opt_in = True
    applicability = Applicability.CHANGES_RESULTS
    # The AMP setting may be inherited, so any config with a base is a candidate.
    prefilter = ("_base_", "read_base", _AMP_WRAPPER, _FP16, "Fp16OptimizerHook")
    chain_prefilter = (_AMP_WRAPPER, _FP16, "Fp16OptimizerHook")  # a chain naming none of them trains in fp32
    only_fixes_problems = True
    intended_keys = (
        *(f"{section.key}.type" for section in _SECTIONS),
        *(f"{section.key}.{key}{suffix}" for section in _SECTIONS for key in section.amp_only for suffix in ("", ".*")),
        _FP16,
        f"{_FP16}.*",
    )

    examples = (
        Example(
            kind=FileKind.CONFIG,
            title="AmpOptimWrapper in the config itself",
            before="""
            optim_wrapper = dict(
                type='AmpOptimWrapper',
                loss_scale='dynamic',  # AMP only
                optimizer=dict(type='SGD', lr=0.01, momentum=0.9),
                clip_grad=dict(max_norm=35, norm_type=2))
            """,
            after="""
            optim_wrapper = dict(
                type='OptimWrapper',
                optimizer=dict(type='SGD', lr=0.01, momentum=0.9),
                clip_grad=dict(max_norm=35, norm_type=2))
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="inherited from a base that sets loss_scale: the base is left alone",
            files={
                "amp_base.py": """
                optim_wrapper = dict(
                    type='AmpOptimWrapper', loss_scale='dynamic', optimizer=dict(type='SGD', lr=0.01))
                """
            },
            before="""
            _base_ = './amp_base.py'
            train_dataloader = dict(batch_size=4)
            """,
            after="""
            _base_ = './amp_base.py'
            train_dataloader = dict(batch_size=4)

            # autofix amp-off: train in full precision (a base config enables AMP)
            _base_.optim_wrapper.type = 'OptimWrapper'
            _base_.optim_wrapper.pop('loss_scale', None)
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="lazy (new-style) config: the import follows the class",
            files={
                "schedule.py": """
                from mmengine.optim import OptimWrapper
                optim_wrapper = dict(type=OptimWrapper, optimizer=dict(type='SGD', lr=0.01))
                """
            },
            before="""
            from mmengine.config import read_base
            from mmengine.optim import AmpOptimWrapper

            with read_base():
                from .schedule import *

            optim_wrapper.update(dict(type=AmpOptimWrapper))
            """,
            after="""
            from mmengine.config import read_base
            from mmengine.optim import OptimWrapper

            with read_base():
                from .schedule import *

            optim_wrapper.update(dict(type=OptimWrapper))
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="mmdet 2.x",
            before="""
            optimizer = dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001)
            optimizer_config = dict(grad_clip=None)
            fp16 = dict(loss_scale=512.)
            """,
            after="""
            optimizer = dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001)
            optimizer_config = dict(grad_clip=None)
            fp16 = None
            """,
        ),
        Example(
            title="a training script",
            before="""
            from mmengine.optim import AmpOptimWrapper

            def build(optimizer):
                return AmpOptimWrapper(optimizer=optimizer, loss_scale='dynamic', dtype='float16')
            """,
            after="""
            from mmengine.optim import OptimWrapper

            def build(optimizer):
                return OptimWrapper(optimizer=optimizer)
            """,
        ),
        Example(
            title="mmdet's tools/train.py: --amp is the user's explicit choice at run time",
            before="""
            def main():
                if args.amp is True:
                    cfg.optim_wrapper.type = 'AmpOptimWrapper'
                    cfg.optim_wrapper.loss_scale = 'dynamic'
            """,
        ),
    )

    def problem(self, config: Mapping[str, Any], options: Mapping[str, Any]) -> str | None:
        for section in _SECTIONS:
            settings = config.get(section.key)
            if not isinstance(settings, Mapping):
                continue
            kind = registry_name(settings.get("type"))
            if kind in section.amp_types:
                return f"{section.key}.type is {kind} (mixed precision)"
            if kind is None or kind in section.amp_types.values():
                left = [key for key in section.amp_only if key in settings]
                if left:
                    return f"{section.key} ({kind or section.default_type}) still has {', '.join(left)}, which it rejects"
        if config.get(_FP16) is not None:
            return f"{_FP16} is set (mmdet 2.x mixed precision)"
        return None

    def transform(self, module: cst.Module, context: TransformContext) -> cst.Module:
        if context.kind is not FileKind.CONFIG:
            rewriter = _Rewriter(import_aliases(module), in_config=False)
            fixed = _retarget_imports(module.visit(rewriter), rewriter.renamed)
            if rewriter.unchecked_calls:
                context.note("an AmpOptimWrapper(...) call with *args/**kwargs was left alone: its AMP-only arguments cannot be seen")
            if fixed.code != module.code:
                context.note(_COST_NOTE)
            return fixed
        config = context.resolve_config()
        if self.problem(config, context.options) is None:
            return module
        fixed = first_effective(
            context,
            self._candidates(module, config, context),
            lambda resolved: self.problem(resolved, context.options),
            self.intended_keys,
        )
        context.note(_COST_NOTE)
        if _OPTIM_WRAPPER.key in config:
            context.note(_AMP_FLAG_NOTE)
        return fixed

    def _candidates(
        self, module: cst.Module, config: Mapping[str, Any], context: TransformContext
    ) -> Iterator[cst.Module | None]:
        """In order of preference: (1) every AMP site in this file edited in place; (2) that plus
        overrides for what the bases still contribute; (3) overrides alone (nothing here sets AMP)."""
        in_place = _edit_in_place(module)
        if in_place is not None:
            yield in_place
        if not inherits(module):
            return  # every setting comes from this file: overrides of a base have nothing to act on
        if in_place is not None:
            try:
                still = context.resolve_config(in_place.code)
            except ConfigUnavailable:
                still = None
            yield None if still is None else _with_overrides(in_place, still)
        yield _with_overrides(module, config)


def _edit_in_place(module: cst.Module) -> cst.Module | None:
    rewriter = _Rewriter(import_aliases(module), in_config=True)
    edited = _retarget_imports(module.visit(rewriter), rewriter.renamed)
    found = last_assignment(edited, _FP16)
    if found is not None and not (isinstance(found[1].value, cst.Name) and found[1].value.value == "None"):
        edited = replace_assigned_value(edited, found[0], cst.Name("None"))
    return None if edited.code == module.code else edited


def _with_overrides(module: cst.Module, config: Mapping[str, Any]) -> cst.Module | None:
    """``module`` plus the statements that switch the still-AMP settings of ``config`` off."""
    lazy = config_style(module) is ConfigStyle.LAZY
    lines: list[str] = []
    switches_type = needs_class = False
    for section in _SECTIONS:
        settings = config.get(section.key)
        if not isinstance(settings, Mapping):
            continue
        # Old style: `_base_.x` is the merged base, which this file's own `x` is merged into later.
        target = section.key if lazy else f"_base_.{section.key}"
        value = settings.get("type")
        kind = registry_name(value)
        if kind in section.amp_types:
            switches_type = True
            new_kind = section.amp_types[kind]
            if lazy and section is _OPTIM_WRAPPER and isinstance(value, str) and "." in value:
                lines.append(f"{target}.type = {_WRAPPER}")  # a lazy import: keep the class form
                needs_class = True
            else:  # a registry name, scope prefix kept: 'mmengine.AmpOptimWrapper' -> 'mmengine.OptimWrapper'
                new_value = value.rpartition(kind)[0] + new_kind if isinstance(value, str) else new_kind
                lines.append(f"{target}.type = {new_value!r}")
        elif not (kind is None or kind in section.amp_types.values()):
            continue  # some other wrapper: its keys are its own business
        lines += [f"{target}.pop({key!r}, None)" for key in section.amp_only if key in settings]
    if config.get(_FP16) is not None:
        switches_type = True
        lines.append(f"{_FP16} = None")
    if not lines:
        return None
    why = "train in full precision (a base config enables AMP)" if switches_type else (
        "drop the AMP-only keys a base config sets (the full-precision type rejects them)"
    )
    fixed = append_statements(module, "\n".join(lines) + "\n", comment=f"autofix amp-off: {why}")
    if needs_class and not _imports_wrapper(fixed):
        fixed = add_from_import(fixed, "mmengine.optim", _WRAPPER)
    return fixed
