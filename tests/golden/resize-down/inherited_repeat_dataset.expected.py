# Inherited from a RepeatDataset: the override reaches the wrapped dataset's pipeline.
_base_ = './_base_/repeat_large.py'

# autofix resize-down: train sizes at most 1333x800
_base_.train_dataloader.dataset.dataset.pipeline[2].scale = (1333, 800)
