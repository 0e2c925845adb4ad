# New-style (lazy import) base; transform types are the classes themselves.
from mmcv.transforms import LoadImageFromFile
from mmdet.datasets import CocoDataset
from mmdet.datasets.transforms import LoadAnnotations, PackDetInputs, RandomFlip, Resize

train_pipeline = [
    dict(type=LoadImageFromFile),
    dict(type=LoadAnnotations, with_bbox=True),
    dict(type=Resize, scale=(2666, 1600), keep_ratio=True),
    dict(type=RandomFlip, prob=0.5),
    dict(type=PackDetInputs)
]
test_pipeline = [
    dict(type=LoadImageFromFile),
    dict(type=Resize, scale=(2666, 1600), keep_ratio=True),
    dict(type=PackDetInputs)
]
train_dataloader = dict(batch_size=2, dataset=dict(type=CocoDataset, pipeline=train_pipeline))
test_dataloader = dict(batch_size=1, dataset=dict(type=CocoDataset, pipeline=test_pipeline))
