from mmengine.config import read_base

with read_base():
    from ._base_.lazy.faster_rcnn import *

model.update(dict(backbone=dict(depth=101)))
