# mmdet 2.x: Resize takes `img_scale` (keep_ratio defaults to True) and the pipeline sits in data.train.
img_norm_cfg = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', img_scale=(1333, 800)),
    dict(type='RandomFlip', flip_ratio=0.5),
    dict(type='Normalize', **img_norm_cfg),
    dict(type='Pad', size_divisor=32),
    dict(type='DefaultFormatBundle'),
    dict(type='Collect', keys=['img', 'gt_bboxes', 'gt_labels']),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='MultiScaleFlipAug',
        img_scale=(2666, 1600),
        flip=False,
        transforms=[dict(type='Resize', keep_ratio=True), dict(type='ImageToTensor', keys=['img'])]),
]
data = dict(
    samples_per_gpu=2,
    train=dict(type='CocoDataset', pipeline=train_pipeline),
    val=dict(type='CocoDataset', pipeline=test_pipeline),
    test=dict(type='CocoDataset', pipeline=test_pipeline))
fp16 = dict(loss_scale=512.)
