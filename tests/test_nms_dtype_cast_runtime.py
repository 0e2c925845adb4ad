"""nms-dtype-cast proved on CPU: mmcv's own batched_nms crashes on its split path with fp16
scores, and once patched keeps the same boxes as its unsplit path.

The function is compiled alone from the golden copies of mmcv's ops/nms.py; only the compiled
``nms`` op is replaced, by a greedy NMS in torch that builds ``dets`` as mmcv's ``nms`` does.
"""

from __future__ import annotations

import pytest

from autofix.catalogue.nms_dtype_cast import NmsDtypeCast
from autofix.engine import rewrite_source

torch = pytest.importorskip("torch")

from mmcv_nms import CRASH, GOLDEN, batched_nms_from, rpn_like_inputs  # noqa: E402 (needs torch)


@pytest.mark.parametrize("version", ["mmcv_2_1_0", "mmcv_1_7_2"])
@pytest.mark.parametrize(("count", "split_thr"), [(60, 50), (10000, None)], ids=["small-split_thr", "default-10000"])
def test_split_path_crashes_on_fp16_scores_until_patched(version: str, count: int, split_thr: int | None):
    original = (GOLDEN / f"{version}.py").read_text(encoding="utf-8")
    patched = rewrite_source(original, [NmsDtypeCast()]).text
    boxes, scores, idxs = rpn_like_inputs(count)
    nms_cfg = {"type": "nms", "iou_threshold": 0.5}
    split_cfg = nms_cfg if split_thr is None else {**nms_cfg, "split_thr": split_thr}

    with pytest.raises(RuntimeError, match=CRASH):
        batched_nms_from(original)(boxes, scores, idxs, split_cfg)

    dets, keep = batched_nms_from(patched)(boxes, scores, idxs, split_cfg)
    ref_dets, ref_keep = batched_nms_from(original)(boxes, scores, idxs, {**nms_cfg, "split_thr": count + 1})
    assert 0 < len(keep) < count
    order, ref_order = keep.argsort(), ref_keep.argsort()
    assert torch.equal(keep[order], ref_keep[ref_order])
    assert dets.dtype == ref_dets.dtype == torch.float32
    assert torch.equal(dets[order], ref_dets[ref_order])
