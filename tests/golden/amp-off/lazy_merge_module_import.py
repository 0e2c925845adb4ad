from mmengine.config import read_base

with read_base():
    from ._base_.lazy_schedule import *
from mmengine.optim.optimizer.amp_optimizer_wrapper import AmpOptimWrapper

optim_wrapper.merge(dict(type=AmpOptimWrapper, loss_scale='dynamic'))
