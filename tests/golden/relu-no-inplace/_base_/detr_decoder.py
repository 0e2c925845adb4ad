# A DETR decoder whose FFNs are built with in-place ReLUs (as mmdet's DETR configs write them).
_ffn = dict(embed_dims=256, feedforward_channels=2048, num_fcs=2, act_cfg=dict(type='ReLU', inplace=True))
model = dict(
    type='DETR',
    decoder=dict(num_layers=6, layer_cfg=dict(ffn_cfg=_ffn), return_intermediate=True),
    positional_encoding=dict(num_feats=128, normalize=True))
