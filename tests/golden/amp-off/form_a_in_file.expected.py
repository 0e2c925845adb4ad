_base_ = './_base_/schedule_1x.py'
# Enable automatic-mixed-precision training with AmpOptimWrapper.
optim_wrapper = dict(type='OptimWrapper')
