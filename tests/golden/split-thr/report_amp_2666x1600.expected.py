# The crash report's setup: Faster R-CNN trained with AMP at twice the default train size.
_base_ = [
    './_base_/models/faster-rcnn_r50_fpn.py',
    './_base_/datasets/coco_detection.py',
]
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(2666, 1600), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(
    type='AmpOptimWrapper',
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001))

# autofix split-thr: more than the boxes this RPN can hand batched_nms, so it never splits
model = dict(train_cfg=dict(rpn_proposal=dict(nms=dict(split_thr=10001))))
