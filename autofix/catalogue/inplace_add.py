from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import libcst as cst

from autofix.catalogue.inplace_relu import INPLACE_RELU
from autofix.cst_helpers import import_aliases
from autofix.domain.activations import CONVENTIONAL_ALIASES
from autofix.domain.relu_flow import inplace_relu_overwrites, overwrite_finding
from autofix.domain.tensors import (
    NOTHING_KNOWN,
    NonTensorNames,
    module_class_names,
    non_tensor_names,
    out_of_place,
    rewritable,
)
from autofix.rule import Applicability, Example, Finding, Rule, TransformContext


@dataclass(frozen=True)
class _Scope:
    is_forward: bool  # forward of an nn.Module subclass, or a function nested in it
    non_tensors: NonTensorNames


class _Rewriter(cst.CSTTransformer):
    def __init__(self, module_classes: set[str]) -> None:
        self.module_classes = module_classes
        # One entry per enclosing class (a bool: is it a module) or function (a _Scope).
        self.stack: list[bool | _Scope] = []

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.stack.append(node.name.value in self.module_classes)

    def leave_ClassDef(self, original: cst.ClassDef, updated: cst.ClassDef) -> cst.ClassDef:
        self.stack.pop()
        return updated

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        parent = self.stack[-1] if self.stack else None
        if isinstance(parent, _Scope):  # a function nested in forward (mmdet's `_inner_forward`) is forward too
            is_forward = parent.is_forward
        else:
            is_forward = parent is True and node.name.value == "forward"
        self.stack.append(_Scope(is_forward, non_tensor_names(node) if is_forward else NOTHING_KNOWN))

    def leave_FunctionDef(self, original: cst.FunctionDef, updated: cst.FunctionDef) -> cst.FunctionDef:
        self.stack.pop()
        return updated

    def leave_AugAssign(self, original: cst.AugAssign, updated: cst.AugAssign) -> cst.BaseSmallStatement:
        scope = self.stack[-1] if self.stack else None
        if not (isinstance(scope, _Scope) and scope.is_forward and rewritable(updated, scope.non_tensors)):
            return updated
        after = updated.operator.whitespace_after
        # A line continuation (`x += \`) stays after the operator: `x = x + \`.
        continued = isinstance(after, cst.SimpleWhitespace) and "\\" in after.value
        return cst.Assign(
            targets=[cst.AssignTarget(
                target=updated.target,
                whitespace_before_equal=updated.operator.whitespace_before,
                whitespace_after_equal=cst.SimpleWhitespace(" ") if continued else after,
            )],
            value=out_of_place(updated.target, updated.operator, updated.value),
            semicolon=updated.semicolon,
        )


class InplaceAdd(Rule):
    """Rewrite `out += y` in `forward` as `out = out + y`.

    ## What it does
    Inside the `forward` method of every `nn.Module` subclass (a class whose base is `nn.Module`, a
    class of torch.nn or an OpenMMLab model package, a name ending in `Module`, or such a class of
    the same file), and inside functions nested in that `forward`, rewrites `x op= y` to
    `x = x op y` for `+= -= *= /= //= %= **= &= |= ^= <<= >>=` on a name, or on an item of a list the
    function builds (`laterals[i - 1] += ...`). The right-hand side is parenthesised where the old
    statement grouped it first (`x -= a - b` becomes `x = x - (a - b)`).

    Left alone: counters and other names that are plainly not tensors in that function (assigned a
    number, string or container, `len()`, `x.size(0)`, `x.shape[...]`; loop counters of
    `range`/`enumerate`; parameters with a number default or annotation), concatenation
    (`outs += (out,)`, `levels += [x]`: the target is a tuple or list, and a list would stop being
    shared), attributes (`self.count += 1`), item updates by a number literal (`counts[i] += 1`) or
    with calls in the index, `@=`, and every other method and function. `x[i] /= w` is left alone
    unless `x` is a list the function builds: on a tensor, `x[i] = x[i] / w` still writes into `x` in
    place, so only rewriting how `x` is computed helps (`check` reports it as an item assignment).

    ## Why
    `x += y` on a tensor is an in-place op. When `x` is a ReLU's output that autograd saved for
    backward, `loss.backward()` fails with "one of the variables needed for gradient computation has
    been modified by an inplace operation ... ReluBackward". Upstream mmdetection made the same change
    in FPN (`laterals[i - 1] = laterals[i - 1] + F.interpolate(...)`) and HTC for this crash.
    `relu-no-inplace` cannot fix it: a ReLU's output is saved whether or not the ReLU is in place.

    ## Fix safety
    The values computed stay the same. Each rewritten line allocates a new tensor (a little more
    memory). Two differences in behaviour: another name bound to the same tensor no longer sees the
    update, and the result follows type promotion (a Half `x` plus a Float `y` gives Float, where
    `x += y` stayed Half). Opt-in: not part of any crash fix's default.
    """

    id = "inplace-add"
    summary = "Rewrites augmented assignments in nn.Module forward methods out of place (out += y -> out = out + y)"
    crash = INPLACE_RELU.crash
    tradeoff = "A little more memory: each rewritten line allocates a new tensor; results unchanged"
    opt_in = True
    latent_message = "an in-place update in forward: backward fails on an activation's output"
    applicability = Applicability.SAFE
    prefilter = ("def forward",)
    examples = (
        Example(
            title="a residual block: the sum becomes out of place, also in a nested forward helper",
            before="""
            import torch.nn as nn


            class Bottleneck(nn.Module):

                def forward(self, x):
                    def _inner_forward(x):
                        out = self.relu(self.conv1(x))
                        out += x  # residual
                        return out

                    out = _inner_forward(x)
                    out *= self.scale
                    return out
            """,
            after="""
            import torch.nn as nn


            class Bottleneck(nn.Module):

                def forward(self, x):
                    def _inner_forward(x):
                        out = self.relu(self.conv1(x))
                        out = out + x  # residual
                        return out

                    out = _inner_forward(x)
                    out = out * self.scale
                    return out
            """,
        ),
        Example(
            title="FPN's top-down path (the upstream fix); the right-hand side keeps its grouping",
            before="""
            from mmengine.model import BaseModule


            class FPN(BaseModule):

                def forward(self, inputs):
                    laterals = [conv(inputs[i]) for i, conv in enumerate(self.lateral_convs)]
                    for i in range(len(laterals) - 1, 0, -1):
                        laterals[i - 1] += F.interpolate(laterals[i], scale_factor=2)
                    x = laterals[0]
                    x -= a - b
                    return x
            """,
            after="""
            from mmengine.model import BaseModule


            class FPN(BaseModule):

                def forward(self, inputs):
                    laterals = [conv(inputs[i]) for i, conv in enumerate(self.lateral_convs)]
                    for i in range(len(laterals) - 1, 0, -1):
                        laterals[i - 1] = laterals[i - 1] + F.interpolate(laterals[i], scale_factor=2)
                    x = laterals[0]
                    x = x - (a - b)
                    return x
            """,
        ),
        Example(
            title="left alone: counters, tuples, items of tensors, attributes, other methods, non-modules",
            before="""
            import torch.nn as nn


            class Head(nn.Module):

                def forward(self, feats, scale=1.0):
                    total = 0
                    outs = self.stem(feats)
                    for i, feat in enumerate(feats):
                        i += 1
                        total += feat.size(1)
                        outs += (feat,)
                    weights = self.weights(feats[0])
                    weights[0] /= weights.sum()
                    scale *= 2
                    self.calls += 1
                    return total * scale, outs, weights

                def loss(self, x, y):
                    x += y
                    return x


            class Meter:

                def forward(self, x):
                    x += 1
                    return x
            """,
        ),
    )

    def source_findings(self, module: cst.Module, options: Mapping[str, Any]) -> list[Finding]:
        return [overwrite_finding(overwrite) for overwrite in inplace_relu_overwrites(module) if overwrite.fix == self.id]

    def transform(self, module: cst.Module, context: TransformContext) -> cst.Module:
        aliases = import_aliases(module, CONVENTIONAL_ALIASES)
        module_classes = module_class_names(module, aliases)
        if not module_classes:
            return module
        return module.visit(_Rewriter(module_classes))
