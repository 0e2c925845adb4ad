# Mentions inplace and ReLU( but nothing is in place.
import torch.nn as nn

relu = nn.ReLU(inplace=False)
gelu = nn.GELU()
silu = nn.SiLU(inplace=True)
flag = dict(type='LeakyReLU', inplace=True)
text = "nn.ReLU(inplace=True)"
