"""Crash fix and rule ``optimizer-delete``: a base's optimizer keys merged into another optimizer type."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from autofix.crashes import CrashFix, LogSignature, Remedy
from autofix.mmconfig import registry_name
from autofix.rule import (
    Applicability,
    ConfigRule,
    Example,
    FileKind,
    Finding,
    KeyPath,
    ReplaceKey,
    Severity,
    dotted_key,
)

# The keyword arguments each torch.optim optimizer takes besides ``params`` (torch 2.13; older torch
# takes a subset, so a key listed here is never wrongly called foreign). A test compares it with torch.
OPTIMIZER_KEYS: dict[str, frozenset[str]] = {
    name: frozenset(keys.split())
    for name, keys in {
        "SGD": "lr momentum dampening weight_decay nesterov maximize foreach differentiable fused",
        "Adam": "lr betas eps weight_decay amsgrad foreach maximize capturable differentiable fused "
                "decoupled_weight_decay",
        "AdamW": "lr betas eps weight_decay amsgrad maximize foreach capturable differentiable fused",
        "Adamax": "lr betas eps weight_decay foreach maximize differentiable capturable",
        "NAdam": "lr betas eps weight_decay momentum_decay decoupled_weight_decay foreach maximize capturable "
                 "differentiable",
        "RAdam": "lr betas eps weight_decay decoupled_weight_decay foreach maximize capturable differentiable",
        "Adagrad": "lr lr_decay weight_decay initial_accumulator_value eps foreach maximize differentiable fused",
        "Adadelta": "lr rho eps weight_decay foreach capturable maximize differentiable",
        "Adafactor": "lr beta2_decay eps d weight_decay foreach maximize",
        "ASGD": "lr lambd alpha t0 weight_decay foreach maximize differentiable capturable",
        "RMSprop": "lr alpha eps weight_decay momentum centered capturable foreach maximize differentiable",
        "Rprop": "lr etas step_sizes capturable foreach maximize differentiable",
        "SparseAdam": "lr betas eps maximize",
        "LBFGS": "lr max_iter max_eval tolerance_grad tolerance_change history_size line_search_fn",
        "Muon": "lr weight_decay momentum nesterov ns_coefficients eps ns_steps adjust_lr_fn",
    }.items()
}
# Keys some optimizer takes: found in another's dict, they came from a base written for that one.
OPTIMIZER_ONLY_KEYS = frozenset().union(*OPTIMIZER_KEYS.values())
DELETE = "_delete_"  # mmengine's merge flag: consumed where a base has the key, passed on where none has
# mmcv 1.x's build_optimizer takes these out of a 2.x `optimizer` dict before building it.
MMCV_OPTIMIZER_KEYS = frozenset({"paramwise_cfg", "constructor"})

_CLASSES = "|".join(sorted(OPTIMIZER_KEYS, key=len, reverse=True))
_OWNERS = rf"{_CLASSES}|\w*OptimWrapper"  # what builds from these dicts
_FOREIGN = "|".join(sorted(OPTIMIZER_ONLY_KEYS | {DELETE}))

OPTIMIZER_DELETE = CrashFix(
    id="optimizer-delete",
    summary="A base's optimizer keys reach another optimizer type.",
    crash="TypeError: AdamW.__init__() got an unexpected keyword argument 'momentum' (or '_delete_')",
    what_happened=(
        "The config switches the optimizer type (a base's SGD to AdamW or Adam) without _delete_=True, "
        "so mmengine merges the base's keys into the new optimizer's dict and torch's constructor gets a "
        "keyword it does not take (momentum). Or _delete_=True sits where no base holds the key to replace "
        "(a config without that base, the optimizer dict of a 2.x config whose bases have none): mmengine "
        "then leaves it in the dict and hands it to the constructor."
    ),
    default_transforms=("optimizer-delete",),
    remedies=(
        Remedy(
            "optimizer-delete",
            "replace the base's optimizer dict instead of merging into it (_delete_=True where a base holds "
            "it), or drop a _delete_ that no base consumes",
            "none: only keys the optimizer refuses go; the config's other keys and the wrapper's stay",
        ),
    ),
    signatures=(
        LogSignature(
            # Python 3.10+ names the class, mmcv 1.x prefixes it, early mmengine wraps it; 3.8/3.9 say neither.
            message=rf"(?:\b(?:{_OWNERS})(?:\.|: )|class `(?:{_OWNERS})` in \S+: (?:\w+\.)?|TypeError: )"
                    rf"__init__\(\) got an unexpected keyword argument '(?:{_FOREIGN})'",
            raised_in=("build_from_cfg",),
            place="the registry's build_from_cfg (mmengine/registry/build_functions.py, mmcv/utils/registry.py)",
            family=rf"\b(?:{_CLASSES})(?:\.|: )__init__\(\) got an unexpected keyword argument",
        ),
    ),
    path_hint="CONFIG",
    lookalike_advice="where your own code builds the optimizer, pass it only the keywords its class takes",
    log_examples=(
        """
        Traceback (most recent call last):
          File "tools/train.py", line 133, in <module>
            main()
          File "tools/train.py", line 129, in main
            runner.train()
          File "/opt/conda/lib/python3.10/site-packages/mmengine/runner/runner.py", line 1728, in train
            self.optim_wrapper = self.build_optim_wrapper(self.optim_wrapper)
          File "/opt/conda/lib/python3.10/site-packages/mmengine/runner/runner.py", line 1091, in build_optim_wrapper
            return build_optim_wrapper(self.model, optim_wrapper)
          File "/opt/conda/lib/python3.10/site-packages/mmengine/optim/optimizer/builder.py", line 214, in build_optim_wrapper
            optim_wrapper = optim_wrapper_constructor(model)
          File "/opt/conda/lib/python3.10/site-packages/mmengine/optim/optimizer/default_constructor.py", line 318, in __call__
            optimizer = OPTIMIZERS.build(optimizer_cfg)
          File "/opt/conda/lib/python3.10/site-packages/mmengine/registry/registry.py", line 570, in build
            return self.build_func(cfg, *args, **kwargs, registry=self)
          File "/opt/conda/lib/python3.10/site-packages/mmengine/registry/build_functions.py", line 247, in build_optimizer_from_cfg
            return build_from_cfg(cfg, registry, default_args)
          File "/opt/conda/lib/python3.10/site-packages/mmengine/registry/build_functions.py", line 121, in build_from_cfg
            obj = obj_cls(**args)  # type: ignore
        TypeError: AdamW.__init__() got an unexpected keyword argument 'momentum'
        """,
        """
        2021-08-19 10:12:33,412 - mmdet - INFO - Start running, host: user@DESKTOP, work_dir: D:\\mmdetection\\work_dirs
        Traceback (most recent call last):
          File "tools/train.py", line 188, in <module>
            main()
          File "D:\\mmdetection\\mmdet\\apis\\train.py", line 101, in train_detector
            optimizer = build_optimizer(model, cfg.optimizer)
          File "D:\\Anaconda3\\envs\\openmmlab\\lib\\site-packages\\mmcv\\runner\\optimizer\\builder.py", line 43, in build_optimizer
            optimizer = optim_constructor(model)
          File "D:\\Anaconda3\\envs\\openmmlab\\lib\\site-packages\\mmcv\\runner\\optimizer\\default_constructor.py", line 247, in __call__
            return build_from_cfg(optimizer_cfg, OPTIMIZERS)
          File "D:\\Anaconda3\\envs\\openmmlab\\lib\\site-packages\\mmcv\\utils\\registry.py", line 55, in build_from_cfg
            raise type(e)(f'{obj_cls.__name__}: {e}')
        TypeError: AdamW: __init__() got an unexpected keyword argument '_delete_'
        """,
        """
        按照文档把优化器改成 AdamW 之后训练一开始就报错，请问怎么解决？
        [rank0]: TypeError: AdamW.__init__() got an unexpected keyword argument 'momentum'
        """,
        """
        TypeError: OptimWrapper.__init__() got an unexpected keyword argument '_delete_'
        """,
    ),
)


def optimizer_dicts(config: Mapping[str, Any]) -> Iterator[tuple[KeyPath, Mapping[str, Any], frozenset[str]]]:
    """(path, dict, keys its builder takes out) of each optimizer the runner builds: mmengine's
    ``optim_wrapper.optimizer``; mmdet 2.x's top-level ``optimizer`` where there is no wrapper."""
    wrapper = config.get("optim_wrapper")
    if isinstance(wrapper, Mapping):
        if isinstance(wrapper.get("optimizer"), Mapping):
            yield ("optim_wrapper", "optimizer"), wrapper["optimizer"], frozenset()
    elif isinstance(config.get("optimizer"), Mapping):
        yield ("optimizer",), config["optimizer"], MMCV_OPTIMIZER_KEYS


def refused_keys(optimizer: Mapping[str, Any], taken_out: frozenset[str]) -> list[str]:
    """The keys of an optimizer dict its torch class refuses that a base can have put there: another
    optimizer's keys and ``_delete_`` (a user's typo is left to the user)."""
    accepted = OPTIMIZER_KEYS.get(registry_name(optimizer.get("type")) or "")
    if accepted is None:
        return []  # not a torch optimizer: its keys are unknown here
    merged_in = OPTIMIZER_ONLY_KEYS - accepted - taken_out
    return [key for key in optimizer if key == DELETE or key in merged_in]


# The base most examples inherit: mmdet's schedules train with SGD and momentum.
SGD_BASE = {"base.py": "optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001))\n"}


def _without(mapping: Mapping[str, Any], keys: list[str]) -> dict[str, Any]:
    return {key: value for key, value in mapping.items() if key not in keys}


class OptimizerDelete(ConfigRule):
    """Replace a base's optimizer instead of merging into it.

    ## What it does
    For the optimizer the runner builds (`optim_wrapper.optimizer`; mmdet 2.x `optimizer`), finds the
    keys its torch class refuses that another torch optimizer takes (`momentum` in an `AdamW`: a
    base's `SGD` merged in) and a `_delete_` that no base consumed (also on the `optim_wrapper`
    itself). The dict is made exactly the effective one without those keys: where the file writes
    it, `_delete_=True` is added (the base's dict is replaced, not merged into) or the stray
    `_delete_` is dropped; a base's key the file relied on is written out. Elsewhere an override
    replaces it (`_delete_=True`), or pops the refused keys in new-style configs. The wrapper's
    other keys (`paramwise_cfg`, `clip_grad`, `type`) stay.

    ## Why
    mmengine merges a child's dict into its base's key by key, whatever `type` says, so
    `optimizer=dict(type='AdamW', lr=1e-4)` over a base's SGD keeps `momentum=0.9` and torch raises
    "TypeError: AdamW.__init__() got an unexpected keyword argument 'momentum'" when the runner
    builds it. `_delete_=True` is consumed only where a base holds the key: elsewhere it is passed
    on, "AdamW.__init__() got an unexpected keyword argument '_delete_'". New-style (`read_base`)
    configs rebind a name instead of merging, but `optim_wrapper.update(...)` and attribute
    assignments merge the same way (and ignore `_delete_`), so there the refused keys are popped.

    ## Fix safety
    Safe: the config never trained (torch refused it), and only the refused keys leave the effective
    config; every other key keeps its effective value, a base's `weight_decay` written out where the
    child did not set it. A key the optimizer refuses that no torch optimizer takes (a typo) is left
    to the user.
    """

    id = "optimizer-delete"
    summary = "Adds _delete_=True where a base's optimizer keys merge into another optimizer type"
    crash = OPTIMIZER_DELETE.crash
    tradeoff = "None: only the keys the optimizer refuses leave the config"
    applicability = Applicability.SAFE
    prefilter = ("_base_", "read_base", "optim")  # an inheriting file may get its optimizer from a base
    chain_prefilter = ("optim",)
    override_comment = "keeps a base's optimizer keys out of this optimizer"
    examples = (
        Example(
            kind=FileKind.CONFIG,
            title="AdamW over a base's SGD: momentum merged in",
            files={
                "base.py": """
                optim_wrapper = dict(
                    type='OptimWrapper',
                    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001),
                    clip_grad=dict(max_norm=35, norm_type=2))
                """,
            },
            before="""
            _base_ = './base.py'
            optim_wrapper = dict(
                optimizer=dict(type='AdamW', lr=0.0001, weight_decay=0.05),
                paramwise_cfg=dict(norm_decay_mult=0.0))
            """,
            after="""
            _base_ = './base.py'
            optim_wrapper = dict(
                optimizer=dict(_delete_=True, type='AdamW', lr=0.0001, weight_decay=0.05),
                paramwise_cfg=dict(norm_decay_mult=0.0))
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="a base's key the child relied on is written out",
            files=SGD_BASE,
            before="""
            _base_ = './base.py'
            optim_wrapper = dict(optimizer=dict(
                type='Adam',
                lr=0.0003))
            """,
            after="""
            _base_ = './base.py'
            optim_wrapper = dict(optimizer=dict(
                _delete_=True,
                type='Adam',
                lr=0.0003,
                weight_decay=0.0001))
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="_delete_ with no base to delete from reaches torch: dropped",
            before="""
            optim_wrapper = dict(
                type='OptimWrapper',
                optimizer=dict(_delete_=True, type='AdamW', lr=0.0001, weight_decay=0.05))
            """,
            after="""
            optim_wrapper = dict(
                type='OptimWrapper',
                optimizer=dict(type='AdamW', lr=0.0001, weight_decay=0.05))
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="_delete_ on the wrapper with no base: OptimWrapper refuses it",
            before="""
            optim_wrapper = dict(_delete_=True, type='OptimWrapper', optimizer=dict(type='AdamW', lr=0.0001))
            """,
            after="""
            optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=0.0001))
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="mmdet 2.x: optimizer over a base's SGD, paramwise_cfg kept",
            files={
                "base.py": """
                optimizer = dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001)
                optimizer_config = dict(grad_clip=None)
                """,
            },
            before="""
            _base_ = './base.py'
            optimizer = dict(type='AdamW', lr=0.0001, weight_decay=0.05, paramwise_cfg=dict(norm_decay_mult=0.0))
            """,
            after="""
            _base_ = './base.py'
            optimizer = dict(_delete_=True, type='AdamW', lr=0.0001, weight_decay=0.05, paramwise_cfg=dict(norm_decay_mult=0.0))
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="mmdet 2.x: _delete_ where the bases have no optimizer",
            files={
                "base.py": """
                model = dict(type='FasterRCNN')
                """,
            },
            before="""
            _base_ = './base.py'
            optimizer = dict(type='AdamW', lr=0.0001, _delete_=True)
            """,
            after="""
            _base_ = './base.py'
            optimizer = dict(type='AdamW', lr=0.0001)
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="_base_ attribute style: the type switched in the base's dict",
            files=SGD_BASE,
            before="""
            _base_ = './base.py'
            _base_.optim_wrapper.optimizer.type = 'AdamW'
            """,
            after="""
            _base_ = './base.py'
            _base_.optim_wrapper.optimizer.type = 'AdamW'

            # autofix optimizer-delete: keeps a base's optimizer keys out of this optimizer
            optim_wrapper = dict(optimizer=dict(_delete_=True, type='AdamW', lr=0.02, weight_decay=0.0001))
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="new style (read_base): update() merges (and ignores _delete_): the key is popped",
            files={
                "base.py": """
                from torch.optim import SGD

                optim_wrapper = dict(optimizer=dict(type=SGD, lr=0.02, momentum=0.9, weight_decay=0.0001))
                """,
            },
            before="""
            from mmengine.config import read_base

            with read_base():
                from .base import *

            optim_wrapper.update(dict(optimizer=dict(type='AdamW', lr=0.0001, weight_decay=0.05)))
            """,
            after="""
            from mmengine.config import read_base

            with read_base():
                from .base import *

            optim_wrapper.update(dict(optimizer=dict(type='AdamW', lr=0.0001, weight_decay=0.05)))

            # autofix optimizer-delete: keeps a base's optimizer keys out of this optimizer
            optim_wrapper.optimizer.pop('momentum', None)
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="left alone: the base's optimizer replaced by an assignment",
            files=SGD_BASE,
            before="""
            _base_ = './base.py'
            _base_.optim_wrapper.optimizer = dict(type='AdamW', lr=0.0001)
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="left alone: the same type, or a type that is not torch's (its keys are unknown)",
            files=SGD_BASE,
            before="""
            _base_ = './base.py'
            optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01))
            optimizer = dict(type='Lion', lr=0.0001, momentum=0.9)
            """,
        ),
    )

    def findings(self, config: Mapping[str, Any], options: Mapping[str, Any]) -> list[Finding]:
        refusing = [
            (path, optimizer, refused)
            for path, optimizer, taken_out in optimizer_dicts(config)
            if (refused := refused_keys(optimizer, taken_out))
        ]
        wrapper = config.get("optim_wrapper")
        if isinstance(wrapper, Mapping) and DELETE in wrapper:  # replaced whole, its optimizer cleaned in it
            cleaned = {key: value for key, value in wrapper.items() if key != DELETE}
            for path, optimizer, refused in refusing:
                cleaned[path[-1]] = _without(optimizer, refused)
            return [self._finding(("optim_wrapper",), wrapper, [DELETE], cleaned)]
        return [self._finding(path, optimizer, refused, _without(optimizer, refused))
                for path, optimizer, refused in refusing]

    @staticmethod
    def _finding(path: KeyPath, held: Mapping[str, Any], refused: list[str], kept: Mapping[str, Any]) -> Finding:
        name = registry_name(held.get("type")) or "the optimizer wrapper"
        where = dotted_key(path)
        merged = [key for key in refused if key != DELETE]
        message, detail = (
            (f"{where} holds {', '.join(map(repr, merged))}, which {name} does not take",
             "a base's optimizer merged in; replace the base's dict instead of merging into it")
            if merged else (f"{where} holds {DELETE!r}, which no base consumed", f"{name} gets it; drop it")
        )
        return Finding(
            message,
            Severity.CRASH,
            details={"path": where, "type": name, "refused": refused},
            edits=(ReplaceKey(path, kept),),
            detail=detail,
        )
