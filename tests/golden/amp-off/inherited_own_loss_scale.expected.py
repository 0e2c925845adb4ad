_base_ = './_base_/mask_rcnn_amp.py'

# a static loss scale for AMP
optim_wrapper = dict(
    optimizer=dict(lr=0.01))

# autofix amp-off: train in full precision (a base config enables AMP)
_base_.optim_wrapper.type = 'OptimWrapper'
