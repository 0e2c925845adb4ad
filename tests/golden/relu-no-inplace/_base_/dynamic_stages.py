# A query-based detector whose stages are a list: their FFN and dynamic-conv activations are in-place ReLUs.
model = dict(
    type='SparseRCNN',
    roi_head=dict(
        type='SparseRoIHead',
        bbox_head=[
            dict(type='DIIHead', ffn_act_cfg=dict(type='ReLU', inplace=True), dynamic_conv_cfg=dict(act_cfg=dict(type='ReLU', inplace=True)))
            for _ in range(2)
        ]))
