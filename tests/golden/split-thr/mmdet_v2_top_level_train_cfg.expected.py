# mmdet 2.x (before 2.12) kept train_cfg beside the model.
model = dict(
    type='FasterRCNN',
    rpn_head=dict(
        type='RPNHead',
        anchor_generator=dict(type='AnchorGenerator', scales=[8], ratios=[0.5, 1.0, 2.0], strides=[4, 8, 16, 32, 64])))
train_cfg = dict(
    rpn_proposal=dict(
        nms_across_levels=False,
        nms_pre=2000,
        nms_post=1000,
        max_per_img=1000,
        nms=dict(type='nms', iou_threshold=0.7, split_thr=10001),
        min_bbox_size=0))
fp16 = dict(loss_scale=512.)
