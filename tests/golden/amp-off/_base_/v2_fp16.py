_base_ = './v2_schedule_1x.py'
# fp16 settings
fp16 = dict(loss_scale=dict(init_scale=512))
