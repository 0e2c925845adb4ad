from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import libcst as cst

from autofix.catalogue.amp_nms import AMP_NMS
from autofix.cst_helpers import (
    dict_call_keys,
    dict_literal_keys,
    has_star_args,
    import_aliases,
    import_names,
    qualified_name,
    remove_arg,
    remove_mapping_keys,
    set_mapping_value,
    string_value,
)
from autofix.domain.rpn import rpn_loads
from autofix.mmconfig import registry_name
from autofix.rule import (
    Applicability,
    Code,
    ConfigEdit,
    ConfigRule,
    Example,
    FileKind,
    Finding,
    PopKey,
    SetKey,
    Severity,
    TransformContext,
)


@dataclass(frozen=True)
class _Section:
    """A config section that switches mixed precision on by its ``type``."""

    key: str  # the top-level config key
    amp_types: Mapping[str, str]  # mixed-precision type -> its full-precision counterpart
    amp_only: tuple[str, ...]  # keys only the mixed-precision types accept


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
# New-style configs name the class, imported: mmengine resolves it to a dotted module path.
_WRAPPER_CLASS = Code(_WRAPPER, (("mmengine.optim", _WRAPPER),))

_COST_NOTE = "mixed precision is now off: training takes more GPU memory and runs slower"
_AMP_FLAG_NOTE = (
    "mmdet's tools/train.py --amp turns AMP back on at run time (it sets AmpOptimWrapper after "
    "loading the config): train without --amp"
)


def _is_amp_class(qualified: str | None) -> bool:
    return qualified is not None and qualified.rpartition(".")[2] == _AMP_WRAPPER


class _ScriptRewriter(cst.CSTTransformer):
    """Model and script files, never run: every ``AmpOptimWrapper(...)`` and AMP ``type`` literal
    switched to full precision in place."""

    def __init__(self, aliases: dict[str, str]) -> None:
        self.aliases = aliases
        self.renamed = False  # some AmpOptimWrapper name now says OptimWrapper: it needs its import
        self.unchecked_calls = 0

    def _wrapper_reference(self, node: cst.BaseExpression) -> cst.BaseExpression:
        if isinstance(node, cst.Name):
            self.renamed = True
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
        return updated

    def leave_Dict(self, original: cst.Dict, updated: cst.Dict) -> cst.BaseExpression:
        element = dict_literal_keys(updated).get("type")
        return updated if element is None else self._switch_mapping(updated, element.value)

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


def _full_precision_type(value: Any, section: _Section) -> Any:
    """The full-precision counterpart of an AMP ``type`` value, in the same form: the class, or a new-style
    config's import path ('mmengine.optim.AmpOptimWrapper'), becomes the imported OptimWrapper class; a
    registry name keeps its scope ('mmengine.AmpOptimWrapper' -> 'mmengine.OptimWrapper')."""
    if section is _OPTIM_WRAPPER and (not isinstance(value, str) or value.count(".") > 1):
        return _WRAPPER_CLASS
    kind = registry_name(value)
    return value.rpartition(kind)[0] + section.amp_types[kind]


class AmpOff(ConfigRule):
    """Turn AMP off: `AmpOptimWrapper` becomes `OptimWrapper`.

    ## What it does
    When the effective config trains with AMP, sets `optim_wrapper.type` to `OptimWrapper` (in lazy
    configs the imported class, an import it no longer uses giving way to OptimWrapper's) and
    removes the keys only AmpOptimWrapper accepts (`loss_scale`, `dtype`, `use_fsdp`); mmdet 2.x
    configs get `fp16 = None` and `Fp16OptimizerHook` becomes `OptimizerHook`.

    The shared planner places the edits: in the file's own definition (a `dict(...)`/`{...}`
    literal, `_base_.optim_wrapper.type = ...`, an `optim_wrapper.update(...)`/`.merge(...)`
    argument). When the AMP setting comes from a base config, the base is left alone (it is shared)
    and the file gets the smallest override that mmengine honours: `optim_wrapper =
    dict(type='OptimWrapper')`, else `_base_.optim_wrapper.type = 'OptimWrapper'`
    (`optim_wrapper.type = OptimWrapper` in lazy configs) with a `.pop(key, None)` for each AMP-only
    key the base sets, or `fp16 = None`. Every config edit is resolved with mmengine before it is
    kept: it must turn AMP off and change no other key. A config whose resolved settings are
    already full precision (its base was fixed in the same run) is left alone. It is a crash finding
    where an RPN can hand `batched_nms` as many boxes as `split_thr`, else a latent one. In model and
    training-script files, `AmpOptimWrapper(...)` constructions and the same dict literals are
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
    # Every key an amp-off fix may change; a fix's own keys come from its findings.
    intended_keys = (
        *(f"{section.key}.type" for section in _SECTIONS),
        *(f"{section.key}.{key}{suffix}" for section in _SECTIONS for key in section.amp_only for suffix in ("", ".*")),
        _FP16,
        f"{_FP16}.*",
    )

    examples = (
        Example(
            kind=FileKind.CONFIG,
            title="AmpOptimWrapper in the config itself: a removed key's comment goes, those above the next key stay",
            before="""
            optim_wrapper = dict(
                type='AmpOptimWrapper',
                loss_scale='dynamic',  # AMP only
                # momentum: 0.9 for 12 epochs, 0.95 for longer schedules
                optimizer=dict(type='SGD', lr=0.01, momentum=0.9),
                clip_grad=dict(max_norm=35, norm_type=2))
            """,
            after="""
            optim_wrapper = dict(
                type='OptimWrapper',
                # momentum: 0.9 for 12 epochs, 0.95 for longer schedules
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

    def findings(self, config: Mapping[str, Any], options: Mapping[str, Any]) -> list[Finding]:
        problems: list[str] = []
        edits: list[ConfigEdit] = []
        amp_on = False
        for section in _SECTIONS:
            settings = config.get(section.key)
            if not isinstance(settings, Mapping):
                continue
            kind = registry_name(settings.get("type"))
            left = [key for key in section.amp_only if key in settings]
            if kind in section.amp_types:
                amp_on = True
                problems.append(f"{section.key}.type is {kind} (mixed precision)")
                edits.append(SetKey((section.key, "type"), _full_precision_type(settings["type"], section)))
            elif kind is None or kind in section.amp_types.values():
                if left:  # mmengine / mmcv build the full-precision type when none is named
                    problems.append(f"{section.key} ({kind or next(iter(section.amp_types.values()))}) "
                                    f"still has {', '.join(left)}, which it rejects")
            else:
                continue  # some other wrapper: its keys are its own business
            edits += [PopKey((section.key, key)) for key in left]
        if config.get(_FP16) is not None:
            amp_on = True
            problems.append(f"{_FP16} is set (mmdet 2.x mixed precision)")
            edits.append(SetKey((_FP16,), None))
        if not edits:
            return []
        # AMP crashes batched_nms only where an RPN hands it more boxes than split_thr; AMP-only keys
        # left on a full-precision type crash its construction (TypeError) whatever the model.
        crashes = not amp_on or any(load.at_risk for load in rpn_loads(config))
        return [Finding("; ".join(problems), Severity.CRASH if crashes else Severity.LATENT, edits=tuple(edits))]

    def comment_for(self, overridden: Sequence[ConfigEdit], options: Mapping[str, Any]) -> str:
        if any(isinstance(edit, SetKey) for edit in overridden):
            return "autofix amp-off: train in full precision (a base config enables AMP)"
        return "autofix amp-off: drop the AMP-only keys a base config sets (the full-precision type rejects them)"

    def transform(self, module: cst.Module, context: TransformContext) -> cst.Module:
        if context.kind is not FileKind.CONFIG:
            rewriter = _ScriptRewriter(import_aliases(module))
            fixed = module.visit(rewriter)
            if rewriter.renamed:
                fixed = import_names(module, fixed, _WRAPPER_CLASS.imports)
            if rewriter.unchecked_calls:
                context.note(
                    "an AmpOptimWrapper(...) call with *args/**kwargs was left alone: its AMP-only arguments cannot be seen"
                )
            if fixed.code != module.code:
                context.note(_COST_NOTE)
            return fixed
        fixed = super().transform(module, context)
        if fixed.code != module.code:
            context.note(_COST_NOTE)
            if _OPTIM_WRAPPER.key in context.resolve_config():
                context.note(_AMP_FLAG_NOTE)
        return fixed
