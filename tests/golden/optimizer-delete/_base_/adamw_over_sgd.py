_base_ = './schedules/schedule_1x.py'
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=0.0001, weight_decay=0.05))
