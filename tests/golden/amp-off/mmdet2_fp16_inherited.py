_base_ = './_base_/v2_fp16.py'
optimizer = dict(lr=0.01)
