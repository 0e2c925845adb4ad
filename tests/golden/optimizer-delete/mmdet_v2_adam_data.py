_base_ = './_base_/v2/schedule_1x.py'

dataset_type = 'CocoDataset'
classes = ('balloon', )
data = dict(
    samples_per_gpu=2,
    workers_per_gpu=2,
    train=dict(type='RepeatDataset', times=3, dataset=dict(type=dataset_type, classes=classes)))
optimizer = dict(type='Adam', lr=0.0003, weight_decay=0.0001)
optimizer_config = dict(_delete_=True, grad_clip=dict(max_norm=35, norm_type=2))
