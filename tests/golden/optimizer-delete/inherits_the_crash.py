_base_ = './_base_/adamw_over_sgd.py'

train_cfg = dict(max_epochs=24)
