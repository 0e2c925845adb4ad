"""Which names in a ``forward`` are plainly not tensors, and which augmented assignments may be rewritten out of place."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst

from autofix.cst_helpers import (
    descendants,
    dotted_name,
    qualified_name,
    walk_statements,
)

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


def out_of_place(target: cst.BaseExpression, operator: cst.BaseAugOp, value: cst.BaseExpression) -> cst.BinaryOperation:
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


NOTHING_KNOWN = NonTensorNames(frozenset(), frozenset())


def simple_index(node: cst.CSTNode) -> bool:
    """An index that can be evaluated twice with the same result: no calls, awaits, yields or walrus."""
    return not descendants(node, (cst.Call, cst.Await, cst.Yield, cst.NamedExpr))


def rewritable(node: cst.AugAssign, names: NonTensorNames) -> bool:
    """``name op= ...`` on names that may be tensors, and ``items[index] op= ...`` on lists of them (FPN's
    ``laterals[i - 1] += ...``); attributes (``self.count += 1``), ``@=`` and concatenation
    (``outs += (out,)``: the target is a tuple or list) are left alone. So is ``x[i] /= w`` on anything but
    a list: on a tensor, ``x[i] = x[i] / w`` writes into ``x`` in place all the same."""
    target = node.target
    if isinstance(node.operator, _SKIPPED_OPERATORS) or _plain_container(node.value):
        return False
    if isinstance(target, cst.Name):
        return target.value not in names.numbers | names.containers
    if isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name):
        # `counts[i] += 1` counts; the index is evaluated twice after the rewrite, so it must be plain.
        return (
            target.value.value in names.containers
            and not _is_number_literal(node.value)
            and all(simple_index(element) for element in target.slice)
        )
    return False
