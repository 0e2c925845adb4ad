_base_ = './_base_/amp_delete.py'

train_dataloader = dict(batch_size=2)
