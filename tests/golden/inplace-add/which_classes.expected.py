# Modules by any road: torch.nn, mmengine/mmdet imports, and classes of this file; others are not.
from mmdet.models.necks import FPN
from mmengine.model import BaseModule
import torch

from .utils import Helper


class Base(torch.nn.Module):

    def forward(self, x, y):
        x = x + y
        return x


class Child(Base):

    def forward(self, x, y):
        x = x + y
        return x


class MyFPN(FPN):

    def forward(self, x, y):
        x = x + y
        return x


class Mixed(Helper, BaseModule):

    def forward(self, x, y):
        x = x + y
        return x


class NotAModule(Helper):

    def forward(self, x, y):
        x += y
        return x


class Outer(BaseModule):

    class Config:

        def forward(self, x, y):
            x += y  # a nested plain class
            return x

    def forward(self, x, y):
        fuse = lambda a, b: a + b
        x = x + fuse(x, y)
        return x
