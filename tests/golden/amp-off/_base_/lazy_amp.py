from mmengine.config import read_base
from mmengine.optim import AmpOptimWrapper

with read_base():
    from .lazy_schedule import *

optim_wrapper.update(dict(type=AmpOptimWrapper, loss_scale='dynamic'))
