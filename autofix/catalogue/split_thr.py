from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import libcst as cst

from autofix.config_edit import (
    ConfigStyle,
    append_statements,
    binds_name,
    config_style,
    first_effective,
    last_assignment,
    replace_assigned_value,
    subscript_chain,
)
from autofix.cst_helpers import (
    is_mapping_literal,
    mapping_value,
    nested_dict_call,
    set_nested_value,
    string_value,
)
from autofix.domain.rpn import FPN_LEVELS, MMCV_DEFAULT_SPLIT_THR, rpn_proposals
from autofix.rule import (
    Applicability,
    Example,
    FileKind,
    Option,
    Rule,
    TransformContext,
    TransformFailed,
    positive_int,
)

_COMMENT = "autofix split-thr: more than the boxes this RPN can hand batched_nms, so it never splits"


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


class SplitThr(Rule):
    """Raise `split_thr` of the RPN's NMS above its box count.

    ## What it does
    Sets `model.train_cfg.rpn_proposal.nms.split_thr` (also for cascade, HTC and nested detectors, and
    2.x top-level `train_cfg`) to one more than the RPN can hand `batched_nms`: the number of anchor
    strides (feature levels) times `rpn_proposal.nms_pre`, read from the config as mmengine resolves
    it: 10001 for the stock FPN RPN (5 x 2000), 12001 for a caffe-C4 RPN (1 x 12000). `--split-thr N`
    sets N instead. A larger value already set is never lowered, and configs whose RPN cannot reach
    `split_thr` or that have no RPN are left alone.

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
    crash = (
        "Index put requires the source and destination dtypes match, "
        "got Half for the destination and Float for the source (mmcv batched_nms)"
    )
    tradeoff = "A little compute and memory: one NMS over all RPN boxes instead of per-class splits"
    applicability = Applicability.SAFE
    prefilter = ("_base_", "read_base", "rpn_proposal")
    chain_prefilter = ("rpn_proposal",)  # a config none of whose chain mentions it has no RPN
    only_fixes_problems = True
    intended_keys = ("*rpn_proposal.nms.split_thr",)
    options = (
        Option("split-thr", "the split_thr to set (default: anchor strides x nms_pre + 1)", parse=positive_int, metavar="N"),
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

    def problem(self, config: Mapping[str, Any], options: Mapping[str, Any]) -> str | None:
        return next(filter(None, (p.problem(options) for p in rpn_proposals(config))), None)

    def transform(self, module: cst.Module, context: TransformContext) -> cst.Module:
        if context.kind is not FileKind.CONFIG:
            finder = _StridesFinder()
            module.visit(finder)
            return module.visit(_ScriptRewriter(finder.levels or FPN_LEVELS, context.options, context))
        options = context.options
        wrong = [p for p in rpn_proposals(context.resolve_config()) if p.problem(options)]
        if not wrong:
            return module
        edits = []
        for proposal in wrong:
            needed = proposal.needed(options)
            if needed is None:
                raise TransformFailed(proposal.problem(options))
            edits.append(((*proposal.path, "nms", "split_thr"), needed))
            bound = f"{proposal.levels} level{'s' if proposal.levels != 1 else ''} x nms_pre {proposal.nms_pre} = {proposal.max_boxes} boxes at most"
            context.note(f"split_thr {needed} at {'.'.join(proposal.path)}.nms ({bound})")
        # A generator: a later form is built only when the earlier ones are rejected.
        candidates = (form(module, edits) for form in (_in_place, _merged_override, _assignment_override))
        return first_effective(
            context, candidates, lambda config: self.problem(config, options), self.intended_keys
        )


Edits = list[tuple[tuple[str, ...], int]]


def _in_place(module: cst.Module, edits: Edits) -> cst.Module | None:
    """Set the keys inside this file's own last ``<root> = dict(...)`` literal (missing levels created)."""
    for path, value in edits:
        found = last_assignment(module, path[0])
        if found is None:
            return None
        index, assign = found
        new_value = set_nested_value(assign.value, list(path[1:]), _integer(value))
        if new_value is None:
            return None
        module = replace_assigned_value(module, index, new_value)
    return module


def _merged_override(module: cst.Module, edits: Edits) -> cst.Module | None:
    """``_base_`` style: a new ``model = dict(...)`` merges into the inherited one (not for a name already bound)."""
    if config_style(module) is not ConfigStyle.BASE:
        return None
    roots: dict[str, cst.BaseExpression] = {}
    for path, value in edits:
        if any(binds_name(statement, path[0]) for statement in module.body):
            return None
        if path[0] in roots:
            roots[path[0]] = set_nested_value(roots[path[0]], list(path[1:]), _integer(value))
        else:
            roots[path[0]] = nested_dict_call(list(path[1:]), _integer(value))
    code = "".join(f"{root} = {cst.Module(body=[]).code_for_node(value)}\n" for root, value in roots.items())
    return append_statements(module, code, comment=_COMMENT)


def _assignment_override(module: cst.Module, edits: Edits) -> cst.Module:
    """Assign the key itself: on the inherited ``_base_`` dict (old style, name not bound here),
    else on the name this file binds (ConfigDict attributes in new style, keys in old style)."""
    lazy = config_style(module) is ConfigStyle.LAZY
    lines = []
    for path, value in edits:
        if lazy:
            lines.append(f"{'.'.join(path)} = {value}")
        elif any(binds_name(statement, path[0]) for statement in module.body):
            lines.append(f"{subscript_chain(path[0], path[1:])} = {value}")
        else:
            lines.append(f"_base_.{'.'.join(path)} = {value}")
    return append_statements(module, "\n".join(lines) + "\n", comment=_COMMENT)
