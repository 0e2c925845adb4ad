from mmengine.config import read_base

with read_base():
    from ._base_.lazy_amp import *

train_dataloader = dict(batch_size=4)
