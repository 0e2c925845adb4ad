_base_ = './_base_/dynamic_stages.py'
model = dict(roi_head=dict(num_stages=2))
