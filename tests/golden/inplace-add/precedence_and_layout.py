import torch.nn as nn


class Fuse(nn.Module):

    def forward(self, x, y, a, b):
        x += y * 2  # product binds tighter
        x -= a - b
        x -= -a
        x *= a + b
        x /= a * b
        x /= a / b
        x **= a ** b
        x **= -a
        x //= a if b else y
        x |= a | b
        x &= a == b
        x += (a + b)
        x += y; y -= x
        x   +=   y
        x += (a
              + b)  # continued
        x += \
            y
        x[..., 0] += y[..., 0]  # an item of a tensor: in place either way
        x[a:b] *= 2.0
        x[i] += 1
        return x
