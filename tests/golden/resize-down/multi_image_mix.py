# MultiImageMixDataset keeps the loading pipeline inside and the mixing pipeline outside.
_base_ = './_base_/coco_detection.py'

img_scale = (1280, 1280)
train_pipeline = [
    dict(type='Mosaic', img_scale=img_scale, pad_val=114.0),
    dict(type='Resize', scale=(1920, 1920), keep_ratio=True),
    dict(type='Pad', size=img_scale),
    dict(type='PackDetInputs')
]
train_dataset = dict(
    type='MultiImageMixDataset',
    dataset=dict(
        type='CocoDataset',
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=(2666, 1600), keep_ratio=True),
        ]),
    pipeline=train_pipeline)
train_dataloader = dict(dataset=dict(_delete_=True, **train_dataset))
