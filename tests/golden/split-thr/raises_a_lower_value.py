_base_ = './_base_/models/faster-rcnn_r50_fpn.py'
model = dict(
    train_cfg=dict(rpn_proposal=dict(nms={'split_thr': 5000})))  # tuned down by hand
