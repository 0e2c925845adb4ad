_base_ = './yolox_amp.py'
# replaces the whole optim_wrapper of the base: its loss_scale is gone
optim_wrapper = dict(
    _delete_=True,
    type='AmpOptimWrapper',
    optimizer=dict(type='AdamW', lr=0.0001, weight_decay=0.05))
