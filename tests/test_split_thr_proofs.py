"""split-thr proved end to end: the crash report's config, fixed through the CLI with
``--fix amp-nms``, resolved by mmengine, and its RPN's NMS settings fed to mmcv's real
(unpatched) ``batched_nms`` with as many fp16-scored boxes as that RPN can produce."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autofix.cli import app
from autofix.domain.rpn import rpn_loads
from autofix.mmconfig import resolve, value_at

torch = pytest.importorskip("torch")

from mmcv_nms import CRASH, GOLDEN, batched_nms_from, rpn_like_inputs  # noqa: E402 (needs torch)
from test_split_thr_lists import RPN_ITEM, write_co_dino  # noqa: E402

SPLIT_THR_CASES = Path(__file__).parent / "golden" / "split-thr"


def _rpn_train_nms(config: dict) -> tuple[dict, int]:
    """The RPN's train-time NMS settings and the most boxes it hands batched_nms (levels x nms_pre)."""
    model = config["model"]
    proposal = model["train_cfg"]["rpn_proposal"]
    levels = len(model["rpn_head"]["anchor_generator"]["strides"])
    return dict(proposal["nms"]), levels * proposal["nms_pre"]


def test_report_config_crashes_mmcv_batched_nms_until_fixed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    shutil.copytree(SPLIT_THR_CASES / "_base_", tmp_path / "_base_")
    config = tmp_path / "report.py"
    shutil.copy(SPLIT_THR_CASES / "report_amp_2666x1600.py", config)
    nms_before, most_boxes = _rpn_train_nms(resolve(config, {}))
    assert most_boxes == 10000 and "split_thr" not in nms_before

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["apply", "--fix", "amp-nms", "--verify", "report.py"])
    assert result.exit_code == 0, result.output
    nms_after, _ = _rpn_train_nms(resolve(config, {}))
    assert nms_after == {**nms_before, "split_thr": 10001}

    # The RPN calls batched_nms with the feature level as the class index: 5 levels of 2000 boxes.
    boxes, scores, levels = rpn_like_inputs(most_boxes, classes=5)
    mmcv_batched_nms = batched_nms_from((GOLDEN / "mmcv_2_1_0.py").read_text(encoding="utf-8"))
    with pytest.raises(RuntimeError, match=CRASH):
        mmcv_batched_nms(boxes, scores, levels, nms_before)
    dets, keep = mmcv_batched_nms(boxes, scores, levels, nms_after)
    assert 0 < len(keep) < most_boxes and dets.dtype == torch.float32


def test_co_dino_list_item_rpn_crashes_mmcv_batched_nms_until_fixed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Co-DINO keeps its RPN's settings in one item of a list-valued train_cfg: 18,880 boxes at 1024x1024."""
    leaf = write_co_dino(tmp_path)
    [load] = rpn_loads(resolve(leaf, {}))
    nms_before = dict(value_at(resolve(leaf, {}), (*RPN_ITEM, "nms")))
    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(app, ["apply", "--fix", "amp-nms", leaf.name]).exit_code == 0
    nms_after = dict(value_at(resolve(leaf, {}), (*RPN_ITEM, "nms")))

    # One class index per feature level, each with as many boxes as the RPN keeps there.
    boxes, scores, _ = rpn_like_inputs(load.boxes)
    levels = torch.cat([torch.full((count,), level) for level, count in enumerate(load.per_level)])
    mmcv_batched_nms = batched_nms_from((GOLDEN / "mmcv_2_1_0.py").read_text(encoding="utf-8"))
    with pytest.raises(RuntimeError, match=CRASH):
        mmcv_batched_nms(boxes, scores, levels, nms_before)
    dets, keep = mmcv_batched_nms(boxes, scores, levels, nms_after)
    assert nms_after["split_thr"] == 24001 and 0 < len(keep) < load.boxes and dets.dtype == torch.float32
