"""A ResNet-style block whose chained in-place ReLUs make loss.backward() fail."""
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule


class Block(nn.Module):

    def __init__(self, channels):
        super().__init__()
        self.conv1 = ConvModule(channels, channels, 3, padding=1)  # ReLU in place by default
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        out = self.conv1(x)
        out = self.relu(out)
        return F.relu(self.conv2(out) + out, inplace=True)
