# The hooks are rewritten here, their stage-2 pipeline taken whole from the base with {{_base_.x}}.
_base_ = './_base_/rtmdet_p6.py'

custom_hooks = [
    dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0002, update_buffers=True, priority=49),
    dict(type='PipelineSwitchHook', switch_epoch=250, switch_pipeline={{_base_.train_pipeline_stage2}}),
]
