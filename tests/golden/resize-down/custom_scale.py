# --scale 1000x600: the scales list keeps its spread, each edge shrinking by one factor.
_base_ = './_base_/coco_detection.py'

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomChoiceResize', scales=[(480, 1333), (512, 1333), (600, 1000), (800, 1333)], keep_ratio=True),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='PackDetInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
