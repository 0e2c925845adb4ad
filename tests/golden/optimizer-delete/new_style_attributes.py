from mmengine.config import read_base

with read_base():
    from ._base_.new.schedule_1x import *

from torch.optim.adamw import AdamW

# switch the optimizer key by key: the base's momentum stays
optim_wrapper.optimizer.type = AdamW
optim_wrapper.optimizer.lr = 0.0001
