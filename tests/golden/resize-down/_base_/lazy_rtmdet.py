# New-style (lazy import) RTMDet-shaped base with a stage-2 pipeline.
from mmcv.transforms import LoadImageFromFile, RandomResize
from mmdet.datasets import CocoDataset
from mmdet.datasets.transforms import PackDetInputs
from mmdet.engine.hooks import PipelineSwitchHook

train_pipeline = [
    dict(type=LoadImageFromFile),
    dict(type=RandomResize, scale=(640, 640), ratio_range=(0.5, 1.0), keep_ratio=True),
    dict(type=PackDetInputs)
]
train_pipeline_stage2 = [
    dict(type=LoadImageFromFile),
    dict(type=RandomResize, scale=(2048, 2048), ratio_range=(0.5, 1.0), keep_ratio=True),
    dict(type=PackDetInputs)
]
train_dataloader = dict(batch_size=2, dataset=dict(type=CocoDataset, pipeline=train_pipeline))
custom_hooks = [dict(type=PipelineSwitchHook, switch_epoch=280, switch_pipeline=train_pipeline_stage2)]
