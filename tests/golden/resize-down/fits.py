# Every train size fits 1333x800 (test sizes never count): nothing changes.
_base_ = './_base_/coco_detection.py'

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Mosaic', img_scale=(1280, 1280)),  # not a resize
    dict(type='RandomResize', scale=[(1333, 640), (1333, 800)], keep_ratio=True),
    dict(type='RandomChoiceResize', scales=[(480, 1333), (800, 1333)], keep_ratio=True),
    dict(type='Resize', scale=(800, 1333), keep_ratio=True),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2666, 1600), keep_ratio=True),
    dict(type='PackDetInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
