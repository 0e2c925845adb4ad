# keep_ratio=False (mmcv 2.x's default): the pair is the exact output size, scaled by one factor.
_base_ = './_base_/coco_detection.py'

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1333, 666), keep_ratio=False),
    dict(type='Resize', scale=(800, 800)),
    dict(type='Resize', scale=(1000, 600), keep_ratio=False),  # fits: untouched
    dict(type='PackDetInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
