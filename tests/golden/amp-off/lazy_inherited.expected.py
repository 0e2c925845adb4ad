from mmengine.config import read_base
from mmengine.optim import OptimWrapper

with read_base():
    from ._base_.lazy_amp import *

train_dataloader = dict(batch_size=4)

# autofix amp-off: train in full precision (a base config enables AMP)
optim_wrapper.type = OptimWrapper
optim_wrapper.pop('loss_scale', None)
