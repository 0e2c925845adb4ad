# RandomResize: a [low, high] range drawn edge by edge, and one size jittered by ratio_range.
_base_ = './_base_/coco_detection.py'

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomResize', scale=[(1333, 426), (1333, 800)], keep_ratio=True),
    dict(type='RandomResize', scale=(888, 533), ratio_range=(0.5, 1.5), keep_ratio=True),
    dict(type='PackDetInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
