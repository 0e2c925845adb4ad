_base_ = ['./yolox_amp.py']

model = dict(type='ByteTrack', tracker=dict(type='ByteTracker', obj_score_thrs=dict(high=0.6, low=0.1)))
val_cfg = dict(type='ValLoop', fp16=True)
