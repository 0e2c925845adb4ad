_base_ = './_base_/v2_schedule_1x.py'
# fp16 settings
fp16 = None
