import torch.nn as nn


class Fuse(nn.Module):

    def forward(self, x, y, a, b):
        x = x + y * 2  # product binds tighter
        x = x - (a - b)
        x = x - -a
        x = x * (a + b)
        x = x / (a * b)
        x = x / (a / b)
        x = x ** a ** b
        x = x ** (-a)
        x = x // (a if b else y)
        x = x | (a | b)
        x = x & (a == b)
        x = x + (a + b)
        x = x + y; y = y - x
        x   =   x   +   y
        x = x + (a
              + b)  # continued
        x = x + \
            y
        x[..., 0] += y[..., 0]  # an item of a tensor: in place either way
        x[a:b] *= 2.0
        x[i] += 1
        return x
