# Mentions inplace and ReLU( but nothing in place breaks backward.
import torch.nn as nn

relu = nn.ReLU(inplace=False)
gelu = nn.GELU()
silu = nn.SiLU(inplace=True)
flag = dict(type='ReLU6', inplace=True)  # trains correctly in place
text = "nn.ReLU(inplace=True)"
