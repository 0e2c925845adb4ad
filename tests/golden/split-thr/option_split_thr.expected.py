_base_ = './_base_/models/faster-rcnn_r50_fpn.py'

# autofix split-thr: more than the boxes this RPN can hand batched_nms, so it never splits
model = dict(train_cfg=dict(rpn_proposal=dict(nms=dict(split_thr=50000))))
