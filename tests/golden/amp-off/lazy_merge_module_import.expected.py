from mmengine.config import read_base

with read_base():
    from ._base_.lazy_schedule import *
from mmengine.optim import OptimWrapper

optim_wrapper.merge(dict(type=OptimWrapper))
