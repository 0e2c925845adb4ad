"""nms-dtype-cast proved on CPU: mmcv's own batched_nms crashes on its split path with fp16
scores, and once patched keeps the same boxes as its unsplit path.

The function is compiled alone from the golden copies of mmcv's ops/nms.py; only the compiled
``nms`` op is replaced, by a greedy NMS in torch that builds ``dets`` as mmcv's ``nms`` does.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Optional, Tuple

import pytest

from autofix.engine import rewrite_source
from autofix.transforms.nms_dtype_cast import NmsDtypeCast

torch = pytest.importorskip("torch")

GOLDEN = Path(__file__).parent / "golden" / "nms-dtype-cast"
CRASH = "Index put requires the source and destination dtypes match, got Half for the destination and Float for the source"


def _greedy_nms(boxes, scores, iou_threshold, offset=0):
    x1, y1, x2, y2 = boxes.unbind(1)
    areas = (x2 - x1 + offset) * (y2 - y1 + offset)
    suppressed = torch.zeros(len(boxes), dtype=torch.bool)
    keep = []
    # Stable, so that ties break the same way on a class's subset as on all boxes.
    for i in torch.argsort(scores, descending=True, stable=True).tolist():
        if suppressed[i]:
            continue
        keep.append(i)
        width = (torch.minimum(x2[i], x2) - torch.maximum(x1[i], x1) + offset).clamp(min=0)
        height = (torch.minimum(y2[i], y2) - torch.maximum(y1[i], y1) + offset).clamp(min=0)
        overlap = width * height
        suppressed |= overlap / (areas[i] + areas - overlap) > iou_threshold
    inds = torch.tensor(keep, dtype=torch.long)
    # As mmcv's nms: fp32 boxes and fp16 scores (autocast) concatenate to fp32 dets.
    dets = torch.cat((boxes[inds], scores[inds].reshape(-1, 1)), dim=1)
    return dets, inds


def _batched_nms(source: str):
    """Compile the file's ``batched_nms``; its ``eval('nms')`` finds the stand-in op."""
    tree = ast.parse(source)
    function = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "batched_nms")
    namespace = {"torch": torch, "Tensor": torch.Tensor, "Dict": Dict, "Optional": Optional, "Tuple": Tuple,
                 "nms": _greedy_nms}
    exec(compile(ast.Module(body=[function], type_ignores=[]), "batched_nms", "exec"), namespace)
    return namespace["batched_nms"]


def _rpn_like_inputs(count: int, classes: int = 3):
    generator = torch.Generator().manual_seed(0)
    corners = torch.rand(count, 2, generator=generator) * 200
    sizes = torch.rand(count, 2, generator=generator) * 30 + 5
    boxes = torch.cat([corners, corners + sizes], dim=1)  # decoded from fp32 priors: fp32
    scores = torch.rand(count, generator=generator).half()  # sigmoid of an fp16 conv output
    idxs = torch.randint(classes, (count,), generator=generator)
    return boxes, scores, idxs


@pytest.mark.parametrize("version", ["mmcv_2_1_0", "mmcv_1_7_2"])
@pytest.mark.parametrize(("count", "split_thr"), [(60, 50), (10000, None)], ids=["small-split_thr", "default-10000"])
def test_split_path_crashes_on_fp16_scores_until_patched(version: str, count: int, split_thr: int | None):
    original = (GOLDEN / f"{version}.py").read_text(encoding="utf-8")
    patched = rewrite_source(original, [NmsDtypeCast()]).text
    boxes, scores, idxs = _rpn_like_inputs(count)
    nms_cfg = {"type": "nms", "iou_threshold": 0.5}
    split_cfg = nms_cfg if split_thr is None else {**nms_cfg, "split_thr": split_thr}

    with pytest.raises(RuntimeError, match=CRASH):
        _batched_nms(original)(boxes, scores, idxs, split_cfg)

    dets, keep = _batched_nms(patched)(boxes, scores, idxs, split_cfg)
    ref_dets, ref_keep = _batched_nms(original)(boxes, scores, idxs, {**nms_cfg, "split_thr": count + 1})
    assert 0 < len(keep) < count
    order, ref_order = keep.argsort(), ref_keep.argsort()
    assert torch.equal(keep[order], ref_keep[ref_order])
    assert dets.dtype == ref_dets.dtype == torch.float32
    assert torch.equal(dets[order], ref_dets[ref_order])
