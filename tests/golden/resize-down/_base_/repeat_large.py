# The train set wrapped in a RepeatDataset: its pipeline is at train_dataloader.dataset.dataset.pipeline.
_base_ = './coco_detection.py'

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='RepeatDataset',
        times=3,
        dataset=dict(
            type='CocoDataset',
            data_root='data/coco/',
            ann_file='annotations/instances_train2017.json',
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations', with_bbox=True),
                dict(type='Resize', scale=(2666, 1600), keep_ratio=True),
                dict(type='PackDetInputs')
            ])))
