from mmcv.cnn import ConvModule, build_activation_layer
from mmcv.cnn.bricks import conv_module as cm


class Head:
    def __init__(self, in_channels, norm_cfg, act_cfg):
        self.a = ConvModule(in_channels, 256, 3, padding=1, norm_cfg=norm_cfg, inplace=False)
        self.b = ConvModule(
            in_channels,
            256,
            3,
            padding=1,  # same padding
            inplace=False,
        )
        self.c = ConvModule(
            in_channels,
            256,
            1,
            act_cfg=dict(type='ReLU'),
            inplace=False,
        )
        self.d = ConvModule(in_channels, 256, 1, act_cfg=dict(type='ReLU', inplace=False))
        self.e = ConvModule(in_channels, 256, 1, act_cfg=None)
        self.f = ConvModule(in_channels, 256, 1, act_cfg=dict(type='Sigmoid'))
        self.g = ConvModule(in_channels, 256, 1, act_cfg=act_cfg)
        self.h = ConvModule(in_channels, 256, 1, inplace=False)
        self.i = cm.ConvModule(in_channels, 256, 1, **self.extra)
        self.j = build_activation_layer(dict(type='ReLU', inplace=False))
