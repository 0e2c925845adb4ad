"""Builds the optimizer wrapper for a custom training loop."""
import torch
from mmengine.optim import AmpOptimWrapper, OptimWrapper, build_optim_wrapper


def build_wrapper(model, from_config=False):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    if from_config:
        cfg = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.01))
        return build_optim_wrapper(model, cfg)
    return OptimWrapper(
        optimizer=optimizer,
    )


def is_mixed_precision(wrapper):
    return isinstance(wrapper, AmpOptimWrapper)
