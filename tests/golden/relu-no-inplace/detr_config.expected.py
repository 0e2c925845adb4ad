_base_ = ['./_base_/detr_decoder.py', './_base_/default_runtime.py']
model = dict(
    type='DETR',
    num_queries=100,
    encoder=dict(  # DetrTransformerEncoder
        num_layers=6,
        layer_cfg=dict(
            self_attn_cfg=dict(embed_dims=256, num_heads=8, dropout=0.1, batch_first=True),
            ffn_cfg=dict(
                embed_dims=256,
                feedforward_channels=2048,
                num_fcs=2,
                ffn_drop=0.1,
                act_cfg=dict(type='ReLU', inplace=False)))),
    bbox_head=dict(
        type='DETRHead',
        num_classes=80,
        embed_dims=256,
        # the regression branch
        reg_ffn=dict(act_cfg={'type': 'ReLU', "inplace": False}),
        other=dict(act_cfg=dict(type='SiLU', inplace=True)),
    ),
    decoder=dict(layer_cfg=dict(ffn_cfg=dict(act_cfg=dict(inplace=False)))))
