# mmdet 2.x multi-scale: a list of img_scale pairs, here in a ConcatDataset.
_base_ = './mmdet2.py'

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', img_scale=[(888, 426), (1333, 800)], multiscale_mode='range', keep_ratio=True),
]
data = dict(
    train=dict(
        _delete_=True,
        type='ConcatDataset',
        datasets=[
            dict(type='CocoDataset', pipeline=train_pipeline),
            dict(type='CocoDataset', pipeline=train_pipeline),
        ]))
