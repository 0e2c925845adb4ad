# mmdet-style ResNet blocks: the residual sum sits in a helper nested in forward (for checkpointing).
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmengine.model import BaseModule


class BasicBlock(BaseModule):
    expansion = 1

    def forward(self, x):
        """Forward function."""

        def _inner_forward(x):
            identity = x

            out = self.conv1(x)
            out = self.norm1(out)
            out = self.relu(out)

            out = self.conv2(out)
            out = self.norm2(out)

            if self.downsample is not None:
                identity = self.downsample(x)

            out += identity

            return out

        if self.with_cp and x.requires_grad:
            out = cp.checkpoint(_inner_forward, x)
        else:
            out = _inner_forward(x)

        out = self.relu(out)

        return out


class Bottleneck(BasicBlock):

    def forward(self, x):
        identity = x
        out = self.relu(self.norm1(self.conv1(x)))
        out = self.relu(self.norm2(self.conv2(out)))
        out = self.norm3(self.conv3(out))
        out += identity  # the sum autograd needs
        return self.relu(out)

    def init_weights(self):
        for m in self.modules():
            m.weight.data *= 0.5


class LayerScale(nn.Module):

    def forward(self, x):
        return x.mul_(self.scale) if self.inplace else x * self.scale
