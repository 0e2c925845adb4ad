_base_ = './_base_/mask_rcnn_amp.py'

train_dataloader = dict(batch_size=2)
