"""Find, without running it, where a model file overwrites a ReLU's output in place.

Autograd saves a ReLU's output for backward; any later in-place op on that very tensor (another
in-place activation, ``x += y``, ``x[i] = v``, ``x.mul_(2)``) makes ``loss.backward()`` fail with
"modified by an inplace operation ... ReluBackward". This holds whether the ReLU itself was in place
or not (checked with torch 2.13), so every ReLU is a producer; an in-place ReLU also turns its input
into its output.

The analysis is per function and by name only: a name holds a ReLU output after ``y = relu(...)``,
``y = x`` (x holding one) or an in-place ReLU applied to ``y``; any other assignment clears it.
Branches and loops merge what either path may leave. What a call to an unknown function does, and
values reaching a function from outside (parameters, attributes, list items), are not followed: a
finding is only reported where the ReLU and the overwrite are both in view.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from autofix.cst_helpers import (
    descendants,
    dotted_name,
    import_aliases,
    is_true,
    keyword_value,
    mapping_value,
    positional_count,
    qualified_name,
    string_value,
    walk_statements,
)
from autofix.domain.activations import (
    CONV_ACT_CFG_POSITION,
    CONVENTIONAL_ALIASES,
    RELU_FUNCTIONS,
    RELU_MODULES,
    is_conv_module,
    is_relu_type,
)
from autofix.domain.tensors import (
    NonTensorNames,
    module_class_names,
    non_tensor_names,
    rewritable,
)
from autofix.rule import Finding, Severity

_RELU_CALLS = RELU_FUNCTIONS | {"torch.relu", "torch.nn.functional.relu_", "torch.relu_"}
# torch.nn activations that take `inplace`, and where it sits when passed by position.
_INPLACE_POSITION = {
    "ReLU": 0, "ReLU6": 0, "SELU": 0, "CELU": 1, "SiLU": 0, "Mish": 0, "Hardswish": 0, "Hardsigmoid": 0,
    "LeakyReLU": 1, "ELU": 1, "Hardtanh": 2, "RReLU": 2, "Threshold": 2, "Dropout": 1, "Dropout2d": 1,
    "Dropout3d": 1, "AlphaDropout": 1,
}
# Trailing-underscore tensor methods that do not write the tensor's data.
_NOT_WRITES = {"requires_grad_", "share_memory_", "detach_"}


@dataclass(frozen=True)
class ReluOutput:
    """Where a value became a ReLU's output."""

    line: int
    source: str  # "self.relu", "F.relu", "self.conv1 (ConvModule)"


@dataclass(frozen=True)
class _Relu:
    """A ReLU output while a function is analysed: line numbers are looked up only for findings."""

    node: cst.CSTNode
    source: str


@dataclass(frozen=True)
class InplaceOverwrite:
    """An in-place op on a ReLU's output: the line backward will fail on."""

    line: int
    code: str  # the statement, shortened
    value: str  # what is overwritten: a name, or the expression
    operation: str  # "augmented assignment", "in-place ReLU", ...
    relu: ReluOutput
    scope: str  # "Block.forward"
    fix: str | None  # the transform that rewrites this line, if any


@dataclass(frozen=True)
class _Layer:
    """What a module stored in ``self.<attr>`` does when called."""

    source: str
    relu_output: bool  # it returns a ReLU's output
    inplace: bool  # it overwrites its input
    is_relu: bool  # that in-place op is a ReLU (relu-no-inplace rewrites it)


def _activation_name(qualified: str | None) -> str | None:
    if qualified and qualified.startswith("torch.nn.") and qualified.rsplit(".", 1)[-1] in _INPLACE_POSITION:
        return qualified.rsplit(".", 1)[-1]
    return None


def _inplace_flag(call: cst.Call, position: int | None) -> bool:
    flag = keyword_value(call.args, "inplace")
    if flag is None and position is not None and positional_count(call.args) > position:
        flag = call.args[position].value
    return is_true(flag)


def _conv_module_relu(call: cst.Call, aliases: dict[str, str]) -> bool:
    """An mmcv ConvModule ending in a ReLU: act_cfg left at its default or a ReLU dict, act last."""
    if any(arg.star for arg in call.args):
        return False
    act_cfg = keyword_value(call.args, "act_cfg")
    if act_cfg is None and positional_count(call.args) > CONV_ACT_CFG_POSITION:
        act_cfg = call.args[CONV_ACT_CFG_POSITION].value
    order = keyword_value(call.args, "order")
    act_last = order is None or (
        isinstance(order, (cst.Tuple, cst.List)) and order.elements and string_value(order.elements[-1].value) == "act"
    )
    relu = act_cfg is None or is_relu_type(mapping_value(act_cfg, "type"), aliases)
    return act_last and relu


def _layer(value: cst.BaseExpression, aliases: dict[str, str]) -> _Layer | None:
    if not isinstance(value, cst.Call):
        return None
    qualified = qualified_name(value.func, aliases)
    activation = _activation_name(qualified)
    if activation is not None:
        inplace = _inplace_flag(value, _INPLACE_POSITION[activation])
        is_relu = qualified in RELU_MODULES
        return _Layer(f"nn.{activation}", is_relu, inplace, is_relu and inplace)
    if is_conv_module(qualified):
        return _Layer("ConvModule", True, False, False) if _conv_module_relu(value, aliases) else None
    if qualified and qualified.endswith("build_activation_layer") and value.args:
        cfg = value.args[0].value
        is_relu = is_relu_type(mapping_value(cfg, "type"), aliases)
        inplace = is_true(mapping_value(cfg, "inplace"))
        return _Layer("build_activation_layer", is_relu, inplace, is_relu and inplace) if is_relu or inplace else None
    if qualified and qualified.endswith("nn.Sequential"):
        layers = [arg.value for arg in value.args if arg.keyword is None and not arg.star]
        last = _layer(layers[-1], aliases) if layers else None
        if last is not None and last.relu_output:
            return _Layer("nn.Sequential", True, False, False)
    return None


def _self_attribute(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value == "self":
        return node.attr.value
    return None


def _class_layers(node: cst.ClassDef, aliases: dict[str, str], inherited: dict[str, _Layer]) -> dict[str, _Layer]:
    """``self.<attr> = <layer>`` anywhere in the class's methods; an attribute assigned two kinds of
    layer keeps only what all of them do."""
    found: dict[str, list[_Layer | None]] = {}
    for statement in node.body.body:
        if not isinstance(statement, cst.FunctionDef):
            continue
        for inner in walk_statements(statement, enter_definitions=True):
            if isinstance(inner, cst.Assign):
                targets, value = [t.target for t in inner.targets], inner.value
            elif isinstance(inner, cst.AnnAssign) and inner.value is not None:
                targets, value = [inner.target], inner.value
            else:
                continue
            for target in targets:
                attribute = _self_attribute(target)
                if attribute is not None:
                    found.setdefault(attribute, []).append(_layer(value, aliases))
    layers = dict(inherited)
    for attribute, kinds in found.items():
        layers.pop(attribute, None)
        if all(kinds):
            first = kinds[0]
            layers[attribute] = _Layer(
                f"self.{attribute} ({first.source})",
                all(k.relu_output for k in kinds),
                all(k.inplace for k in kinds),
                all(k.is_relu for k in kinds),
            )
    return layers


def _names(target: cst.BaseExpression) -> list[str]:
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, (cst.Tuple, cst.List)):
        return [name for element in target.elements for name in _names(element.value)]
    if isinstance(target, cst.StarredElement):
        return _names(target.value)
    return []


State = dict[str, _Relu]


def _merge(*states: State) -> State:
    merged: State = {}
    for state in states:
        for name, relu in state.items():
            merged.setdefault(name, relu)
    return merged


@dataclass(frozen=True)
class _Write:
    """An in-place op found in an expression: the call, what it overwrites, and what kind it is."""

    node: cst.CSTNode
    target: cst.BaseExpression
    operation: str
    is_relu: bool


class _FunctionFlow:
    """One function's statements in order, tracking which names hold a ReLU's output."""

    def __init__(self, file: _FileFlow, scope: str, layers: dict[str, _Layer], add_fixable: NonTensorNames | None) -> None:
        self.file = file
        self.scope = scope
        self.layers = layers
        self.add_fixable = add_fixable  # inplace-add rewrites this function (and these names are not tensors)
        self.found: dict[tuple[int, str], InplaceOverwrite] = {}

    # --- expressions

    def relu_output(self, node: cst.BaseExpression, state: State) -> _Relu | None:
        if isinstance(node, cst.Name):
            return state.get(node.value)
        if not isinstance(node, cst.Call):
            return None
        attribute = _self_attribute(node.func)
        if attribute is not None:
            layer = self.layers.get(attribute)
            return _Relu(node, layer.source) if layer and layer.relu_output else None
        qualified = qualified_name(node.func, self.file.aliases)
        if qualified in _RELU_CALLS:
            return _Relu(node, dotted_name(node.func) or qualified)
        if qualified is None and isinstance(node.func, cst.Attribute) and node.func.attr.value in ("relu", "relu_"):
            return _Relu(node, f".{node.func.attr.value}()")  # a tensor method
        if isinstance(node.func, cst.Call) and qualified_name(node.func.func, self.file.aliases) in RELU_MODULES:
            return _Relu(node, "nn.ReLU(...)")
        return None

    def write_of(self, call: cst.Call) -> _Write | None:
        """What ``call`` overwrites in place, if anything."""
        first = call.args[0].value if call.args and call.args[0].keyword is None and not call.args[0].star else None
        attribute = _self_attribute(call.func)
        if attribute is not None:
            layer = self.layers.get(attribute)
            if layer and layer.inplace and first is not None:
                return _Write(call, first, "in-place ReLU" if layer.is_relu else "in-place activation", layer.is_relu)
            return None
        aliases = self.file.aliases
        if isinstance(call.func, cst.Call):  # nn.ReLU(inplace=True)(x)
            activation = _activation_name(qualified_name(call.func.func, aliases))
            if activation and first is not None and _inplace_flag(call.func, _INPLACE_POSITION[activation]):
                is_relu = activation == "ReLU"
                return _Write(call, first, "in-place ReLU" if is_relu else "in-place activation", is_relu)
            return None
        qualified = qualified_name(call.func, aliases)
        if qualified is not None:
            if first is None:
                return None
            if qualified in RELU_FUNCTIONS and _inplace_flag(call, 1):
                return _Write(call, first, "in-place ReLU", True)
            if qualified.startswith("torch.") and qualified.endswith("_") and not qualified.endswith("__"):  # F.relu_, torch.sigmoid_
                is_relu = qualified.endswith(".relu_")
                return _Write(call, first, "in-place ReLU" if is_relu else "in-place op", is_relu)
            if qualified.startswith("torch.nn.functional.") and is_true(keyword_value(call.args, "inplace")):
                return _Write(call, first, "in-place activation", False)
            return None
        if isinstance(call.func, cst.Attribute):
            method = call.func.attr.value
            if method.endswith("_") and not method.endswith("__") and method not in _NOT_WRITES:
                is_relu = method == "relu_"
                return _Write(call, call.func.value, f"in-place .{method}()", is_relu)
        return None

    def scan(self, node: cst.CSTNode | None, state: State) -> State:
        """Report every in-place write on a ReLU output inside ``node``; return the names that an
        in-place ReLU in it turns into ReLU outputs."""
        became: State = {}
        for call in _calls(node):
            write = self.write_of(call)
            if write is None:
                continue
            relu = self.relu_output(write.target, state)
            if relu is not None:
                self.report(write.node, write.target, write.operation, relu, "relu-no-inplace" if write.is_relu else None)
            if write.is_relu and isinstance(write.target, cst.Name):
                became[write.target.value] = self.relu_output(call, {}) or _Relu(call, self.file.code(call.func))
        return became

    def report(self, node: cst.CSTNode, target: cst.BaseExpression, operation: str, relu: _Relu, fix: str | None) -> None:
        line = self.file.line(node)
        value = self.file.code(target)
        produced = ReluOutput(self.file.line(relu.node), relu.source)
        self.found.setdefault(
            (line, value), InplaceOverwrite(line, self.file.code(node), value, operation, produced, self.scope, fix)
        )

    # --- statements

    def block(self, statements: Sequence[cst.CSTNode], state: State) -> State:
        for statement in statements:
            state = self.statement(statement, state)
        return state

    def statement(self, node: cst.CSTNode, state: State) -> State:
        if isinstance(node, cst.BaseSmallStatement):  # the body of `def f(x): y += x` or `if a: b = c`
            return self.small_statement(node, state)
        if isinstance(node, cst.SimpleStatementLine):
            for small in node.body:
                state = self.small_statement(small, state)
            return state
        if isinstance(node, cst.If):
            state = {**state, **self.scan(node.test, state)}
            body = self.block(node.body.body, dict(state))
            other = self.statement(node.orelse, dict(state)) if node.orelse else state
            return _merge(body, other)
        if isinstance(node, cst.Else):
            return self.block(node.body.body, state)
        if isinstance(node, (cst.For, cst.While)):
            if isinstance(node, cst.For):
                state = {**state, **self.scan(node.iter, state)}
                state = {k: v for k, v in state.items() if k not in _names(node.target)}
            else:
                state = {**state, **self.scan(node.test, state)}
            once = self.block(node.body.body, dict(state))
            twice = self.block(node.body.body, _merge(state, once))  # what one pass leaves the next
            done = _merge(state, twice)
            return self.block(node.orelse.body.body, done) if node.orelse else done
        if isinstance(node, (cst.Try, cst.TryStar)):
            body = self.block(node.body.body, dict(state))
            handlers = [self.block(h.body.body, _merge(state, body)) for h in node.handlers]
            after = self.block(node.orelse.body.body, body) if node.orelse else body
            state = _merge(after, *handlers)
            return self.block(node.finalbody.body.body, state) if node.finalbody else state
        if isinstance(node, cst.With):
            for item in node.items:
                state = {**state, **self.scan(item.item, state)}
                if item.asname is not None:
                    state = {k: v for k, v in state.items() if k not in _names(item.asname.name)}
            return self.block(node.body.body, state)
        if isinstance(node, cst.Match):
            state = {**state, **self.scan(node.subject, state)}
            return _merge(state, *(self.block(case.body.body, dict(state)) for case in node.cases))
        return state  # nested def/class: analysed on its own

    def small_statement(self, node: cst.BaseSmallStatement, state: State) -> State:
        if isinstance(node, (cst.Assign, cst.AnnAssign)):
            if node.value is None:
                return state
            became = self.scan(node.value, state)
            targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
            for target in targets:
                self.item_write(node, target, state)
            relu = self.relu_output(node.value, state)
            state = {**state, **became}
            for target in targets:
                for name in _names(target):
                    state.pop(name, None)
                if isinstance(target, cst.Name) and relu is not None:
                    state[target.value] = relu
            return state
        if isinstance(node, cst.AugAssign):
            became = self.scan(node.value, state)
            if isinstance(node.target, cst.Name) and node.target.value in state:
                fixable = self.add_fixable is not None and rewritable(node, self.add_fixable)
                self.report(node, node.target, "augmented assignment", state[node.target.value], "inplace-add" if fixable else None)
            self.item_write(node, node.target, state)
            return {**state, **became}
        if isinstance(node, cst.Del):
            return {k: v for k, v in state.items() if k not in _names(node.target)}
        return {**state, **self.scan(node, state)}

    def item_write(self, node: cst.CSTNode, target: cst.BaseExpression, state: State) -> None:
        """``y[i] = v`` and ``y[i] += v`` write into ``y`` itself."""
        if isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name) and target.value.value in state:
            self.report(node, target.value, "item assignment", state[target.value.value], None)


_OWN_SCOPES = (cst.Lambda, cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp, cst.FunctionDef, cst.ClassDef)


def _calls(node: cst.CSTNode | None) -> list[cst.Call]:
    """Calls in evaluation order (arguments before the call), not inside lambdas, comprehensions or defs,
    whose names are their own."""
    if node is None or isinstance(node, _OWN_SCOPES):
        return []
    return descendants(node, (cst.Call,), skip=_OWN_SCOPES, post_order=True)


class _FileFlow:
    def __init__(self, module: cst.Module) -> None:
        self.module = module
        self.aliases = import_aliases(module, CONVENTIONAL_ALIASES)
        self.module_classes = module_class_names(module, self.aliases)
        self.positions: Mapping[cst.CSTNode, CodeRange] | None = None

    def line(self, node: cst.CSTNode) -> int:
        if self.positions is None:  # resolving positions walks the whole file: only once something is found
            self.positions = MetadataWrapper(self.module, unsafe_skip_copy=True).resolve(PositionProvider)
        return self.positions[node].start.line

    def code(self, node: cst.CSTNode) -> str:
        text = self.module.code_for_node(node).strip()
        return textwrap.shorten(" ".join(text.split()), 70, placeholder=" ...")

    def functions(
        self, statements: Iterable[cst.CSTNode], scope: str, layers: dict[str, _Layer], classes: dict[str, dict[str, _Layer]],
        in_module_class: bool, in_forward: bool,
    ) -> Iterator[tuple[cst.FunctionDef, str, dict[str, _Layer], bool]]:
        """Every function with its scope name, the layers its ``self`` has, and whether inplace-add rewrites it."""
        for node in statements:
            if isinstance(node, cst.ClassDef):
                inherited: dict[str, _Layer] = {}
                for base in node.bases:
                    inherited.update(classes.get(dotted_name(base.value) or "", {}))
                own = _class_layers(node, self.aliases, inherited)
                classes[node.name.value] = own
                yield from self.functions(node.body.body, f"{scope}{node.name.value}.", own, classes,
                                          node.name.value in self.module_classes, False)
            elif isinstance(node, cst.FunctionDef):
                forward = in_forward or (in_module_class and node.name.value == "forward")
                yield node, f"{scope}{node.name.value}", layers, forward
                yield from self.functions(_definitions(node), f"{scope}{node.name.value}.", layers, classes,
                                          False, forward)


def _definitions(node: cst.CSTNode) -> list[cst.CSTNode]:
    """Function and class definitions anywhere in a body (inside ifs, loops, withs), not inside other defs."""
    return [child for child in walk_statements(node) if isinstance(child, (cst.FunctionDef, cst.ClassDef))]


def inplace_relu_overwrites(module: cst.Module) -> list[InplaceOverwrite]:
    """Every line of a model file that overwrites a ReLU's output in place, sorted by line."""
    file = _FileFlow(module)
    found: dict[tuple[int, str], InplaceOverwrite] = {}
    for function, scope, layers, forward in file.functions(module.body, "", {}, {}, False, False):
        flow = _FunctionFlow(file, scope, layers, non_tensor_names(function) if forward else None)
        flow.block(function.body.body, {})
        for key, finding in flow.found.items():
            found.setdefault(key, finding)
    return sorted(found.values(), key=lambda f: (f.line, f.value))


def overwrite_finding(overwrite: InplaceOverwrite) -> Finding:
    """An in-place overwrite of a ReLU's output, as a crash finding at the overwriting line."""
    relu = overwrite.relu
    message = (
        f"{overwrite.code!r} overwrites {overwrite.value}, the output of the ReLU {relu.source} "
        f"(line {relu.line}), in place; backward needs it unchanged"
    )
    details = {"relu_line": relu.line, "relu": relu.source, "operation": overwrite.operation, "scope": overwrite.scope}
    return Finding(message, Severity.CRASH, line=overwrite.line, details=details)
