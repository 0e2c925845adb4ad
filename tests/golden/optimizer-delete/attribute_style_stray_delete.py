_base_ = './_base_/schedules/schedule_1x.py'

# an assignment replaces the base's dict already: its _delete_ is never consumed and reaches AdamW
_base_.optim_wrapper.optimizer = dict(_delete_=True, type='AdamW', lr=6e-05, betas=(0.9, 0.999), weight_decay=0.01)
