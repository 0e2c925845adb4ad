"""ReLU and its in-place forms as torch, mmcv and configs spell them."""

from __future__ import annotations

import libcst as cst

from autofix.cst_helpers import qualified_name, string_value

RELU_MODULES = {"torch.nn.ReLU", "torch.nn.modules.activation.ReLU"}
RELU_FUNCTIONS = {"torch.nn.functional.relu"}
# Names a file may use without importing them itself (snippets, star imports).
CONVENTIONAL_ALIASES = {"nn": "torch.nn", "F": "torch.nn.functional", "torch": "torch"}
# mmcv ConvModule(in, out, kernel, stride, padding, dilation, groups, bias, conv_cfg, norm_cfg, act_cfg, inplace)
CONV_ACT_CFG_POSITION, CONV_INPLACE_POSITION = 10, 11
FALSE = cst.Name("False")


def is_relu_type(node: cst.BaseExpression | None, aliases: dict[str, str]) -> bool:
    """``'ReLU'`` in a config dict, or the class itself in new-style (lazy import) configs."""
    if string_value(node) == "ReLU":
        return True
    return node is not None and qualified_name(node, aliases) in RELU_MODULES


def is_conv_module(name: str | None) -> bool:
    return name is not None and name.startswith("mmcv.") and name.endswith(".ConvModule")
