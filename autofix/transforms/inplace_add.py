from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst

from autofix.cst_helpers import descendants, dotted_name, import_aliases, qualified_name, walk_statements
from autofix.transform import Example, Transform, TransformContext
from autofix.transforms.relu_no_inplace import CONVENTIONAL_ALIASES

# Bases that make a class an nn.Module: torch's, and the OpenMMLab model packages' (whose classes all are).
_MODULE_BASE_PREFIXES = (
    "torch.nn.", "mmcv.cnn.", "mmcv.ops.", "mmengine.model.", "mmcv.runner.",
    "mmdet.models.", "mmdet3d.models.", "mmseg.models.", "mmpose.models.", "mmpretrain.models.",
    "mmcls.models.", "mmrotate.models.", "mmyolo.models.", "mmocr.models.", "mmaction.models.",
)
# Calls whose result is a Python number (or sequence of them), never a tensor.
_NUMBER_FUNCTIONS = {"len", "int", "float", "round", "bool", "str"}
_NUMBER_METHODS = {"size", "dim", "numel", "item", "ndimension", "nelement", "element_size", "tolist"}
_CONTAINER_FUNCTIONS = {"list", "tuple", "dict", "set", "zip", "enumerate", "sorted", "reversed"}
_NUMBER_ANNOTATIONS = {"int", "float", "bool", "str", "complex", "list", "tuple", "dict", "set", "List", "Tuple", "Dict"}
# Not in place on tensors (torch has no __imatmul__), so there is nothing to rewrite.
_SKIPPED_OPERATORS = (cst.MatrixMultiplyAssign,)

_OPERATOR_FOR = {
    cst.AddAssign: cst.Add, cst.SubtractAssign: cst.Subtract, cst.MultiplyAssign: cst.Multiply,
    cst.DivideAssign: cst.Divide, cst.FloorDivideAssign: cst.FloorDivide, cst.ModuloAssign: cst.Modulo,
    cst.PowerAssign: cst.Power, cst.BitAndAssign: cst.BitAnd, cst.BitOrAssign: cst.BitOr,
    cst.BitXorAssign: cst.BitXor, cst.LeftShiftAssign: cst.LeftShift, cst.RightShiftAssign: cst.RightShift,
}
# Python's binding strength of each binary operator (higher binds tighter).
_BINARY_PRECEDENCE = {
    cst.BitOr: 6, cst.BitXor: 7, cst.BitAnd: 8, cst.LeftShift: 9, cst.RightShift: 9, cst.Add: 10,
    cst.Subtract: 10, cst.Multiply: 11, cst.MatrixMultiply: 11, cst.Divide: 11, cst.FloorDivide: 11,
    cst.Modulo: 11, cst.Power: 13,
}
_ATOM = 20


def _precedence(node: cst.BaseExpression) -> int:
    if node.lpar:
        return _ATOM
    if isinstance(node, cst.BinaryOperation):
        return _BINARY_PRECEDENCE[type(node.operator)]
    if isinstance(node, cst.UnaryOperation):
        return 4 if isinstance(node.operator, cst.Not) else 12
    if isinstance(node, cst.Comparison):
        return 5
    if isinstance(node, cst.BooleanOperation):
        return 3 if isinstance(node.operator, cst.And) else 2
    if isinstance(node, (cst.IfExp, cst.Lambda, cst.NamedExpr, cst.Yield)):
        return 0
    if isinstance(node, cst.Await):
        return 14
    return _ATOM


def _out_of_place(target: cst.BaseExpression, operator: cst.BaseAugOp, value: cst.BaseExpression) -> cst.BinaryOperation:
    """``target <op> value`` with ``value`` parenthesised where the old ``op=`` grouped it first."""
    binary = _OPERATOR_FOR[type(operator)](
        whitespace_before=operator.whitespace_before, whitespace_after=operator.whitespace_after
    )
    strength = _BINARY_PRECEDENCE[type(binary)]
    # `**` groups to the right, so an operand as strong as it needs no parentheses there.
    needs_parentheses = _precedence(value) < strength if isinstance(binary, cst.Power) else _precedence(value) <= strength
    if needs_parentheses:
        value = value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return cst.BinaryOperation(left=target.deep_clone(), operator=binary, right=value)


# --- which classes are modules, which names are plainly not tensors ---------------------------------


def module_class_names(module: cst.Module, aliases: dict[str, str]) -> set[str]:
    """Classes of this file that subclass nn.Module: directly, via an OpenMMLab model package, or via
    another such class of the file."""
    classes = [node for node in walk_statements(module, enter_definitions=True) if isinstance(node, cst.ClassDef)]
    found: set[str] = set()
    changed = True
    while changed:
        changed = False
        for node in classes:
            if node.name.value not in found and any(_is_module_base(b.value, aliases, found) for b in node.bases):
                found.add(node.name.value)
                changed = True
    return found


def _is_module_base(base: cst.BaseExpression, aliases: dict[str, str], module_classes: set[str]) -> bool:
    name = dotted_name(base)
    if name is None:
        return False
    if name in module_classes or name.endswith("Module"):
        return True
    qualified = qualified_name(base, aliases)
    return qualified is not None and qualified.startswith(_MODULE_BASE_PREFIXES)


def _own_scope(function: cst.FunctionDef, kinds: tuple[type, ...]) -> list[cst.CSTNode]:
    """Statements of ``kinds`` in the function's own scope (not in nested functions or classes)."""
    return [node for node in walk_statements(function) if isinstance(node, kinds)]


def _is_number_literal(node: cst.BaseExpression | None) -> bool:
    if isinstance(node, (cst.Integer, cst.Float, cst.Imaginary)):
        return True
    return isinstance(node, cst.UnaryOperation) and _is_number_literal(node.expression)


def _plain_number(node: cst.BaseExpression | None, numbers: set[str]) -> bool:
    """Plainly a Python number or string: literals, ``len()``/``int()``, ``x.size(0)``, ``x.shape[0]``,
    names already known to be numbers, and arithmetic of those."""
    if node is None:
        return False
    if _is_number_literal(node) or isinstance(node, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)):
        return True
    if isinstance(node, cst.Name):
        return node.value in numbers
    if isinstance(node, cst.UnaryOperation):
        return _plain_number(node.expression, numbers)
    if isinstance(node, cst.BinaryOperation):
        return _plain_number(node.left, numbers) and _plain_number(node.right, numbers)
    if isinstance(node, cst.Call):
        if isinstance(node.func, cst.Name):
            return node.func.value in _NUMBER_FUNCTIONS
        return isinstance(node.func, cst.Attribute) and node.func.attr.value in _NUMBER_METHODS
    if isinstance(node, cst.Attribute):
        return node.attr.value in ("shape", "ndim")  # torch.Size (a tuple of ints) and an int
    if isinstance(node, cst.Subscript):
        return _plain_number(node.value, numbers)  # x.shape[0], x.size()[1:]
    return False


def _plain_container(node: cst.BaseExpression | None) -> bool:
    """A list, tuple, dict or set display, comprehension or constructor: its items may be tensors, it is not."""
    if isinstance(node, (cst.List, cst.Tuple, cst.Dict, cst.Set, cst.ListComp, cst.SetComp, cst.DictComp)):
        return True
    if isinstance(node, cst.BinaryOperation):  # [0] * n, a + [b]
        return _plain_container(node.left) or _plain_container(node.right)
    return isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value in _CONTAINER_FUNCTIONS


def _target_names(target: cst.BaseExpression) -> list[str]:
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, (cst.Tuple, cst.List)):
        return [name for element in target.elements for name in _target_names(element.value)]
    return []


@dataclass(frozen=True)
class NonTensorNames:
    """Names of one function's own scope that are plainly not tensors there."""

    numbers: frozenset[str]  # numbers and strings; also global/nonlocal names, which are not the function's to judge
    containers: frozenset[str]  # lists, tuples, dicts, sets (their items may still be tensors)


def _bindings(function: cst.FunctionDef) -> Iterator[tuple[cst.BaseExpression, cst.BaseExpression | None]]:
    """(target, value) for each assignment of the function's own scope; tuple targets paired with
    tuple values item by item."""
    for node in _own_scope(function, (cst.Assign, cst.AnnAssign)):
        if isinstance(node, cst.Assign):
            for target in node.targets:
                yield from _paired(target.target, node.value)
        else:
            yield from _paired(node.target, node.value)


def _paired(target: cst.BaseExpression, value: cst.BaseExpression | None) -> Iterator[tuple[cst.BaseExpression, cst.BaseExpression | None]]:
    if isinstance(target, (cst.Tuple, cst.List)) and isinstance(value, (cst.Tuple, cst.List)) and len(target.elements) == len(value.elements):
        for target_element, value_element in zip(target.elements, value.elements):
            yield from _paired(target_element.value, value_element.value)
    elif isinstance(target, (cst.Tuple, cst.List)) and _plain_number(value, set()):
        for name in _target_names(target):  # h, w = x.shape[-2:]
            yield cst.Name(name), cst.Integer("0")
    else:
        yield target, value


def non_tensor_names(function: cst.FunctionDef) -> NonTensorNames:
    """Names plainly not tensors in ``function``'s own scope: any binding to a number, string or
    container; ``range``/``enumerate`` loop counters; parameters with a number default or annotation."""
    numbers: set[str] = set()
    containers: set[str] = set()
    for param in [*function.params.params, *function.params.kwonly_params, *function.params.posonly_params]:
        annotation = dotted_name(param.annotation.annotation) if param.annotation else None
        if _is_number_literal(param.default) or (annotation and annotation.split(".")[-1] in _NUMBER_ANNOTATIONS):
            numbers.add(param.name.value)
    for node in _own_scope(function, (cst.AnnAssign, cst.For, cst.Global, cst.Nonlocal)):
        if isinstance(node, cst.AnnAssign):
            annotation = dotted_name(node.annotation.annotation)
            if annotation and annotation.split(".")[-1] in _NUMBER_ANNOTATIONS:
                numbers.update(_target_names(node.target))
        elif isinstance(node, cst.For) and isinstance(node.iter, cst.Call):
            called = dotted_name(node.iter.func)
            if called == "range":
                numbers.update(_target_names(node.target))
            elif called == "enumerate" and isinstance(node.target, (cst.Tuple, cst.List)) and node.target.elements:
                numbers.update(_target_names(node.target.elements[0].value))  # the index
        elif isinstance(node, (cst.Global, cst.Nonlocal)):
            numbers.update(item.name.value for item in node.names)
    bindings = [(_target_names(target), value) for target, value in _bindings(function)]
    for names, value in bindings:
        if _plain_container(value):
            containers.update(names)
    changed = True
    while changed:  # `n = len(x)` then `m = n * 2`: follow until nothing new is learnt
        changed = False
        for names, value in bindings:
            if any(name not in numbers for name in names) and _plain_number(value, numbers):
                numbers.update(names)
                changed = True
    return NonTensorNames(frozenset(numbers), frozenset(containers))


_NOTHING_KNOWN = NonTensorNames(frozenset(), frozenset())


def _simple_index(node: cst.CSTNode) -> bool:
    """An index that can be evaluated twice with the same result: no calls, awaits, yields or walrus."""
    return not descendants(node, (cst.Call, cst.Await, cst.Yield, cst.NamedExpr))


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
        self.stack.append(_Scope(is_forward, non_tensor_names(node) if is_forward else _NOTHING_KNOWN))

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
            value=_out_of_place(updated.target, updated.operator, updated.value),
            semicolon=updated.semicolon,
        )


def rewritable(node: cst.AugAssign, names: NonTensorNames) -> bool:
    """``name op= ...`` and ``name[index] op= ...`` (FPN's ``laterals[i - 1] += ...``) on names that may
    be tensors; attributes (``self.count += 1``) and ``@=`` are left alone."""
    target = node.target
    if isinstance(node.operator, _SKIPPED_OPERATORS):
        return False
    if isinstance(target, cst.Name):
        return target.value not in names.numbers | names.containers
    if isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name):
        # `counts[i] += 1` counts; the index is evaluated twice after the rewrite, so it must be plain.
        return (
            target.value.value not in names.numbers
            and not _is_number_literal(node.value)
            and all(_simple_index(element) for element in target.slice)
        )
    return False


class InplaceAdd(Transform):
    """Rewrite augmented assignments in ``forward`` to out-of-place ones: ``out += identity`` becomes
    ``out = out + identity``.

    What it does: inside the ``forward`` method of every ``nn.Module`` subclass (a class whose base is
    ``nn.Module``, a class of torch.nn or an OpenMMLab model package, a name ending in ``Module``, or
    such a class of the same file), and inside functions nested in that ``forward``, rewrites
    ``x op= y`` to ``x = x op y`` for ``+= -= *= /= //= %= **= &= |= ^= <<= >>=`` on a name or on an
    item of a name (``laterals[i - 1] += ...``). The right-hand side is parenthesised where the old
    statement grouped it first (``x -= a - b`` becomes ``x = x - (a - b)``). Left alone: names that are
    plainly not tensors in that function (assigned a number, string or container, ``len()``,
    ``x.size(0)``, ``x.shape[...]``; loop counters of ``range``/``enumerate``; parameters with a number
    default or annotation), attributes (``self.count += 1``), item updates by a number literal
    (``counts[i] += 1``) or with calls in the index, ``@=``, and every other method and function.

    Why: ``x += y`` on a tensor is an in-place op. When ``x`` is a ReLU's output that autograd saved
    for backward, ``loss.backward()`` fails with "one of the variables needed for gradient computation
    has been modified by an inplace operation ... ReluBackward". Upstream mmdetection made the same
    change in FPN (``laterals[i - 1] = laterals[i - 1] + F.interpolate(...)``) and HTC for this crash.
    ``relu-no-inplace`` cannot fix it: a ReLU's output is saved whether or not the ReLU is in place.

    Fix safety: safe for the values computed. Each rewritten line allocates a new tensor (a little
    more memory). Two differences in behaviour: another name bound to the same tensor no longer sees
    the update, and the result follows type promotion (a Half ``x`` plus a Float ``y`` gives Float,
    where ``x += y`` stayed Half). Opt-in: not part of any crash fix's default.
    """

    id = "inplace-add"
    summary = "Rewrites augmented assignments in nn.Module forward methods out of place (out += y -> out = out + y)"
    crash = "one of the variables needed for gradient computation has been modified by an inplace operation (ReluBackward)"
    tradeoff = "A little more memory: each rewritten line allocates a new tensor; results unchanged"
    changes_results = False
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
            title="left alone: numbers and counters, attributes, other methods, classes that are not modules",
            before="""
            import torch.nn as nn


            class Head(nn.Module):

                def forward(self, feats, scale=1.0):
                    total = 0
                    for i, feat in enumerate(feats):
                        i += 1
                        total += feat.size(1)
                    scale *= 2
                    self.calls += 1
                    return total * scale

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

    def transform(self, module: cst.Module, context: TransformContext) -> cst.Module:
        aliases = import_aliases(module, CONVENTIONAL_ALIASES)
        module_classes = module_class_names(module, aliases)
        if not module_classes:
            return module
        return module.visit(_Rewriter(module_classes))
