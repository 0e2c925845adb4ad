_base_ = './_base_/v2_schedule_1x.py'
optimizer_config = dict(
    _delete_=True,
    type='OptimizerHook',
    grad_clip=dict(max_norm=35, norm_type=2))
