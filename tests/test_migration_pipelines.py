"""What the pipelines and model groups read from a resolved 2.x config, beyond their examples: the
data preprocessor they derive, and the constructs they refuse rather than guess."""

from __future__ import annotations

from autofix.migration.model import target_preprocessor
from autofix.migration.pipelines import preprocessing

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
