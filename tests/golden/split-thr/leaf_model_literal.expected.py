_base_ = './_base_/models/faster-rcnn_r50_fpn.py'
model = dict(
    backbone=dict(depth=101),  # deeper backbone
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=4000, max_per_img=2000, nms=dict(split_thr=20001)),
    ),
)
