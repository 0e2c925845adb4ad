# The oversized Resize is inherited: the base is shared, so the override goes here.
_base_ = './_base_/large_train.py'

train_cfg = dict(max_epochs=12)

# autofix resize-down: train sizes at most 1333x800
_base_.train_dataloader.dataset.pipeline[2].scale = (1333, 800)
