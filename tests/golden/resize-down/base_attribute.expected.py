# The size is set on the inherited dataloader: that assignment is what gets edited.
_base_ = './_base_/coco_detection.py'

_base_.train_dataloader.dataset.pipeline[2].scale = (1333, 800)
