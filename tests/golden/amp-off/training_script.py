"""Builds the optimizer wrapper for a custom training loop."""
import torch
from mmengine.optim import AmpOptimWrapper, build_optim_wrapper


def build_wrapper(model, from_config=False):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    if from_config:
        cfg = dict(type='AmpOptimWrapper', optimizer=dict(type='SGD', lr=0.01), loss_scale='dynamic')
        return build_optim_wrapper(model, cfg)
    return AmpOptimWrapper(
        optimizer=optimizer,
        loss_scale='dynamic',  # dynamic loss scaling
        dtype=torch.float16,
    )


def is_mixed_precision(wrapper):
    return isinstance(wrapper, AmpOptimWrapper)
