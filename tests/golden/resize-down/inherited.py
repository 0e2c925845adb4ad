# The oversized Resize is inherited: the base is shared, so the override goes here.
_base_ = './_base_/large_train.py'

train_cfg = dict(max_epochs=12)
