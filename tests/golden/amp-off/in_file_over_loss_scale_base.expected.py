_base_ = './_base_/yolox_amp.py'

train_dataloader = dict(batch_size=8, num_workers=4)
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(lr=0.01))

# autofix amp-off: drop the AMP-only keys a base config sets (the full-precision type rejects them)
_base_.optim_wrapper.pop('loss_scale', None)
