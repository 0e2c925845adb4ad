from mmengine.config import read_base

with read_base():
    from ._base_.lazy_amp import *

optim_wrapper.update(dict(loss_scale=dict(init_scale=1024.), clip_grad=dict(max_norm=1)))
