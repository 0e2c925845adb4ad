"""What the pipelines and model groups read from a resolved 2.x config, beyond their examples: the
data preprocessor they derive, the Pads that stay in the pipelines, and the constructs they refuse
rather than guess, the same on a second run."""

from __future__ import annotations

from pathlib import Path

from autofix.catalogue.legacy_2x_keys import Legacy2xKeys
from autofix.engine import run
from autofix.migration.model import target_preprocessor
from autofix.migration.pipelines import pad_key, preprocessing, resolved_pipelines, staying_pads

NORMALIZE = dict(type='Normalize', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)


def _config(train: list, test: list) -> dict:
    return {"data": {"train": {"type": "RepeatDataset", "dataset": {"pipeline": train}}, "test": {"pipeline": test}}}


def test_train_fixed_size_pad_becomes_batch_fixed_size_pad_with_the_test_divisor():
    train = [dict(type='LoadAnnotations', with_bbox=True, with_mask=True), NORMALIZE, dict(type='Pad', size=(640, 640)),
             dict(type='Collect', keys=['img', 'gt_bboxes'])]
    test = [dict(type='MultiScaleFlipAug', transforms=[NORMALIZE, dict(type='Pad', size_divisor=64)])]
    assert target_preprocessor(_config(train, test)) == {
        "type": "DetDataPreprocessor", "mean": NORMALIZE["mean"], "std": NORMALIZE["std"], "bgr_to_rgb": True,
        "pad_size_divisor": 64, "pad_mask": True,
        "batch_augments": [{"type": "BatchFixedSizePad", "size": (640, 640), "pad_mask": True}],
    }


def test_different_normalisations_or_test_fixed_size_are_refused():
    caffe = {**NORMALIZE, "to_rgb": False}
    _, refusals = preprocessing(_config([NORMALIZE], [caffe, dict(type='Pad', size=(896, 896))]))
    assert [construct for construct, _ in refusals] == ["Normalize", "Pad.size"]


def test_a_pixel_transform_after_normalize_is_refused():
    _, refusals = preprocessing(_config([NORMALIZE, dict(type='PhotoMetricDistortion')], []))
    assert refusals and refusals[0][0] == "Normalize"


def test_a_pad_a_pixel_transform_follows_stays_and_leaves_the_preprocessor_alone():
    """Only a Pad that ends the pixel transforms moves: through MultiImageMixDataset, CopyPaste follows it."""
    pad = dict(type='Pad', size=(1024, 1024))
    config = {"data": {"train": {"type": "MultiImageMixDataset", "dataset": {"pipeline": [pad]},
                                 "pipeline": [dict(type='CopyPaste'), NORMALIZE, dict(type='Collect', keys=['img'])]}}}
    assert staying_pads(config) == {pad_key(pad)}
    assert preprocessing(config) == ({"mean": NORMALIZE["mean"], "std": NORMALIZE["std"], "bgr_to_rgb": True}, [])


def test_a_pad_after_normalize_that_stays_is_refused():
    _, refusals = preprocessing(_config([NORMALIZE, dict(type='Pad', size_divisor=32), dict(type='RandomFlip'),
                                         dict(type='Collect', keys=['img'])], []))
    assert [construct for construct, _ in refusals] == ["Normalize"]


def test_the_pipelines_of_the_dataloaders_are_read_beside_a_data_leftover():
    """A second run finds the refused 2.x pipeline in train_dataloader, and a refused `data` key beside it."""
    train = [NORMALIZE, dict(type='Pad', size_divisor=32, pad_to_square=True)]
    config = {"data": {"val": {"ins_ann_file": "b.json"}}, "train_dataloader": {"dataset": {"pipeline": train}}}
    assert list(resolved_pipelines(config)) == [("train", train)]


BASE_WITH_A_REFUSED_DATA_KEY = """
model = dict(type='RetinaNet')
data = dict(
    train=dict(type='CocoDataset', ann_file='data/a.json', img_prefix='data/img/', pipeline=[]),
    val=dict(type='CocoDataset', ann_file='data/a.json', img_prefix='data/img/', ins_ann_file='data/b.json',
             pipeline=[]))
"""
CHILD_WITH_A_REFUSED_PAD = """
_base_ = './base.py'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Normalize', mean=[1.0, 2.0, 3.0], std=[1.0, 1.0, 1.0], to_rgb=True),
    dict(type='Pad', size_divisor=32, pad_to_square=True),
    dict(type='DefaultFormatBundle'),
    dict(type='Collect', keys=['img', 'gt_bboxes', 'gt_labels']),
]
data = dict(train=dict(pipeline=train_pipeline))
"""


def test_a_second_run_keeps_the_first_runs_refusal_of_a_pipeline(tmp_path: Path):
    """The base leaves a refused ``data`` behind: the second run must still read the child's pipeline in
    train_dataloader (it used to read only ``data``, found no Pad and migrated what the first run refused)."""
    (tmp_path / "base.py").write_text(BASE_WITH_A_REFUSED_DATA_KEY)
    (tmp_path / "config.py").write_text(CHILD_WITH_A_REFUSED_PAD)
    first = run([tmp_path], [Legacy2xKeys()], {}, write=True)
    assert "Pad.pad_to_square" in next(r.refused for r in first.results if r.shown.endswith("config.py"))
    migrated = (tmp_path / "config.py").read_text()
    again = run([tmp_path], [Legacy2xKeys()], {}, write=True)
    assert [(r.shown, r.status) for r in again.results if r.status != "unchanged"] == []
    assert (tmp_path / "config.py").read_text() == migrated
