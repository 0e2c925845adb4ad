# A DETR-style config: its FFN activations are in-place ReLUs.
model = dict(
    type='DETR',
    encoder=dict(
        num_layers=6,
        layer_cfg=dict(
            ffn_cfg=dict(
                embed_dims=256,
                feedforward_channels=2048,
                act_cfg=dict(type='ReLU', inplace=True)))),
    bbox_head=dict(type='DETRHead', num_classes=80))
