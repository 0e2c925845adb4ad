# Copyright (c) OpenMMLab. All rights reserved.
from mmengine.config import read_base
from mmengine.optim import AmpOptimWrapper
from torch.optim.sgd import SGD

with read_base():
    from ._base_.lazy_schedule import *

# Enable automatic-mixed-precision training with AmpOptimWrapper.
optim_wrapper.update(
    dict(
        type=AmpOptimWrapper,
        optimizer=dict(
            type=SGD, lr=0.02 * 4, momentum=0.9, weight_decay=0.00004)))
