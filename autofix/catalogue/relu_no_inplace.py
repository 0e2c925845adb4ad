from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import libcst as cst

from autofix.catalogue.inplace_relu import INPLACE_RELU
from autofix.cst_helpers import (
    append_keyword,
    dict_call_keys,
    dict_literal_keys,
    has_star_args,
    import_aliases,
    is_true,
    keyword_index,
    keyword_value,
    mapping_value,
    positional_count,
    qualified_name,
    remove_arg,
)
from autofix.domain.activations import (
    CONV_ACT_CFG_POSITION,
    CONV_INPLACE_POSITION,
    CONVENTIONAL_ALIASES,
    FALSE,
    RELU_FUNCTIONS,
    RELU_MODULES,
    is_conv_module,
    is_relu_type,
)
from autofix.domain.relu_flow import inplace_relu_overwrites, overwrite_finding
from autofix.rule import Applicability, Example, FileKind, Finding, Rule, TransformContext


class _Rewriter(cst.CSTTransformer):
    def __init__(self, aliases: dict[str, str]) -> None:
        self.aliases = aliases

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        if isinstance(updated.func, cst.Attribute) and updated.func.attr.value == "relu_" and not updated.args:
            return updated.with_changes(func=updated.func.with_changes(attr=cst.Name("relu")))  # x.relu_()
        name = qualified_name(updated.func, self.aliases)
        if name in ("torch.nn.functional.relu_", "torch.relu_"):
            return updated.with_changes(func=updated.func.with_changes(attr=cst.Name("relu")))
        if name in RELU_MODULES:
            return self._drop_true_flag(updated, position=0)
        if name in RELU_FUNCTIONS:
            return self._drop_true_flag(updated, position=1)
        if is_conv_module(name):
            return self._conv_module(updated)
        keys = dict_call_keys(updated)
        if keys and is_relu_type(keys.get("type") and keys["type"].value, self.aliases):
            flag = keys.get("inplace")
            if flag is not None and is_true(flag.value):
                return updated.with_changes(
                    args=[a.with_changes(value=FALSE) if a is flag else a for a in updated.args]
                )
        return updated

    def leave_Dict(self, original: cst.Dict, updated: cst.Dict) -> cst.BaseExpression:
        keys = dict_literal_keys(updated)
        if "type" in keys and is_relu_type(keys["type"].value, self.aliases):
            flag = keys.get("inplace")
            if flag is not None and is_true(flag.value):
                return updated.with_changes(
                    elements=[e.with_changes(value=FALSE) if e is flag else e for e in updated.elements]
                )
        return updated

    @staticmethod
    def _drop_true_flag(call: cst.Call, position: int) -> cst.Call:
        """Remove ``inplace=True`` or a positional ``True`` in the ``inplace`` slot (default: False)."""
        index = keyword_index(call.args, "inplace")
        if index is None and positional_count(call.args) > position and call.args[position].keyword is None:
            index = position
        if index is None or not is_true(call.args[index].value):
            return call
        return call.with_changes(args=remove_arg(call.args, index))

    def _conv_module(self, call: cst.Call) -> cst.Call:
        """ConvModule passes ``inplace`` (default True) into its act_cfg, so say False explicitly."""
        args = list(call.args)
        index = keyword_index(args, "inplace")
        if index is None and positional_count(args) > CONV_INPLACE_POSITION:
            index = CONV_INPLACE_POSITION
        if index is not None:
            if is_true(args[index].value):
                args[index] = args[index].with_changes(value=FALSE)
                return call.with_changes(args=args)
            return call
        if has_star_args(args):
            return call  # `**kwargs` may carry inplace; nothing can be known
        act_cfg = keyword_value(args, "act_cfg")
        if act_cfg is None and positional_count(args) > CONV_ACT_CFG_POSITION:
            act_cfg = args[CONV_ACT_CFG_POSITION].value
        relu_by_default = act_cfg is None
        relu_without_flag = (
            act_cfg is not None
            and is_relu_type(mapping_value(act_cfg, "type"), self.aliases)
            and mapping_value(act_cfg, "inplace") is None
        )
        if relu_by_default or relu_without_flag:
            return call.with_changes(args=append_keyword(args, "inplace", FALSE))
        return call


class ReluNoInplace(Rule):
    """Turn in-place ReLUs into out-of-place ones.

    ## What it does
    Removes `inplace=True` (or the positional `True`) from `nn.ReLU` and `F.relu`; rewrites
    `F.relu_(x)`, `torch.relu_(x)` and `x.relu_()` to their out-of-place forms; sets `inplace=False`
    on mmcv `ConvModule` calls (whose default is `inplace=True`) and in every
    `dict(type='ReLU', inplace=True)` / `{'type': 'ReLU', 'inplace': True}` (`act_cfg`,
    `ffn_act_cfg`, `build_activation_layer`).

    Config dicts get `inplace=False` rather than losing the key because mmcv's ConvModule does
    `act_cfg.setdefault('inplace', inplace)`: a missing key is in-place again there.
    `inplace=<variable>` is left alone: its value is not known from the file.

    ## Why
    Autograd saves a ReLU's output for backward; an in-place op that later overwrites it makes
    `loss.backward()` fail with "modified by an inplace operation ... ReluBackward".

    ## Fix safety
    An out-of-place ReLU computes the same values, so training results are unchanged; each
    ReLU keeps its own output, which takes a little more activation memory.
    """

    id = "relu-no-inplace"
    summary = "Removes inplace=True from ReLUs (nn.ReLU, F.relu, relu_, ConvModule, ReLU act_cfg dicts)"
    crash = INPLACE_RELU.crash
    tradeoff = "A little more activation memory (each ReLU keeps its own output); results are unchanged"
    latent_message = "in-place ReLU; it crashes backward once its output is modified in place"
    applicability = Applicability.SAFE
    prefilter = ("inplace", "relu_", "relu(", "ReLU(", "ConvModule")
    examples = (
        Example(
            kind=FileKind.SCRIPT,
            title="nn.ReLU keyword and positional forms",
            before="""
            from torch import nn
            relu = nn.ReLU(inplace=True)
            relu2 = nn.ReLU(True)  # keep me
            """,
            after="""
            from torch import nn
            relu = nn.ReLU()
            relu2 = nn.ReLU()  # keep me
            """,
        ),
        Example(
            kind=FileKind.SCRIPT,
            title="functional forms",
            before="""
            import torch
            import torch.nn.functional as F
            y = F.relu(x, inplace=True)
            z = F.relu_(x) + torch.relu_(x) + x.relu_()
            """,
            after="""
            import torch
            import torch.nn.functional as F
            y = F.relu(x)
            z = F.relu(x) + torch.relu(x) + x.relu()
            """,
        ),
        Example(
            kind=FileKind.SCRIPT,
            title="mmcv ConvModule defaults to inplace=True",
            before="""
            from mmcv.cnn import ConvModule
            a = ConvModule(3, 8, 3, padding=1)
            b = ConvModule(3, 8, 3, inplace=True)
            c = ConvModule(3, 8, 3, act_cfg=None)
            """,
            after="""
            from mmcv.cnn import ConvModule
            a = ConvModule(3, 8, 3, padding=1, inplace=False)
            b = ConvModule(3, 8, 3, inplace=False)
            c = ConvModule(3, 8, 3, act_cfg=None)
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="act_cfg dicts in a config",
            before="""
            _base_ = './detr_r50_8xb2-150e_coco.py'
            model = dict(
                bbox_head=dict(act_cfg=dict(type='ReLU', inplace=True)),
                encoder=dict(ffn_cfg={'type': 'ReLU', 'inplace': True}),
            )
            """,
            after="""
            _base_ = './detr_r50_8xb2-150e_coco.py'
            model = dict(
                bbox_head=dict(act_cfg=dict(type='ReLU', inplace=False)),
                encoder=dict(ffn_cfg={'type': 'ReLU', 'inplace': False}),
            )
            """,
        ),
        Example(
            kind=FileKind.SCRIPT,
            title="not a ReLU, or not known to be in place",
            before="""
            from torch import nn
            act = nn.LeakyReLU(inplace=True)
            relu = nn.ReLU(inplace=self.inplace)
            cfg = dict(type='SiLU', inplace=True)
            """,
        ),
    )

    def source_findings(self, module: cst.Module, options: Mapping[str, Any]) -> list[Finding]:
        return [overwrite_finding(overwrite) for overwrite in inplace_relu_overwrites(module) if overwrite.fix == self.id]

    def transform(self, module: cst.Module, context: TransformContext) -> cst.Module:
        return module.visit(_Rewriter(import_aliases(module, CONVENTIONAL_ALIASES)))
