# Nothing here is a tensor updated in a module's forward: the file must come back unchanged.
import math

import torch
from torch import nn

STEPS = 0


def accumulate(x, y):
    x += y  # a plain function, not a forward
    return x


class Counter:

    def forward(self, x):
        x += 1  # not an nn.Module
        return x


class Head(nn.Module):

    def forward(self, feats, scale=1.0, repeat: int = 2, name: str = 'head'):
        global STEPS
        STEPS += 1
        total = 0
        weight = 0.5
        count = len(feats)
        half = count // 2 + 1
        batch, channels = feats[0].shape[:2]
        height, width = 7, 7
        for i in range(count):
            i += 1
            weight *= 0.9
        for index, feat in enumerate(feats):
            index += 1
            total += feat.size(1)
        scale *= 2
        repeat -= 1
        name += '_out'
        half **= 2
        batch *= channels
        height += width
        outs = []
        outs += [feats[0]]
        counts = [0] * count
        counts[0] += 1
        self.calls += 1
        self.buffer[0] += feats[0]
        feats[self.next_index()] += 1.0
        matrix = feats[0]
        matrix @= self.weight
        return outs, total * scale * weight

    def loss(self, x, y):
        x += y  # not forward
        return x

    def forward_train(self, x, y):
        x += y  # not forward either
        return x
