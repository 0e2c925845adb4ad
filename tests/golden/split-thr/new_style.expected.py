from mmengine.config import read_base

with read_base():
    from ._base_.lazy.faster_rcnn import *

model.update(dict(backbone=dict(depth=101)))

# autofix split-thr: more than the boxes this RPN can hand batched_nms, so it never splits
model.train_cfg.rpn_proposal.nms.split_thr = 10001
