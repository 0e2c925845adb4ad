_base_ = './_base_/v2_fp16.py'
optimizer = dict(lr=0.01)

# autofix amp-off: train in full precision (a base config enables AMP)
fp16 = None
