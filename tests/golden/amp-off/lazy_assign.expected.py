from mmengine.config import read_base
from mmengine.optim import OptimWrapper  # noqa: F401
from torch.optim.adamw import AdamW

with read_base():
    from ._base_.lazy_schedule import *

# a plain assignment replaces the base's optim_wrapper as a whole
optim_wrapper = dict(
    type=OptimWrapper,
    optimizer=dict(type=AdamW, lr=0.0001),
)
