# RandomResize: a [low, high] range drawn edge by edge, and one size jittered by ratio_range.
_base_ = './_base_/coco_detection.py'

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomResize', scale=[(1333, 640), (1333, 1200)], keep_ratio=True),
    dict(type='RandomResize', scale=(2048, 2048), ratio_range=(0.5, 1.5), keep_ratio=True),
    dict(type='PackDetInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
