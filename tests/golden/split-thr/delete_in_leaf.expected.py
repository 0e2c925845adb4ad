_base_ = './_base_/models/faster-rcnn_r50_fpn.py'
model = dict(
    train_cfg=dict(
        rpn_proposal=dict(
            _delete_=True,
            nms_pre=3000,
            max_per_img=1000,
            nms=dict(type='nms', iou_threshold=0.7, split_thr=15001),
            min_bbox_size=0)))
