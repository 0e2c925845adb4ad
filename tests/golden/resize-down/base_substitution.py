# The pipeline is taken from the base with {{_base_.train_pipeline}}: the override goes through it.
_base_ = './_base_/large_train.py'

train_dataloader = dict(batch_size=4, dataset=dict(pipeline={{_base_.train_pipeline}}))
