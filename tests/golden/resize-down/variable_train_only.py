# `img_scale` is read only by train resizes (two pipelines of a ConcatDataset): it changes where it is defined.
_base_ = './_base_/coco_detection.py'

img_scale = (2666, 1600)  # the train scale
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='PackDetInputs')
]
extra_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='PackDetInputs')
]
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        datasets=[
            dict(type='CocoDataset', pipeline=train_pipeline),
            dict(type='CocoDataset', pipeline=extra_pipeline),
        ]))
