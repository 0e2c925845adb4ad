# One dataset inherited (oversized in the base), one written here: each is fixed where it comes from.
_base_ = './_base_/large_train.py'

extra_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(3000, 2000), keep_ratio=True),
]
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        datasets=[{{_base_.train_dataloader.dataset}}, dict(type='CocoDataset', pipeline=extra_pipeline)]))
