# New style: the inherited hook's stage-2 pipeline is changed in place.
from mmengine.config import read_base

with read_base():
    from ._base_.lazy_rtmdet import *

train_dataloader.update(dict(batch_size=4))
