"""A training script, never run by autofix: its literal train and stage-2 pipelines change, its test one does not."""
from mmengine.config import Config
from mmengine.runner import Runner


def main():
    cfg = Config.fromfile('configs/faster-rcnn_r50_fpn_1x_coco.py')
    cfg.train_dataloader.dataset.pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(type='Resize', scale=(2666, 1600), keep_ratio=True),
        dict(type='PackDetInputs'),
    ]
    cfg.test_dataloader.dataset.pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(2666, 1600), keep_ratio=True),
        dict(type='PackDetInputs'),
    ]
    train_pipeline_stage2 = [dict(type='RandomResize', scale=(2048, 2048), ratio_range=(0.5, 1.0), keep_ratio=True)]
    cfg.custom_hooks = [
        dict(type='PipelineSwitchHook', switch_epoch=280, switch_pipeline=train_pipeline_stage2),
        dict(type='PipelineSwitchHook', switch_pipeline=[dict(type='Resize', scale=(2666, 1600), keep_ratio=True)]),
    ]
    Runner.from_cfg(cfg).train()


def legacy_data():
    """mmdet 2.x style, a list of train datasets."""
    data = dict(
        train=[dict(type='CocoDataset', pipeline=[dict(type='Resize', img_scale=[(1333, 640), (2000, 1200)])])],
        test=dict(type='CocoDataset', pipeline=[dict(type='Resize', img_scale=(2000, 1200))]),
    )
    return data


if __name__ == '__main__':
    main()
