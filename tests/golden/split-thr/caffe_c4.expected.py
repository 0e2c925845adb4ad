_base_ = './_base_/models/faster-rcnn_r50-caffe-c4.py'
# One level, 15 anchors a cell, nms_pre 12000: more than 10000 boxes even at 1333x800.

# autofix split-thr: more than the boxes this RPN can hand batched_nms, so it never splits
model = dict(train_cfg=dict(rpn_proposal=dict(nms=dict(split_thr=12001))))
