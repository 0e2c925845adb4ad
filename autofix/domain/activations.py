"""The activations whose in-place form breaks backward, as torch, mmcv and configs spell them.

The family was decided by running torch 2.13 (``tests/test_relu_proofs.py``): an in-place activation
followed by another in-place op on its output makes ``loss.backward()`` raise "modified by an inplace
operation ... which is output 0 of <node>", and the same chain made out of place trains. Members and
their autograd nodes in torch 2.13 (older releases add "Backward": ``ReluBackward0``,
``LeakyReluBackward1``): ReLU (``Relu``), LeakyReLU (``LeakyRelu1``), ELU (``Elu1``), CELU
(``Celu1``), SELU (``Elu1``), RReLU (``RreluWithNoise1``).

Not members: ReLU6, Hardtanh, Threshold, Hardsigmoid, Hardswish, SiLU, Mish and Dropout train with the
same gradients when their in-place output is changed afterwards; GELU has no in-place form.
``torch.sigmoid_`` and ``tanh_`` do fail that way, but a Sigmoid's or Tanh's output is saved in place
or not, no module or config turns them in place, and the logs that name them (``SigmoidBackward0``)
come from an out-of-place ``sigmoid()`` changed in place later, which making activations out of place
cannot reach: ``diagnose`` names them look-alikes.

ReLU saves its output even out of place (an in-place op on it still fails: the fix there is the later
op); the others save their input out of place, so making them out of place removes the crash
whatever follows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import libcst as cst

from autofix.cst_helpers import qualified_name, string_value
from autofix.mmconfig import registry_name


@dataclass(frozen=True)
class Activation:
    """One member of the family: where each of its forms takes ``inplace``."""

    name: str  # the torch.nn class, and the ``type`` of an mmcv / config dict
    module_flag: int  # position of ``inplace`` in ``nn.<name>(...)``
    function: str  # ``torch.nn.functional.<function>``, which takes ``inplace`` too
    function_flag: int  # position of ``inplace`` in ``F.<function>(input, ...)``
    inplace_functions: tuple[str, ...]  # qualified names of the in-place functions (``torch.relu_``)
    method: str | None  # the in-place tensor method (``x.relu_()``)
    saves_output: bool  # out of place it still saves its output for backward


FAMILY = (
    Activation("ReLU", 0, "relu", 1, ("torch.nn.functional.relu_", "torch.relu_"), "relu_", True),
    Activation("LeakyReLU", 1, "leaky_relu", 2, ("torch.nn.functional.leaky_relu_",), None, False),
    Activation("ELU", 1, "elu", 2, ("torch.nn.functional.elu_",), None, False),
    Activation("CELU", 1, "celu", 2, ("torch.nn.functional.celu_", "torch.celu_"), None, False),
    Activation("SELU", 0, "selu", 1, ("torch.nn.functional.selu_", "torch.selu_"), None, False),
    Activation("RReLU", 2, "rrelu", 4, ("torch.nn.functional.rrelu_", "torch.rrelu_"), None, False),
)
BY_NAME = {activation.name: activation for activation in FAMILY}
_BY_FUNCTION = {f"torch.nn.functional.{a.function}": a for a in FAMILY}
_BY_INPLACE_FUNCTION = {name: a for a in FAMILY for name in a.inplace_functions}
_BY_METHOD = {a.method: a for a in FAMILY if a.method}
# Out-of-place ReLU calls: autograd saves their output too, so an in-place op on it fails.
RELU_CALLS = {"torch.nn.functional.relu", "torch.relu"}
# torch.nn modules that take `inplace` (family or not), and where it sits when passed by position.
MODULE_INPLACE_POSITION = {
    **{a.name: a.module_flag for a in FAMILY},
    "ReLU6": 0, "SiLU": 0, "Mish": 0, "Hardswish": 0, "Hardsigmoid": 0, "Hardtanh": 2, "Threshold": 2,
    "Dropout": 1, "Dropout2d": 1, "Dropout3d": 1, "AlphaDropout": 1,
}
# mmcv ConvModule passes its `inplace` (default True) into act_cfg, except for these types.
_CONV_MODULE_NO_INPLACE = {"Tanh", "PReLU", "Sigmoid", "HSigmoid", "Swish", "GELU"}
# Names a file may use without importing them itself (snippets, star imports).
CONVENTIONAL_ALIASES = {"nn": "torch.nn", "F": "torch.nn.functional", "torch": "torch"}
# mmcv ConvModule(in, out, kernel, stride, padding, dilation, groups, bias, conv_cfg, norm_cfg, act_cfg, inplace)
CONV_ACT_CFG_POSITION, CONV_INPLACE_POSITION = 10, 11
FALSE = cst.Name("False")


def torch_module(qualified: str | None) -> str | None:
    """``ReLU`` for ``torch.nn.ReLU`` (or ``torch.nn.modules.activation.ReLU``), when it takes ``inplace``."""
    if qualified and qualified.startswith("torch.nn."):
        name = qualified.rsplit(".", 1)[-1]
        if name in MODULE_INPLACE_POSITION and qualified in (f"torch.nn.{name}", f"torch.nn.modules.activation.{name}"):
            return name
    return None


def family_module(qualified: str | None) -> Activation | None:
    """The member whose module ``qualified`` names, with an ``inplace`` flag."""
    return BY_NAME.get(torch_module(qualified) or "")


def family_function(qualified: str | None) -> Activation | None:
    """The member whose functional form (``F.leaky_relu(x, inplace=True)``) ``qualified`` names."""
    return _BY_FUNCTION.get(qualified or "")


def inplace_function(qualified: str | None) -> Activation | None:
    """The member whose in-place function (``F.elu_``, ``torch.relu_``) ``qualified`` names."""
    return _BY_INPLACE_FUNCTION.get(qualified or "")


def inplace_method(name: str) -> Activation | None:
    """The member whose in-place tensor method (``relu_``) ``name`` is."""
    return _BY_METHOD.get(name)


def family_type(node: cst.BaseExpression | None, aliases: dict[str, str]) -> Activation | None:
    """The member a config dict's ``type`` names: ``'ReLU'``, or the class itself in new-style configs."""
    if node is None:
        return None
    name = string_value(node)
    return BY_NAME.get(name) if name is not None else family_module(qualified_name(node, aliases))


def conv_module_inplace_type(name: str | None) -> bool:
    """Whether mmcv ConvModule hands its ``inplace`` to an act_cfg of this type."""
    return name is not None and name not in _CONV_MODULE_NO_INPLACE


def inplace_in_config(value: Mapping[str, Any]) -> Activation | None:
    """The member a resolved config dict builds in place (``dict(type='ELU', inplace=True)``)."""
    activation = BY_NAME.get(registry_name(value.get("type")) or "")
    return activation if activation is not None and value.get("inplace") is True else None


def is_conv_module(name: str | None) -> bool:
    return name is not None and name.startswith("mmcv.") and name.endswith(".ConvModule")
