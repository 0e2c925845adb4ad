"""split-thr and check where the RPN's settings are not a plain ``model.train_cfg.rpn_proposal``:
Co-DETR / Co-DINO keep ``model.train_cfg`` as a list, one item per head, and mmdet3d's VoteNet family
(H3DNet) has proposals that never run NMS. The configs are written here, shaped as those projects'."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autofix.catalogue.split_thr import SplitThr
from autofix.cli import app
from autofix.domain.rpn import rpn_loads
from autofix.mmconfig import resolve, unexpected_changes

# Co-DINO 5-scale with large-scale jitter at 1024x1024: a 5-output neck, and the query head adds a sixth
# level, so the RPN's anchor generator has 6 strides; its train_cfg is the second of three.
CO_DINO_LSJ = """\
image_size = (1024, 1024)
model = dict(
    type='CoDETR',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        pad_size_divisor=32,
        batch_augments=[dict(type='BatchFixedSizePad', size=image_size)]),
    neck=dict(type='ChannelMapper', in_channels=[256, 512, 1024, 2048], out_channels=256, num_outs=5),
    query_head=dict(type='CoDINOHead', num_feature_levels=5),
    rpn_head=dict(
        type='RPNHead',
        anchor_generator=dict(type='AnchorGenerator', octave_base_scale=4, scales_per_octave=3,
                              ratios=[0.5, 1.0, 2.0], strides=[4, 8, 16, 32, 64, 128])),
    train_cfg=[
        dict(assigner=dict(type='HungarianAssigner')),
        dict(
            rpn=dict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.7)),
            rpn_proposal=dict(
                nms_pre=4000,
                max_per_img=1000,
                nms=dict(type='nms', iou_threshold=0.7),
                min_bbox_size=0),
            rcnn=dict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5))),
        dict(assigner=dict(type='ATSSAssigner', topk=9)),
    ])
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResize', scale=image_size, ratio_range=(0.1, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_type='absolute_range', crop_size=image_size, allow_negative_crop=True),
    dict(type='Pad', size=image_size),
    dict(type='PackDetInputs'),
]
train_dataloader = dict(batch_size=2, dataset=dict(type='CocoDataset', pipeline=train_pipeline))
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=2e-4))
"""
CO_DINO_AMP = "_base_ = './co_dino_5scale_lsj.py'\noptim_wrapper = dict(type='AmpOptimWrapper')\n"
RPN_ITEM = ("model", "train_cfg", 1, "rpn_proposal")


def write_co_dino(folder: Path) -> Path:
    """The Co-DINO base and its AMP leaf in ``folder``; returns the leaf."""
    (folder / "co_dino_5scale_lsj.py").write_text(CO_DINO_LSJ)
    leaf = folder / "co_dino_amp.py"
    leaf.write_text(CO_DINO_AMP)
    return leaf


def cli(*args: str):
    return CliRunner().invoke(app, list(args))


def test_the_rpn_in_a_train_cfg_list_hands_batched_nms_18880_boxes(tmp_path: Path):
    [load] = rpn_loads(resolve(write_co_dino(tmp_path), {}))
    assert load.proposal.path == RPN_ITEM and (load.proposal.levels, load.proposal.nms_pre) == (6, 4000)
    # 1024x1024: strides 4 to 32 fill nms_pre; 64 and 128 have 16 x 16 and 8 x 8 cells of 9 anchors.
    assert (load.boxes, load.per_level, load.batch) == (18880, (4000, 4000, 4000, 4000, 2304, 576), (1024, 1024))


def test_check_reports_the_list_item_rpn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    write_co_dino(tmp_path)
    monkeypatch.chdir(tmp_path)
    fp32 = cli("check", "--fix", "split-thr", "co_dino_5scale_lsj.py")
    assert fp32.exit_code == 1
    assert " split-thr up to 24000 boxes" in fp32.stdout and "\n  latent: model.train_cfg[1].rpn_proposal; " in fp32.stdout
    amp = cli("check", "--amp", "--fix", "split-thr", "co_dino_5scale_lsj.py")
    assert amp.exit_code == 1
    # Placed at the line the fix changes: the item's nms.
    assert amp.stdout.startswith("co_dino_5scale_lsj.py:21:1: split-thr 18880 RPN boxes reach batched_nms under AMP")
    assert "\n  crash: AMP (--amp); model.train_cfg[1].rpn_proposal: " in amp.stdout
    leaf = cli("check", "co_dino_amp.py")
    assert leaf.exit_code == 1
    assert leaf.stdout.startswith("co_dino_amp.py:2:1: split-thr ") and "\n  crash: AMP (AmpOptimWrapper); " in leaf.stdout


LAZY_AMP = """\
from mmengine.config import read_base
from mmengine.optim import AmpOptimWrapper

with read_base():
    from .co_dino_5scale_lsj import *

optim_wrapper.update(dict(type=AmpOptimWrapper))
"""


@pytest.mark.parametrize(
    ("leaf_text", "override"),
    [
        (CO_DINO_AMP, "_base_.model.train_cfg[1].rpn_proposal.nms.split_thr = 24001\n"),
        (LAZY_AMP, "model.train_cfg[1].rpn_proposal.nms.split_thr = 24001\n"),
    ],
    ids=["base", "read_base"],
)
def test_amp_nms_sets_split_thr_in_the_list_item_proved_by_mmengine(
    leaf_text: str, override: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    leaf = write_co_dino(tmp_path)
    leaf.write_text(leaf_text)
    before = resolve(leaf, {})
    monkeypatch.chdir(tmp_path)
    fixed = cli("apply", "--fix", "amp-nms", "--verify", leaf.name)
    assert fixed.exit_code == 0, fixed.output
    comment = "# autofix split-thr: more than the boxes this RPN can hand batched_nms, so it never splits"
    assert leaf.read_text() == f"{leaf_text}\n{comment}\n{override}"
    assert (tmp_path / "co_dino_5scale_lsj.py").read_text() == CO_DINO_LSJ  # the shared base is left alone
    after = resolve(leaf, {})
    changed, unexpected = unexpected_changes(before, after, [])
    assert changed == ["model.train_cfg[1].rpn_proposal.nms.split_thr"] and SplitThr().problem(after, {}) is None
    assert cli("apply", "--dry-run", "--fix", "amp-nms", leaf.name).exit_code == 0  # nothing left to do
    assert cli("check", leaf.name).exit_code == 0


def test_the_base_itself_is_fixed_in_its_list_item(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    write_co_dino(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = cli("apply", "--fix", "split-thr", "--verify", ".")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "co_dino_5scale_lsj.py").read_text() == CO_DINO_LSJ.replace(
        "nms=dict(type='nms', iou_threshold=0.7)", "nms=dict(type='nms', iou_threshold=0.7, split_thr=24001)"
    )
    assert (tmp_path / "co_dino_amp.py").read_text() == CO_DINO_AMP  # its inheritor needs nothing more


H3DNET = textwrap.dedent("""\
    model = dict(
        type='H3DNet',
        rpn_head=dict(type='VoteHead', vote_module_cfg=dict(in_channels=256)),
        train_cfg=dict(
            rpn=dict(pos_distance_thr=0.3, neg_distance_thr=0.6, sample_mod='vote'),
            rpn_proposal=dict(use_nms=False),
            rcnn=dict(pos_distance_thr=0.3, neg_distance_thr=0.6, sample_mod='vote')))
    train_dataloader = dict(batch_size=8, dataset=dict(type='ScanNetDataset', pipeline=[]))
    optim_wrapper = dict(type='AmpOptimWrapper', optimizer=dict(type='AdamW', lr=0.008))
""")


@pytest.mark.parametrize("command", [["apply", "--fix", "split-thr"], ["apply", "--fix", "amp-nms", "--dry-run"],
                                     ["check"], ["check", "--amp", "--fix", "split-thr"]])
def test_proposals_that_skip_nms_are_nothing_to_fix(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    (tmp_path / "h3dnet.py").write_text(H3DNET)
    monkeypatch.chdir(tmp_path)
    result = cli(*command, "h3dnet.py")
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and "error" not in result.stderr
    assert (tmp_path / "h3dnet.py").read_text() == H3DNET
