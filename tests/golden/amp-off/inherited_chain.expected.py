_base_ = [
    './_base_/bytetrack_amp.py',  # noqa: E501
]

model = dict(
    type='OCSORT',
    tracker=dict(
        _delete_=True,
        type='OCSORTTracker',
        obj_score_thr=0.3,
        init_track_thr=0.7))

# autofix amp-off: train in full precision (a base config enables AMP)
_base_.optim_wrapper.type = 'OptimWrapper'
_base_.optim_wrapper.pop('loss_scale', None)
