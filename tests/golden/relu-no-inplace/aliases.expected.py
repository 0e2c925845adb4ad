import torch
import torch.nn as tnn
from torch.nn import ReLU as R
from torch.nn import functional as Fn
from torch.nn.functional import relu


def build():
    layers = [
        torch.nn.ReLU(),
        tnn.ReLU(),
        R(),
        tnn.ReLU(inplace=False),
        tnn.ReLU(),
    ]
    return tnn.Sequential(*layers)


def act(x):
    x = Fn.relu(x)
    x = relu(x)
    x = Fn.relu(x)
    x = torch.relu(x)
    return x.relu().sum()
