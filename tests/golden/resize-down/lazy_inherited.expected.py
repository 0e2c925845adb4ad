# New style: the inherited train dataloader is changed in place, never the base's test pipeline.
from mmengine.config import read_base

with read_base():
    from ._base_.lazy_large import *

train_dataloader.update(dict(batch_size=4))

# autofix resize-down: train sizes at most 1333x800
train_dataloader.dataset.pipeline[2].scale = (1333, 800)
