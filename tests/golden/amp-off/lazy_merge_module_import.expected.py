from mmengine.config import read_base

with read_base():
    from ._base_.lazy_schedule import *
from mmengine.optim.optimizer.optimizer_wrapper import OptimWrapper

optim_wrapper.merge(dict(type=OptimWrapper))
