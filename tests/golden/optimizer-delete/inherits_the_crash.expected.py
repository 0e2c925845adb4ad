_base_ = './_base_/adamw_over_sgd.py'

train_cfg = dict(max_epochs=24)

# autofix optimizer-delete: keeps a base's optimizer keys out of this optimizer
optim_wrapper = dict(optimizer=dict(_delete_=True, type='AdamW', lr=0.0001, weight_decay=0.05))
