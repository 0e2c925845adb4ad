from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import libcst as cst

from autofix.catalogue.amp_nms import AMP_NMS
from autofix.cst_helpers import InsideFunctions
from autofix.environment import installed_file
from autofix.rule import Applicability, Example, Option, Rule, TransformContext

_FUNCTION = "batched_nms"
_SCORES = "scores_after_nms"


def _is_score_column(node: cst.BaseExpression) -> bool:
    """``<name>[:, -1]``: the score column of the ``dets`` that mmcv's nms ops return."""
    if not (isinstance(node, cst.Subscript) and isinstance(node.value, cst.Name) and len(node.slice) == 2):
        return False
    rows, column = (element.slice for element in node.slice)
    all_rows = isinstance(rows, cst.Slice) and rows.lower is None and rows.upper is None and rows.step is None
    if not (all_rows and isinstance(column, cst.Index) and column.star is None):
        return False
    index = column.value
    return (
        isinstance(index, cst.UnaryOperation)
        and isinstance(index.operator, cst.Minus)
        and isinstance(index.expression, cst.Integer)
        and index.expression.value == "1"
    )


class _Rewriter(InsideFunctions):
    def encloses(self, function: cst.FunctionDef) -> bool:
        return function.name.value == _FUNCTION

    def leave_Assign(self, original: cst.Assign, updated: cst.Assign) -> cst.Assign:
        if not self.depth or len(updated.targets) != 1:
            return updated
        target = updated.targets[0].target
        if not (isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name) and target.value.value == _SCORES):
            return updated
        # A value already cast (`.to(...)`, `.type_as(...)`, `.type(...)`) is a Call, not a
        # Subscript, so it never matches: that is what makes the rewrite idempotent.
        if not _is_score_column(updated.value):
            return updated
        dtype = cst.Attribute(value=cst.Name(target.value.value), attr=cst.Name("dtype"))
        cast = cst.Call(func=cst.Attribute(value=updated.value, attr=cst.Name("to")), args=[cst.Arg(dtype)])
        return updated.with_changes(value=cast)


class NmsDtypeCast(Rule):
    """Cast `batched_nms` scores to the score buffer's dtype.

    ## What it does
    Inside any function named `batched_nms`, rewrites `scores_after_nms[mask[keep]] = dets[:, -1]`
    to `scores_after_nms[mask[keep]] = dets[:, -1].to(scores_after_nms.dtype)`. Only that one line
    changes; any index on the left and any name in place of `dets` are accepted. Point it at the
    installed `mmcv/ops/nms.py` (mmcv-full 1.x and mmcv 2.x both carry the line); `--mmcv` finds it.

    ## Why
    With more boxes than `split_thr` (default 10000), `batched_nms` runs NMS class by class and
    writes each class's scores into `scores_after_nms`, allocated with the dtype of `scores`. Under
    fp16 AMP the scores are Half while `dets` is Float (fp32 boxes concatenated with the scores), and
    the index assignment fails with "Index put requires the source and destination dtypes match, got
    Half for the destination and Float for the source" (BFloat16 under bf16 AMP). The path below
    `split_thr` never does this assignment, so only large inputs (big images in an RPN) crash.

    ## Fix safety
    Plain NMS hands back the very scores it was given (Half to Float and back is exact), so
    the boxes kept and their scores are those of the path below `split_thr`, and the final
    `torch.cat` still returns float32 `dets`; SoftNMS's reweighted scores are rounded to the scores'
    dtype. A value already cast (`.to(...)`, `.type_as(...)`, `.type(...)`) is left alone.
    Reinstalling or upgrading mmcv brings the original line back.
    """

    id = "nms-dtype-cast"
    summary = "Casts the per-class scores in mmcv batched_nms to the score buffer's dtype (mmcv ops/nms.py)"
    crash = AMP_NMS.crash
    tradeoff = "Edits an installed library: reinstalling or upgrading mmcv undoes it; results are unchanged"
    latent_message = "batched_nms writes Float scores into a Half buffer under AMP"
    applicability = Applicability.SAFE
    prefilter = (_SCORES,)
    options = (Option("mmcv", "also process mmcv's ops/nms.py, found in the training environment (the active virtualenv or "
                      "conda env, or --python) without importing mmcv", flag=True),)
    examples = (
        Example(
            title="mmcv's split path",
            before="""
            def batched_nms(boxes, scores, idxs, nms_cfg, class_agnostic=False):
                for id in torch.unique(idxs):
                    mask = (idxs == id).nonzero(as_tuple=False).view(-1)
                    dets, keep = nms_op(boxes_for_nms[mask], scores[mask], **nms_cfg_)
                    total_mask[mask[keep]] = True
                    scores_after_nms[mask[keep]] = dets[:, -1]  # SoftNMS may reweight
            """,
            after="""
            def batched_nms(boxes, scores, idxs, nms_cfg, class_agnostic=False):
                for id in torch.unique(idxs):
                    mask = (idxs == id).nonzero(as_tuple=False).view(-1)
                    dets, keep = nms_op(boxes_for_nms[mask], scores[mask], **nms_cfg_)
                    total_mask[mask[keep]] = True
                    scores_after_nms[mask[keep]] = dets[:, -1].to(scores_after_nms.dtype)  # SoftNMS may reweight
            """,
        ),
        Example(
            title="any index, any name for the NMS output",
            before="""
            def batched_nms(boxes, scores, idxs, nms_cfg):
                scores_after_nms[inds] = out[:, -1]
            """,
            after="""
            def batched_nms(boxes, scores, idxs, nms_cfg):
                scores_after_nms[inds] = out[:, -1].to(scores_after_nms.dtype)
            """,
        ),
        Example(
            title="already cast, another column, or outside batched_nms",
            before="""
            def batched_nms(boxes, scores, idxs, nms_cfg):
                scores_after_nms[mask[keep]] = dets[:, -1].type_as(scores_after_nms)
                scores_after_nms[mask[keep]] = dets[:, 0]
                scores = dets[:, -1]

            def multiclass_nms(dets, mask, keep):
                scores_after_nms[mask[keep]] = dets[:, -1]
            """,
        ),
    )

    def transform(self, module: cst.Module, context: TransformContext) -> cst.Module:
        return module.visit(_Rewriter())

    def extra_paths(self, options: Mapping[str, Any]) -> list[Path]:
        return [installed_file("mmcv", "ops/nms.py", "--mmcv", "mmcv-lite has no NMS op")] if options.get("mmcv") else []

