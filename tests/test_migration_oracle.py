"""The migration proof's own parts, on small inline configs: pairing, the projections and comparator, the lr curves.

The corpus runs of the proof are in ``test_migration_corpus.py``.
"""

from __future__ import annotations

import copy
import textwrap
from pathlib import Path

import pytest
from migration.lr_curves import departure, lr_curve, max_relative_difference, mmcv_lr_curve
from migration.pairs import NAME, TOKEN_SET, WEIGHTS, Pair, name_tokens, pair_trees
from migration.projection import ABSENT, compare, project_2x, project_3x

NORM = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375])
MODEL = dict(
    type="FasterRCNN",
    backbone=dict(type="ResNet", depth=50, init_cfg=dict(type="Pretrained", checkpoint="torchvision://resnet50")),
    roi_head=dict(type="StandardRoIHead", bbox_head=dict(type="Shared2FCBBoxHead", num_classes=80)),
)
TEST_2X = [
    dict(type="LoadImageFromFile"),
    dict(type="MultiScaleFlipAug", img_scale=(1333, 800), flip=False, transforms=[
        dict(type="Resize", keep_ratio=True), dict(type="RandomFlip"), dict(type="Normalize", **NORM, to_rgb=True),
        dict(type="Pad", size_divisor=32), dict(type="ImageToTensor", keys=["img"]), dict(type="Collect", keys=["img"]),
    ]),
]
# A 2.x Faster R-CNN as mmengine resolves it, and its port written as the official 3.x configs write it.
OLD = dict(
    model=MODEL,
    data=dict(
        samples_per_gpu=2,
        workers_per_gpu=2,
        train=dict(type="RepeatDataset", times=3, dataset=dict(
            type="CocoDataset",
            ann_file="data/coco/annotations/instances_train2017.json",
            img_prefix="data/coco/train2017/",
            pipeline=[
                dict(type="LoadImageFromFile"),
                dict(type="LoadAnnotations", with_bbox=True),
                dict(type="Resize", img_scale=[(1333, 640), (1333, 800)], multiscale_mode="range", keep_ratio=True),
                dict(type="RandomFlip", flip_ratio=0.5),
                dict(type="Normalize", **NORM, to_rgb=True),
                dict(type="Pad", size_divisor=32),
                dict(type="DefaultFormatBundle"),
                dict(type="Collect", keys=["img", "gt_bboxes", "gt_labels"]),
            ],
        )),
        val=dict(type="CocoDataset", ann_file="data/coco/annotations/instances_val2017.json", pipeline=TEST_2X),
        test=dict(type="CocoDataset", ann_file="data/coco/annotations/instances_val2017.json", pipeline=TEST_2X),
    ),
    evaluation=dict(interval=1, metric="bbox"),
    optimizer=dict(type="SGD", lr=0.02, momentum=0.9, weight_decay=0.0001),
    optimizer_config=dict(grad_clip=None),
    fp16=dict(loss_scale=512.0),
    lr_config=dict(policy="step", warmup="linear", warmup_iters=500, warmup_ratio=0.001, step=[8, 11]),
    runner=dict(type="EpochBasedRunner", max_epochs=12),
    checkpoint_config=dict(interval=1),
)
TEST_3X = dict(type="CocoDataset", data_root="data/coco/", ann_file="annotations/instances_val2017.json", pipeline=[
    dict(type="LoadImageFromFile"),
    dict(type="Resize", scale=(1333, 800), keep_ratio=True),
    dict(type="LoadAnnotations", with_bbox=True),
    dict(type="PackDetInputs", meta_keys=("img_id", "img_path", "ori_shape", "img_shape", "scale_factor")),
])
NEW = dict(
    model=dict(
        MODEL,
        data_preprocessor=dict(type="DetDataPreprocessor", **NORM, bgr_to_rgb=True, pad_size_divisor=32),
    ),
    train_dataloader=dict(
        batch_size=2,
        num_workers=2,
        persistent_workers=True,
        sampler=dict(type="DefaultSampler", shuffle=True),
        batch_sampler=dict(type="AspectRatioBatchSampler"),
        dataset=dict(type="RepeatDataset", times=3, dataset=dict(
            type="CocoDataset",
            data_root="data/coco/",
            ann_file="annotations/instances_train2017.json",
            data_prefix=dict(img="train2017/"),
            filter_cfg=dict(filter_empty_gt=True, min_size=32),
            pipeline=[
                dict(type="LoadImageFromFile"),
                dict(type="LoadAnnotations", with_bbox=True),
                dict(type="RandomResize", scale=[(1333, 640), (1333, 800)], keep_ratio=True),
                dict(type="RandomFlip", prob=0.5),
                dict(type="PackDetInputs"),
            ],
        )),
    ),
    val_dataloader=dict(batch_size=1, num_workers=2, dataset=TEST_3X),
    test_dataloader=dict(batch_size=1, num_workers=2, dataset=TEST_3X),
    val_evaluator=dict(type="CocoMetric", ann_file="data/coco/annotations/instances_val2017.json", metric="bbox"),
    test_evaluator=dict(type="CocoMetric", ann_file="data/coco/annotations/instances_val2017.json", metric="bbox"),
    optim_wrapper=dict(
        type="AmpOptimWrapper",
        loss_scale=512.0,
        optimizer=dict(type="SGD", lr=0.02, momentum=0.9, weight_decay=0.0001),
        clip_grad=None,
    ),
    param_scheduler=[
        dict(type="LinearLR", start_factor=0.001, by_epoch=False, begin=0, end=500),
        dict(type="MultiStepLR", begin=0, end=12, by_epoch=True, milestones=[8, 11], gamma=0.1),
    ],
    train_cfg=dict(type="EpochBasedTrainLoop", max_epochs=12, val_interval=1),
    val_cfg=dict(type="ValLoop"),
    test_cfg=dict(type="TestLoop"),
    default_hooks=dict(checkpoint=dict(type="CheckpointHook", interval=1)),
)


def _changed(config: dict, path: str, value) -> dict:
    """A deep copy of ``config`` with the dotted ``path`` set to ``value`` (list items by index)."""
    changed = copy.deepcopy(config)
    *parents, last = path.split(".")
    target = changed
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    target[int(last) if isinstance(target, list) else last] = value
    return changed


def test_a_2x_config_and_its_port_project_alike():
    assert compare(project_2x(OLD), project_3x(NEW)) == {}


def test_compare_names_a_changed_lr():
    assert compare(project_2x(OLD), project_3x(_changed(NEW, "optim_wrapper.optimizer.lr", 0.01))) == {
        "optim_wrapper.optimizer.lr": (0.02, 0.01)
    }


@pytest.mark.parametrize(
    ("path", "value", "key"),
    [
        ("model.roi_head.bbox_head.num_classes", 3, "model.roi_head.bbox_head.num_classes"),
        ("model.data_preprocessor.pad_size_divisor", 64, "model.data_preprocessor.pad_size_divisor"),
        ("train_dataloader.dataset.dataset.ann_file", "annotations/x.json", "train_dataset.ann_file"),
        ("train_dataloader.dataset.dataset.pipeline.2.type", "Resize", "train_pipeline"),
        ("test_dataloader.dataset.pipeline.1.scale", (800, 600), "test_resize.scale"),
        ("val_evaluator.metric", ["bbox", "segm"], "val_evaluator.metric"),
        ("train_cfg.val_interval", 2, "train_cfg.val_interval"),
        ("default_hooks.checkpoint.interval", 2, "default_hooks.checkpoint.interval"),
        ("optim_wrapper.type", "OptimWrapper", "optim_wrapper.amp"),
    ],
)
def test_compare_names_each_canonical_key(path, value, key):
    assert list(compare(project_2x(OLD), project_3x(_changed(NEW, path, value)))) == [key]


def test_a_key_only_one_side_has_is_absent_on_the_other():
    clipped = _changed(NEW, "optim_wrapper.clip_grad", dict(max_norm=35, norm_type=2))
    assert compare(project_3x(NEW), project_3x(clipped)) == {
        "optim_wrapper.clip_grad": (None, ABSENT),
        "optim_wrapper.clip_grad.max_norm": (ABSENT, 35),
        "optim_wrapper.clip_grad.norm_type": (ABSENT, 2),
    }


def test_2x_defaults_are_read_as_mmdet_2x_read_them():
    """No ``evaluation`` still evaluates every epoch; ``imgs_per_gpu`` wins over ``samples_per_gpu``; a list of
    ``ann_file`` is a ConcatDataset; ``multiscale_mode='value'`` is RandomChoiceResize."""
    old = copy.deepcopy(OLD)
    del old["evaluation"]
    old["data"]["imgs_per_gpu"] = 4
    inner = old["data"]["train"]["dataset"]
    inner["ann_file"] = ["a.json", "b.json"]
    inner["pipeline"][2]["multiscale_mode"] = "value"
    projection = project_2x(old)
    assert projection["train_cfg.val_interval"] == 1
    assert projection["val_evaluator.metric"] == [None]
    assert projection["train_dataloader.batch_size"] == 4
    assert projection["train_dataset.wrappers"] == ["RepeatDataset", "ConcatDataset"]
    assert projection["train_dataset.ann_file"] == ["a.json", "b.json"]
    assert projection["train_pipeline"][2] == "RandomChoiceResize"


EPOCH = 100


def test_the_official_warmup_mapping_is_mmcv_one_iteration_early():
    """``LinearLR(end=500)`` reaches the base lr at iteration 499, mmcv's warmup at 500: between mmcv's curve
    and the same one iteration ahead during warmup, equal afterwards."""
    ported, mmcv = lr_curve(NEW, EPOCH), mmcv_lr_curve(OLD, EPOCH)
    assert len(ported) == len(mmcv) == 12 * EPOCH
    assert departure(ported, mmcv, mmcv_lr_curve(OLD, EPOCH, warmup_lead=1)) is None
    assert 0.001 < max_relative_difference(ported, mmcv, 0, 500) < 0.0021
    assert max_relative_difference(ported, mmcv, 500) < 1e-12


def test_a_changed_milestone_departs_where_the_lr_first_differs():
    later = _changed(NEW, "param_scheduler.1.milestones", [9, 11])
    assert departure(lr_curve(later, EPOCH), mmcv_lr_curve(OLD, EPOCH), mmcv_lr_curve(OLD, EPOCH, 1)) == 8 * EPOCH


def test_the_documented_exp_warmup_mapping_decays_instead():
    """mmengine's docs map ``warmup='exp'`` to ``ExponentialLR(gamma=warmup_ratio)``: it divides the lr by 1000
    every iteration, where mmcv's exp warmup rises to the base lr."""
    old = _changed(OLD, "lr_config.warmup", "exp")
    new = _changed(NEW, "param_scheduler.0", dict(type="ExponentialLR", gamma=0.001, begin=0, end=500, by_epoch=False))
    documented, mmcv = lr_curve(new, EPOCH), mmcv_lr_curve(old, EPOCH)
    assert departure(documented, mmcv, mmcv_lr_curve(old, EPOCH, 1)) == 0
    assert documented[2] < documented[1] < documented[0] and mmcv[0] < mmcv[1] < mmcv[2]


def test_an_iteration_based_runner_updates_by_iteration():
    """IterBasedRunner makes mmcv's lr hooks update by iteration (``by_epoch=False``): step at iteration 600."""
    old = dict(OLD, runner=dict(type="IterBasedRunner", max_iters=1000),
               lr_config=dict(policy="step", warmup="constant", warmup_iters=50, warmup_ratio=0.5, step=[600]))
    mmcv = mmcv_lr_curve(old, EPOCH)
    assert (mmcv[49], mmcv[50], mmcv[599], mmcv[600]) == (0.01, 0.02, 0.02, pytest.approx(0.002))


def _write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(textwrap.dedent(text))


def test_pairs_by_weights_then_name_then_token_set_unique_twins_only(tmp_path: Path):
    url = "https://download.openmmlab.com/mmdetection/v2.0/retinanet/retinanet_r50_fpn_1x_coco/x.pth"
    _write(tmp_path / "old", {
        "retinanet/metafile.yml": f"Models:\n  - Config: configs/retinanet/retinanet_r50_fpn_1x_coco.py\n    Weights: {url}\n",
        "retinanet/retinanet_r50_fpn_1x_coco.py": "",
        "fcos/fcos_r50_caffe_fpn_gn-head_mstrain_1x_coco.py": "",
        "fcos/fcos_center_r50_fpn_1x_coco.py": "",
        "x/a_b_1x.py": "",
        "_base_/models/retinanet_r50_fpn.py": "",
    })
    _write(tmp_path / "new", {
        # renamed past any name rule, found by its weights; the `+` of a folder is URL-quoted in 3.x metafiles
        "retina+net/metafile.yml": f"Models:\n  - Config: configs/retina%2Bnet/retina.py\n    Weights: {url}\n",
        "retina+net/retina.py": "",
        "fcos/fcos_r50-caffe_fpn_gn-head_ms-1x_coco.py": "",
        "fcos/fcos_r50_fpn_center_1x_coco.py": "",
        "x/a-b_1x.py": "",
        "y/a_b-1x.py": "",  # two twins: no pair
        "_base_/models/retinanet_r50_fpn.py": "",
    })
    assert name_tokens("faster_rcnn_r50_fpn_mstrain_3x_coco.py") == name_tokens("faster-rcnn_r50_fpn_ms-3x_coco.py")
    assert pair_trees(tmp_path / "old", tmp_path / "new") == [
        Pair("fcos/fcos_center_r50_fpn_1x_coco.py", "fcos/fcos_r50_fpn_center_1x_coco.py", TOKEN_SET),
        Pair("fcos/fcos_r50_caffe_fpn_gn-head_mstrain_1x_coco.py", "fcos/fcos_r50-caffe_fpn_gn-head_ms-1x_coco.py", NAME),
        Pair("retinanet/retinanet_r50_fpn_1x_coco.py", "retina+net/retina.py", WEIGHTS),
    ]
