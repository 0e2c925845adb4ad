_base_ = './_base_/yolox_amp.py'

# 8 GPUs x 4 samples
train_dataloader = dict(batch_size=4, num_workers=4)

# autofix amp-off: train in full precision (a base config enables AMP)
_base_.optim_wrapper.type = 'OptimWrapper'
_base_.optim_wrapper.pop('loss_scale', None)
