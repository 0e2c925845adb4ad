# --scale 1000x600: the scales list keeps its spread, each edge shrinking by one factor.
_base_ = './_base_/coco_detection.py'

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomChoiceResize', scales=[(360, 1000), (384, 1000), (450, 750), (600, 1000)], keep_ratio=True),
    dict(type='Resize', scale=(1000, 600), keep_ratio=True),
    dict(type='PackDetInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
