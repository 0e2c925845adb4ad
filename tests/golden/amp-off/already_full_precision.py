_base_ = './_base_/yolox_amp.py'

# AMP made the loss diverge: train in fp32
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper', optimizer=dict(type='SGD', lr=0.01))
