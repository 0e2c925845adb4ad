"""A training script that builds its RPN settings in Python."""
from mmengine.runner import Runner

anchor_generator = dict(type='AnchorGenerator', scales=[8], ratios=[0.5, 1.0, 2.0], strides=[16])
train_cfg = {
    'rpn_proposal': {
        'nms_pre': 12000,
        'max_per_img': 2000,
        'nms': {'type': 'nms', 'iou_threshold': 0.7},
    },
}


def main(cfg):
    cfg.model.train_cfg = train_cfg
    Runner.from_cfg(cfg).train()
