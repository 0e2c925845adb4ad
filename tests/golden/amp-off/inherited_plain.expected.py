_base_ = './_base_/mask_rcnn_amp.py'

train_dataloader = dict(batch_size=2)

# autofix amp-off: train in full precision (a base config enables AMP)
optim_wrapper = dict(type='OptimWrapper')
