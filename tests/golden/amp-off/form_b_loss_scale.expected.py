_base_ = [
    './_base_/schedule_1x.py'  # noqa: E501
]

# fp16 settings
optim_wrapper = dict(type='OptimWrapper')
val_cfg = dict(type='ValLoop', fp16=True)
test_cfg = dict(type='TestLoop', fp16=True)
