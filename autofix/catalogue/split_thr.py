from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import libcst as cst

from autofix.catalogue.amp_nms import AMP_NMS
from autofix.cst_helpers import (
    is_mapping_literal,
    mapping_value,
    set_nested_value,
    string_value,
)
from autofix.domain.rpn import (
    FPN_LEVELS,
    MMCV_DEFAULT_SPLIT_THR,
    RpnLoad,
    box_count_details,
    box_count_message,
    proposal_details,
    rpn_loads,
    rpn_proposals,
    uses_amp,
)
from autofix.rule import (
    Applicability,
    ConfigRule,
    Example,
    FileKind,
    Finding,
    Option,
    SetKey,
    Severity,
    TransformContext,
    positive_int,
)


def _integer(value: int) -> cst.Integer:
    return cst.Integer(str(value))


class _ScriptRewriter(cst.CSTTransformer):
    """Model and script files: ``rpn_proposal`` dict literals, judged from their own literals."""

    def __init__(self, levels: int, options: Mapping[str, Any], context: TransformContext) -> None:
        self.levels = levels
        self.options = options
        self.context = context

    def _fixed(self, proposal: cst.BaseExpression) -> cst.BaseExpression:
        nms = mapping_value(proposal, "nms")
        if not is_mapping_literal(proposal) or not is_mapping_literal(nms):
            return proposal
        nms_pre = mapping_value(proposal, "nms_pre")
        if self.options.get("split_thr"):
            needed = int(self.options["split_thr"])
        elif isinstance(nms_pre, cst.Integer):
            needed = self.levels * nms_pre.evaluated_value + 1
        else:
            return proposal  # nms_pre unknown (a variable) or unbounded: nothing to compute from
        current = mapping_value(nms, "split_thr")
        if current is not None and not isinstance(current, cst.Integer):
            return proposal  # set from an expression this file alone cannot evaluate
        if (current.evaluated_value if current is not None else MMCV_DEFAULT_SPLIT_THR) >= needed:
            return proposal
        self.context.note(f"split_thr {needed} for rpn_proposal (anchor levels read from this file: {self.levels})")
        return set_nested_value(proposal, ["nms", "split_thr"], _integer(needed))

    def leave_Arg(self, original: cst.Arg, updated: cst.Arg) -> cst.Arg:
        if updated.keyword is not None and updated.keyword.value == "rpn_proposal":
            return updated.with_changes(value=self._fixed(updated.value))
        return updated

    def leave_DictElement(self, original: cst.DictElement, updated: cst.DictElement) -> cst.DictElement:
        if string_value(updated.key) == "rpn_proposal":
            return updated.with_changes(value=self._fixed(updated.value))
        return updated

    def leave_Assign(self, original: cst.Assign, updated: cst.Assign) -> cst.Assign:
        targets = [t.target for t in updated.targets]
        if any(isinstance(t, cst.Name) and t.value == "rpn_proposal" for t in targets):
            return updated.with_changes(value=self._fixed(updated.value))
        return updated


class _StridesFinder(cst.CSTVisitor):
    """The most anchor strides in any literal ``*anchor_generator`` of a file (keyword, key or variable)."""

    def __init__(self) -> None:
        self.levels = 0

    def _count(self, name: str | None, value: cst.BaseExpression) -> None:
        strides = mapping_value(value, "strides") if name and name.endswith("anchor_generator") else None
        if isinstance(strides, (cst.List, cst.Tuple)):
            self.levels = max(self.levels, len(strides.elements))

    def visit_Arg(self, node: cst.Arg) -> None:
        self._count(node.keyword.value if node.keyword else None, node.value)

    def visit_DictElement(self, node: cst.DictElement) -> None:
        self._count(string_value(node.key), node.value)

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self._count(target.target.value if isinstance(target.target, cst.Name) else None, node.value)


class SplitThr(ConfigRule):
    """Raise the RPN's NMS `split_thr` above its box count.

    ## What it does
    Sets `model.train_cfg.rpn_proposal.nms.split_thr` (also for cascade, HTC and nested detectors, a
    head's own `train_cfg`, the item of a list-valued `train_cfg` that holds it, as Co-DETR keeps one
    per head, and 2.x top-level `train_cfg`) to one more than the RPN can hand `batched_nms`: the number
    of anchor strides (feature levels) of its RPN head times its `rpn_proposal.nms_pre`, read from the
    config as mmengine resolves it: 10001 for the stock FPN RPN (5 x 2000), 12001 for a caffe-C4 RPN
    (1 x 12000), 24001 for Co-DINO's (6 x 4000). `--split-thr N` sets N instead. A larger value already
    set is never lowered, and configs whose RPN cannot reach `split_thr`, whose proposals skip NMS
    (`use_nms=False`, mmdet3d's VoteNet family) or that have no RPN are left alone.

    The edit goes where the value is defined in the file; when it is inherited, the file gets the
    smallest override its style honours (a merged `model = dict(...)` for `_base_` configs,
    `model.train_cfg....split_thr = N` for `read_base` configs), proved with mmengine. Given a folder,
    a `_base_` model file that is among the paths is fixed once and every config inheriting it needs
    nothing more. Model and script files: `rpn_proposal` dict literals with a literal `nms_pre` and
    `nms` dict get the value from the file's own anchor strides (else 5).

    ## Why
    mmcv's `batched_nms` runs one NMS over all boxes below `split_thr` (default 10000) and per class
    at or above it; only that split path writes Float NMS scores into a Half buffer, which under AMP
    fails with "Index put requires the source and destination dtypes match, got Half for the
    destination and Float for the source". Large train images (e.g. Resize (2666, 1600)) fill every
    FPN level to `nms_pre` and reach exactly 10000 boxes.

    ## Fix safety
    The RPN's proposals are one class, so the unsplit path keeps the same boxes; it uses a little
    more memory for one NMS over up to `split_thr` boxes. AMP, the image size and mmcv stay as they
    are, and `tools/train.py --amp` does not undo it.
    """

    id = "split-thr"
    summary = "Raises model.train_cfg.rpn_proposal.nms.split_thr above the boxes the RPN can produce"
    crash = AMP_NMS.crash
    tradeoff = "A little compute and memory: one NMS over all RPN boxes instead of per-class splits"
    latent_message = "an RPN whose box count can reach split_thr"
    applicability = Applicability.SAFE
    prefilter = ("_base_", "read_base", "rpn_proposal")
    chain_prefilter = ("rpn_proposal",)  # a config none of whose chain mentions it has no RPN
    override_comment = "more than the boxes this RPN can hand batched_nms, so it never splits"
    intended_keys = ("*rpn_proposal.nms.split_thr",)  # a fixed base model reaches detectors nested in its inheritors
    options = (
        Option("split-thr", "the split_thr to set (default: anchor strides x nms_pre + 1)", parse=positive_int, metavar="N"),
        Option("amp", "judge as if trained with tools/train.py --amp (a latent risk becomes a crash)", flag=True),
    )
    examples = (
        Example(
            kind=FileKind.CONFIG,
            title="the RPN's definition (a _base_ model file): 5 levels x nms_pre 2000",
            before="""
            model = dict(
                rpn_head=dict(anchor_generator=dict(type='AnchorGenerator', strides=[4, 8, 16, 32, 64])),
                train_cfg=dict(
                    rpn_proposal=dict(
                        nms_pre=2000,
                        max_per_img=1000,
                        nms=dict(type='nms', iou_threshold=0.7),
                        min_bbox_size=0)))
            """,
            after="""
            model = dict(
                rpn_head=dict(anchor_generator=dict(type='AnchorGenerator', strides=[4, 8, 16, 32, 64])),
                train_cfg=dict(
                    rpn_proposal=dict(
                        nms_pre=2000,
                        max_per_img=1000,
                        nms=dict(type='nms', iou_threshold=0.7, split_thr=10001),
                        min_bbox_size=0)))
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="inherited: the file given gets a merged override, its base is left alone",
            files={
                "faster-rcnn_r50_fpn.py": """
                model = dict(
                    rpn_head=dict(anchor_generator=dict(strides=[4, 8, 16, 32, 64])),
                    train_cfg=dict(rpn_proposal=dict(nms_pre=2000, nms=dict(type='nms', iou_threshold=0.7))))
                """,
            },
            before="""
            _base_ = './faster-rcnn_r50_fpn.py'
            optim_wrapper = dict(type='AmpOptimWrapper')
            """,
            after="""
            _base_ = './faster-rcnn_r50_fpn.py'
            optim_wrapper = dict(type='AmpOptimWrapper')

            # autofix split-thr: more than the boxes this RPN can hand batched_nms, so it never splits
            model = dict(train_cfg=dict(rpn_proposal=dict(nms=dict(split_thr=10001))))
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="Co-DETR: train_cfg is a list, one item per head; the RPN's item gets the value",
            before="""
            model = dict(
                type='CoDETR',
                rpn_head=dict(anchor_generator=dict(strides=[4, 8, 16, 32, 64, 128])),
                train_cfg=[
                    dict(assigner=dict(type='HungarianAssigner')),
                    dict(rpn_proposal=dict(nms_pre=4000, nms=dict(type='nms', iou_threshold=0.7))),
                    dict(assigner=dict(type='ATSSAssigner', topk=9)),
                ])
            """,
            after="""
            model = dict(
                type='CoDETR',
                rpn_head=dict(anchor_generator=dict(strides=[4, 8, 16, 32, 64, 128])),
                train_cfg=[
                    dict(assigner=dict(type='HungarianAssigner')),
                    dict(rpn_proposal=dict(nms_pre=4000, nms=dict(type='nms', iou_threshold=0.7, split_thr=24001))),
                    dict(assigner=dict(type='ATSSAssigner', topk=9)),
                ])
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="a list-valued train_cfg inherited: the item is overridden through _base_",
            files={
                "co-detr_r50.py": """
                model = dict(
                    rpn_head=dict(anchor_generator=dict(strides=[8, 16, 32, 64, 128])),
                    train_cfg=[
                        dict(assigner=dict(type='HungarianAssigner')),
                        dict(rpn_proposal=dict(nms_pre=4000, nms=dict(type='nms', iou_threshold=0.7)))])
                """,
            },
            before="""
            _base_ = './co-detr_r50.py'
            optim_wrapper = dict(type='AmpOptimWrapper')
            """,
            after="""
            _base_ = './co-detr_r50.py'
            optim_wrapper = dict(type='AmpOptimWrapper')

            # autofix split-thr: more than the boxes this RPN can hand batched_nms, so it never splits
            _base_.model.train_cfg[1].rpn_proposal.nms.split_thr = 20001
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="new style (read_base): an attribute assignment, which merges",
            files={
                "rpn_base.py": """
                model = dict(
                    rpn_head=dict(anchor_generator=dict(strides=[16])),
                    train_cfg=dict(rpn_proposal=dict(nms_pre=12000, nms=dict(type='nms', iou_threshold=0.7))))
                """,
            },
            before="""
            from mmengine.config import read_base

            with read_base():
                from .rpn_base import *
            """,
            after="""
            from mmengine.config import read_base

            with read_base():
                from .rpn_base import *

            # autofix split-thr: more than the boxes this RPN can hand batched_nms, so it never splits
            model.train_cfg.rpn_proposal.nms.split_thr = 12001
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="left alone: no RPN, an RPN that cannot reach 10000 boxes, or a larger split_thr",
            before="""
            model = dict(
                detector=dict(train_cfg=dict(rpn_proposal=dict(nms_pre=1000, nms=dict(type='nms')))),
                train_cfg=dict(rpn_proposal=dict(nms_pre=2000, nms=dict(type='nms', split_thr=100000))),
                bbox_head=dict(type='RetinaHead'))
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="left alone: proposals that skip NMS (mmdet3d H3DNet), even under AMP",
            before="""
            model = dict(
                type='H3DNet',
                train_cfg=dict(rpn=dict(sample_mod='vote'), rpn_proposal=dict(use_nms=False)))
            optim_wrapper = dict(type='AmpOptimWrapper')
            """,
        ),
        Example(
            kind=FileKind.SCRIPT,
            title="a training script that builds the RPN settings in Python",
            before="""
            train_cfg = dict(
                rpn_proposal=dict(nms_pre=2000, max_per_img=1000, nms=dict(type='nms', iou_threshold=0.7)))
            runner = build_runner(train_cfg)
            """,
            after="""
            train_cfg = dict(
                rpn_proposal=dict(nms_pre=2000, max_per_img=1000, nms=dict(type='nms', iou_threshold=0.7, split_thr=10001)))
            runner = build_runner(train_cfg)
            """,
        ),
    )

    def findings(self, config: Mapping[str, Any], options: Mapping[str, Any]) -> list[Finding]:
        amp = "AMP (AmpOptimWrapper)" if uses_amp(config) else "AMP (--amp)" if options.get("amp") else None
        found = []
        loads: dict[tuple[str, ...], RpnLoad] | None = None
        for proposal in rpn_proposals(config):
            problem = proposal.problem(options)
            if problem is None:
                continue
            needed = proposal.needed(options)
            edits = () if needed is None else (SetKey((*proposal.path, "nms", "split_thr"), needed),)
            cure = "pass --split-thr N" if needed is None else f"set split_thr {needed}"
            detail = f"{proposal.key}; {cure}"
            if amp is None:  # the box count only decides whether AMP crashes it: fp32 never does
                found.append(Finding(problem, Severity.LATENT, details=proposal_details(proposal), edits=edits,
                                     detail=detail))
                continue
            if loads is None:
                loads = {load.proposal.path: load for load in rpn_loads(config)}
            load = loads[proposal.path]
            crashes = load.at_risk and "train_dataloader" in config and needed is not None
            if crashes:
                problem, numbers = box_count_message(load, amp)
                detail = f"{numbers}; {cure}"
            found.append(Finding(
                problem,
                Severity.CRASH if crashes else Severity.LATENT,
                details=box_count_details(load),
                edits=edits,
                detail=detail,
            ))
        return found

    def transform(self, module: cst.Module, context: TransformContext) -> cst.Module:
        if context.kind is not FileKind.CONFIG:  # scripts and model files are never run: judged by their literals
            finder = _StridesFinder()
            module.visit(finder)
            return module.visit(_ScriptRewriter(finder.levels or FPN_LEVELS, context.options, context))
        return super().transform(module, context)
