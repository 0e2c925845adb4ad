import torch
import torch.nn as tnn
from torch.nn import ReLU as R
from torch.nn import functional as Fn
from torch.nn.functional import relu


def build():
    layers = [
        torch.nn.ReLU(True),
        tnn.ReLU(inplace = True),
        R(inplace=True),
        tnn.ReLU(inplace=False),
        tnn.ReLU(),
    ]
    return tnn.Sequential(*layers)


def act(x):
    x = Fn.relu(x, True)
    x = relu(x, inplace=True)
    x = Fn.relu_(x)
    x = torch.relu_(x)
    return x.relu_().sum()
