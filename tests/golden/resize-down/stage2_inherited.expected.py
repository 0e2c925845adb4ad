# Stage 1 and the hooks come from the base; only stage 2 (1280, 1280) x 2.0 is over.
_base_ = './_base_/rtmdet_p6.py'

model = dict(bbox_head=dict(num_classes=3))

# autofix resize-down: train sizes at most 1333x800
_base_.custom_hooks[1].switch_pipeline[2].scale = (666, 400)
