from mmengine.config import read_base

with read_base():
    from ._base_.new.schedule_1x import *

from torch.optim.adamw import AdamW

# switch the optimizer key by key: the base's momentum stays
optim_wrapper.optimizer.type = AdamW
optim_wrapper.optimizer.lr = 0.0001

# autofix optimizer-delete: keeps a base's optimizer keys out of this optimizer
optim_wrapper.optimizer.pop('momentum', None)
