"""mmcv's real ``batched_nms`` on CPU: compiled alone from the golden copies of mmcv's ops/nms.py,
with only the compiled ``nms`` op replaced by a greedy NMS in torch that builds ``dets`` as mmcv's
``nms`` does (fp32 boxes and fp16 scores concatenate to fp32)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Optional, Tuple

import torch

GOLDEN = Path(__file__).parent / "golden" / "nms-dtype-cast"
CRASH = "Index put requires the source and destination dtypes match, got Half for the destination and Float for the source"


def greedy_nms(boxes, scores, iou_threshold, offset=0):
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


def batched_nms_from(source: str):
    """Compile the file's ``batched_nms``; its ``eval('nms')`` finds the stand-in op."""
    tree = ast.parse(source)
    function = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "batched_nms")
    namespace = {"torch": torch, "Tensor": torch.Tensor, "Dict": Dict, "Optional": Optional, "Tuple": Tuple,
                 "nms": greedy_nms}
    exec(compile(ast.Module(body=[function], type_ignores=[]), "batched_nms", "exec"), namespace)
    return namespace["batched_nms"]


def rpn_like_inputs(count: int, classes: int = 3):
    generator = torch.Generator().manual_seed(0)
    corners = torch.rand(count, 2, generator=generator) * 200
    sizes = torch.rand(count, 2, generator=generator) * 30 + 5
    boxes = torch.cat([corners, corners + sizes], dim=1)  # decoded from fp32 priors: fp32
    scores = torch.rand(count, generator=generator).half()  # sigmoid of an fp16 conv output
    idxs = torch.randint(classes, (count,), generator=generator)
    return boxes, scores, idxs
