_base_ = './_base_/mask_rcnn_amp.py'

# a static loss scale for AMP
optim_wrapper = dict(
    optimizer=dict(lr=0.01),
    type='OptimWrapper')
