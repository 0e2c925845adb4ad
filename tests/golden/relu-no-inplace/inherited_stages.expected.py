_base_ = './_base_/dynamic_stages.py'
model = dict(roi_head=dict(num_stages=2))

# autofix relu-no-inplace: out-of-place activations
_base_.model.roi_head.bbox_head[0].ffn_act_cfg.inplace = False
_base_.model.roi_head.bbox_head[0].dynamic_conv_cfg.act_cfg.inplace = False
_base_.model.roi_head.bbox_head[1].ffn_act_cfg.inplace = False
_base_.model.roi_head.bbox_head[1].dynamic_conv_cfg.act_cfg.inplace = False
