# The crash report's change: Faster R-CNN with mixed precision at twice the default train size.
# The RPN now hands mmcv's batched_nms 10000 boxes, its split path runs, and fp16 training dies with
# "Index put requires the source and destination dtypes match, got Half ... Float".
_base_ = './_base_/faster-rcnn_r50_fpn.py'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(2666, 1600), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
train_dataloader = dict(
    batch_size=2,
    dataset=dict(type='CocoDataset', data_root='data/coco/', pipeline=train_pipeline))
optim_wrapper = dict(
    type='AmpOptimWrapper',
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001))
