_base_ = ['./_base_/schedules/schedule_1x.py']

# optimizer: AdamW as in the DETR configs (the base's SGD merges in without _delete_)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        _delete_=True,
        type='AdamW',
        lr=0.0001,  # half of the DETR lr for 2 GPUs
        weight_decay=0.0001),
    clip_grad=dict(max_norm=0.1, norm_type=2),
    paramwise_cfg=dict(
        custom_keys={'backbone': dict(lr_mult=0.1, decay_mult=1.0)}))
