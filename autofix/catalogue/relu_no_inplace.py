"""Rule ``relu-no-inplace``: activations out of place, in model code and in the effective config."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
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
    node_code,
    positional_count,
    qualified_name,
    remove_arg,
)
from autofix.domain.activations import (
    CONV_ACT_CFG_POSITION,
    CONV_INPLACE_POSITION,
    CONVENTIONAL_ALIASES,
    FALSE,
    conv_module_inplace_type,
    family_function,
    family_module,
    family_type,
    inplace_function,
    inplace_in_config,
    inplace_method,
    is_conv_module,
)
from autofix.domain.relu_flow import bare_inplace_activations, inplace_relu_overwrites, overwrite_finding
from autofix.rule import (
    Applicability,
    ConfigRule,
    Example,
    FileKind,
    Finding,
    KeyPath,
    SetKey,
    Severity,
    TransformContext,
    TransformFailed,
    dotted_key,
    edited_keys,
)


class _Rewriter(cst.CSTTransformer):
    def __init__(
        self, aliases: dict[str, str], bare: Mapping[cst.Expr, cst.BaseExpression | None], note: Callable[[str], None]
    ) -> None:
        self.aliases = aliases
        self.bare = bare
        self.note = note

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        name = qualified_name(updated.func, self.aliases)
        if isinstance(updated.func, cst.Attribute):
            method = updated.func.attr.value
            # x.relu_(), torch.relu_(x), F.leaky_relu_(x, 0.1): the same call without the trailing underscore
            if inplace_function(name) or (name is None and not updated.args and inplace_method(method)):
                return updated.with_changes(func=updated.func.with_changes(attr=cst.Name(method[:-1])))
        module = family_module(name)
        if module is not None:
            return self._drop_true_flag(updated, module.module_flag)
        function = family_function(name)
        if function is not None:
            return self._drop_true_flag(updated, function.function_flag)
        if is_conv_module(name):
            return self._conv_module(updated)
        keys = dict_call_keys(updated)
        if keys and family_type(keys.get("type") and keys["type"].value, self.aliases):
            flag = keys.get("inplace")
            if flag is not None and is_true(flag.value):
                return updated.with_changes(
                    args=[a.with_changes(value=FALSE) if a is flag else a for a in updated.args]
                )
        return updated

    def leave_Dict(self, original: cst.Dict, updated: cst.Dict) -> cst.BaseExpression:
        keys = dict_literal_keys(updated)
        if "type" in keys and family_type(keys["type"].value, self.aliases):
            flag = keys.get("inplace")
            if flag is not None and is_true(flag.value):
                return updated.with_changes(
                    elements=[e.with_changes(value=FALSE) if e is flag else e for e in updated.elements]
                )
        return updated

    def leave_Expr(self, original: cst.Expr, updated: cst.Expr) -> cst.BaseSmallStatement:
        """A bare ``F.relu_(x)`` worked through its effect on ``x``: out of place, it must assign it."""
        if original not in self.bare:
            return updated
        target = self.bare[original]
        code = node_code(original.value)
        if target is None:
            if updated.deep_equals(original):  # `self.act(x)`: its module is made out of place all the same
                raise TransformFailed(
                    f"{code!r} changes an argument, parameter or loop item in place through a module this rule "
                    "makes out of place; assign its result by hand, or skip the line with # autofix: skip"
                )
            self.note(f"left {code!r} in place: it changes a parameter or loop item that the caller or a list shares")
            return original
        return cst.Assign(targets=[cst.AssignTarget(target.deep_clone())], value=updated.value, semicolon=updated.semicolon)

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
        member = family_type(mapping_value(act_cfg, "type"), self.aliases) if act_cfg is not None else None
        relu_by_default = act_cfg is None
        member_without_flag = (
            member is not None and conv_module_inplace_type(member.name) and mapping_value(act_cfg, "inplace") is None
        )
        if relu_by_default or member_without_flag:
            return call.with_changes(args=append_keyword(args, "inplace", FALSE))
        return call


def inplace_activations(value: Any, path: KeyPath) -> Iterator[tuple[KeyPath, str]]:
    """(key path, member) of every dict under ``value`` that builds a family member in place."""
    if isinstance(value, Mapping):
        member = inplace_in_config(value)
        if member is not None:
            yield path, member.name
        for key, item in value.items():
            yield from inplace_activations(item, (*path, key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from inplace_activations(item, (*path, index))


class ReluNoInplace(ConfigRule):
    """Make in-place activations out of place.

    ## What it does
    In model code, for the activations whose in-place form breaks backward (ReLU, LeakyReLU, ELU, CELU,
    SELU, RReLU): removes `inplace=True` (or the
    positional `True`) from `nn.ReLU`, `nn.LeakyReLU`, ... and from `F.relu`, `F.leaky_relu`, ...;
    rewrites `F.relu_(x)`, `torch.relu_(x)`, `x.relu_()`, `F.leaky_relu_`, `F.elu_`, `torch.selu_` and
    the like to their out-of-place forms; sets `inplace=False` on mmcv `ConvModule`
    calls (whose default is `inplace=True`) with a member (or no) `act_cfg`; and sets `inplace=False` in
    every `dict(type='ReLU', inplace=True)` / `{'type': 'LeakyReLU', 'inplace': True}` (`act_cfg`,
    `ffn_act_cfg`, `build_activation_layer`).

    A bare statement that worked through its effect (`F.relu_(x)`, `x.relu_()`, or `self.act(x)` where
    `self.act` is an in-place module of this file) becomes `x = F.relu(x)`, `x = x.relu()`,
    `x = self.act(x)`. Where `x` is a parameter or loop item the function never rebinds (the caller's
    tensor or a list item would no longer change), an in-place call is left as it is, with a note, and
    `self.act(x)` is an error to fix by hand.

    In a config, the dicts written in the file are fixed where they are; then every in-place member
    the *effective* model still builds (inherited from a base, which is not touched) gets the smallest
    override in the file given, proved with mmengine:
    `model = dict(backbone=dict(act_cfg=dict(inplace=False)))`, or `model.backbone.act_cfg.inplace =
    False` in new-style configs. Config dicts get `inplace=False` rather than losing the key because
    mmcv's ConvModule does `act_cfg.setdefault('inplace', inplace)`: a missing key is in-place again
    there. `inplace=<variable>` is left alone: its value is not known from the file.

    ## Why
    An in-place activation overwrites its input, so autograd saves its output for backward; an in-place
    op that later overwrites that output makes `loss.backward()` fail with "modified by an inplace
    operation ... which is output 0 of ReluBackward0" (`LeakyReluBackward1`, `EluBackward1`,
    `CeluBackward1`, `RreluWithNoiseBackward1`; torch 2.13 drops "Backward": `Relu`, `LeakyRelu1`).
    ReLU6, Hardtanh, Threshold, Hardsigmoid, Hardswish, SiLU and Mish are left alone: run in torch
    2.13, their in-place forms train with the same gradients when their output is changed afterwards.
    Sigmoid and Tanh save their output in place or not, and nothing turns them in place in a module or
    config: their crashes come from a later in-place op.

    ## Fix safety
    An out-of-place activation computes the same values, so training results are unchanged; each one
    keeps its own output, which takes a little more activation memory.
    """

    id = "relu-no-inplace"
    summary = "Makes in-place activations out of place (ReLU, LeakyReLU, ELU, ...; modules, functions, ConvModule, config dicts)"
    crash = INPLACE_RELU.crash
    tradeoff = "A little more activation memory (each activation keeps its own output); results are unchanged"
    latent_message = "an in-place activation: backward fails if its output changes"
    applicability = Applicability.SAFE
    _source_markers = ("inplace", "relu_", "elu_", "ConvModule", "relu(", "ReLU(", "elu(", "ELU(")
    prefilter = (*_source_markers, "_base_", "read_base")  # a config may inherit its activations
    chain_prefilter = _source_markers
    override_comment = "out-of-place activations"
    examples = (
        Example(
            kind=FileKind.SCRIPT,
            title="modules: keyword and positional forms",
            before="""
            from torch import nn
            relu = nn.ReLU(inplace=True)
            relu2 = nn.ReLU(True)  # keep me
            leaky = nn.LeakyReLU(0.1, True)
            elu = nn.ELU(inplace=True)
            """,
            after="""
            from torch import nn
            relu = nn.ReLU()
            relu2 = nn.ReLU()  # keep me
            leaky = nn.LeakyReLU(0.1)
            elu = nn.ELU()
            """,
        ),
        Example(
            kind=FileKind.SCRIPT,
            title="functional forms",
            before="""
            import torch
            import torch.nn.functional as F
            y = F.relu(x, inplace=True)
            w = F.leaky_relu(x, 0.2, inplace=True)
            z = F.relu_(x) + torch.relu_(x) + x.relu_() + F.elu_(x) + torch.selu_(x)
            """,
            after="""
            import torch
            import torch.nn.functional as F
            y = F.relu(x)
            w = F.leaky_relu(x, 0.2)
            z = F.relu(x) + torch.relu(x) + x.relu() + F.elu(x) + torch.selu(x)
            """,
        ),
        Example(
            title="a bare in-place call keeps its effect: the result is assigned",
            before="""
            import torch.nn.functional as F
            from torch import nn


            class Head(nn.Module):

                def __init__(self):
                    super().__init__()
                    self.act = nn.LeakyReLU(0.1, inplace=True)

                def forward(self, x):
                    x = self.fc(x)
                    F.relu_(x)
                    feat = self.conv(x)
                    self.act(feat)
                    feat.relu_()
                    return x + feat

                def activate(self, x):
                    F.relu_(x)  # the caller's tensor: left alone
            """,
            after="""
            import torch.nn.functional as F
            from torch import nn


            class Head(nn.Module):

                def __init__(self):
                    super().__init__()
                    self.act = nn.LeakyReLU(0.1)

                def forward(self, x):
                    x = self.fc(x)
                    x = F.relu(x)
                    feat = self.conv(x)
                    feat = self.act(feat)
                    feat = feat.relu()
                    return x + feat

                def activate(self, x):
                    F.relu_(x)  # the caller's tensor: left alone
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
            d = ConvModule(3, 8, 3, act_cfg=dict(type='LeakyReLU', negative_slope=0.1))
            e = ConvModule(3, 8, 3, act_cfg=dict(type='Swish'))
            """,
            after="""
            from mmcv.cnn import ConvModule
            a = ConvModule(3, 8, 3, padding=1, inplace=False)
            b = ConvModule(3, 8, 3, inplace=False)
            c = ConvModule(3, 8, 3, act_cfg=None)
            d = ConvModule(3, 8, 3, act_cfg=dict(type='LeakyReLU', negative_slope=0.1), inplace=False)
            e = ConvModule(3, 8, 3, act_cfg=dict(type='Swish'))
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="act_cfg dicts written in a config",
            before="""
            model = dict(
                type='DETR',
                bbox_head=dict(act_cfg=dict(type='ReLU', inplace=True)),
                encoder=dict(ffn_cfg={'type': 'LeakyReLU', 'inplace': True}),
            )
            """,
            after="""
            model = dict(
                type='DETR',
                bbox_head=dict(act_cfg=dict(type='ReLU', inplace=False)),
                encoder=dict(ffn_cfg={'type': 'LeakyReLU', 'inplace': False}),
            )
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="inherited from a base: the smallest override in the file given, the base left alone",
            files={
                "base.py": """
                model = dict(
                    type='YOLODetector',
                    backbone=dict(type='YOLOv7Backbone', act_cfg=dict(type='LeakyReLU', negative_slope=0.1, inplace=True)),
                    neck=dict(type='YOLOv7PAFPN', act_cfg=dict(type='LeakyReLU', negative_slope=0.1, inplace=True)),
                    bbox_head=dict(type='YOLOv7Head', num_classes=80))
                """,
            },
            before="""
            _base_ = './base.py'
            model = dict(bbox_head=dict(num_classes=3))
            """,
            after="""
            _base_ = './base.py'
            model = dict(bbox_head=dict(num_classes=3), backbone=dict(act_cfg=dict(inplace=False)), neck=dict(act_cfg=dict(inplace=False)))
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="inherited, new style (read_base): attribute assignments",
            files={
                "base.py": """
                model = dict(
                    type='DETR',
                    encoder=dict(layer_cfg=dict(ffn_cfg=dict(act_cfg=dict(type='ReLU', inplace=True)))))
                """,
            },
            before="""
            from mmengine.config import read_base

            with read_base():
                from .base import *
            """,
            after="""
            from mmengine.config import read_base

            with read_base():
                from .base import *

            # autofix relu-no-inplace: out-of-place activations
            model.encoder.layer_cfg.ffn_cfg.act_cfg.inplace = False
            """,
        ),
        Example(
            kind=FileKind.SCRIPT,
            title="left alone: in-place forms that train correctly, flags not known from the file",
            before="""
            from torch import nn
            act = nn.ReLU6(inplace=True)
            swish = nn.SiLU(inplace=True)
            relu = nn.ReLU(inplace=self.inplace)
            cfg = dict(type='Hardswish', inplace=True)
            """,
        ),
    )

    def findings(self, config: Mapping[str, Any], options: Mapping[str, Any]) -> list[Finding]:
        # The model is what the runner builds; a top-level variable that only fed it changes with it.
        return [
            Finding(
                f"{dotted_key(path)} builds an in-place {name}",
                Severity.LATENT,
                details={"key": dotted_key(path), "activation": name},
                edits=(SetKey((*path, "inplace"), False),),
                detail="backward fails once its output is modified in place; set inplace=False",
            )
            for path, name in inplace_activations(config.get("model"), ("model",))
        ]

    def intended(self, config: Mapping[str, Any], options: Mapping[str, Any]) -> tuple[str | re.Pattern[str], ...]:
        """The ``inplace`` key of every in-place member in the config: the file's own dicts are fixed
        where they are written, also those outside the model (a variable nothing reads)."""
        return edited_keys(config, [SetKey((*path, "inplace"), False) for path, _ in inplace_activations(config, ())])

    def source_findings(self, module: cst.Module, options: Mapping[str, Any]) -> list[Finding]:
        return [overwrite_finding(overwrite) for overwrite in inplace_relu_overwrites(module) if overwrite.fix == self.id]

    def transform(self, module: cst.Module, context: TransformContext) -> cst.Module:
        bare = bare_inplace_activations(module) if context.kind is not FileKind.CONFIG else {}
        rewritten = module.visit(_Rewriter(import_aliases(module, CONVENTIONAL_ALIASES), bare, context.note))
        if context.kind is not FileKind.CONFIG:
            return rewritten
        if rewritten is not module:  # what the file writes is fixed; the planner sees it so
            context = context.holding(rewritten.code)
        return super().transform(rewritten, context)  # what it inherits: overrides
