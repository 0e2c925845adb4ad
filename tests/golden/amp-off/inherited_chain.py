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
