"""Find, without running it, where a model file overwrites an activation's saved output in place.

Autograd saves a ReLU's output for backward (and the output of the other in-place activations of
:mod:`autofix.domain.activations`); any later in-place op on that very tensor
(another in-place activation, ``x += y``, ``x[i] = v``, ``x.mul_(2)``) makes ``loss.backward()`` fail
with "modified by an inplace operation ... ReluBackward". For ReLU this holds whether the ReLU itself
was in place or not (checked with torch 2.13), so every ReLU is a producer; an in-place LeakyReLU, ELU,
CELU, SELU or RReLU is one only while in place, so making it out of place fixes the crash too. An
in-place activation also turns its input into its output.

The analysis is per function and by name only: a name holds a saved output after ``y = relu(...)``,
``y = x`` (x holding one) or an in-place activation applied to ``y``; any other assignment clears it.
Branches and loops merge what either path may leave. What a call to an unknown function does, and
values reaching a function from outside (parameters, attributes, list items), are not followed: a
finding is only reported where the activation and the overwrite are both in view.

It also finds the bare statements (``F.relu_(x)``, ``x.relu_()``, ``self.act(x)`` with an in-place
module) whose in-place effect relu-no-inplace takes away: they must assign the result instead.
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
    BY_NAME,
    CONV_ACT_CFG_POSITION,
    CONV_INPLACE_POSITION,
    CONVENTIONAL_ALIASES,
    MODULE_INPLACE_POSITION,
    RELU_CALLS,
    conv_module_inplace_type,
    family_function,
    family_type,
    inplace_function,
    inplace_method,
    is_conv_module,
    torch_module,
)
from autofix.domain.tensors import (
    NonTensorNames,
    module_class_names,
    non_tensor_names,
    rewritable,
    simple_index,
)
from autofix.rule import Finding, Severity

# Trailing-underscore tensor methods that do not write the tensor's data.
_NOT_WRITES = {"requires_grad_", "share_memory_", "detach_"}
FIX = "relu-no-inplace"  # the rule that makes the family's in-place forms out of place


@dataclass(frozen=True)
class ReluOutput:
    """Where a value became an activation's saved output."""

    line: int
    source: str  # "self.relu", "F.relu", "self.conv1 (ConvModule)"
    activation: str = "ReLU"  # the family member that saved it


@dataclass(frozen=True)
class _Relu:
    """A saved output while a function is analysed: line numbers are looked up only for findings."""

    node: cst.CSTNode
    source: str
    activation: str = "ReLU"
    # An in-place member that saves its input once out of place: relu-no-inplace removes the crash here.
    fixed_at_source: bool = False


@dataclass(frozen=True)
class InplaceOverwrite:
    """An in-place op on an activation's saved output: the line backward will fail on."""

    line: int
    code: str  # the statement, shortened
    value: str  # what is overwritten: a name, or the expression
    operation: str  # "augmented assignment", "in-place ReLU", ...
    relu: ReluOutput
    scope: str  # "Block.forward"
    fix: str | None  # the transform that rewrites this line (or the activation), if any


@dataclass(frozen=True)
class _Layer:
    """What a module stored in ``self.<attr>`` does when called."""

    source: str
    activation: str | None  # the member whose output it returns, saved for backward
    inplace: bool  # it overwrites its input
    fixable: bool  # that in-place op is a family member's (relu-no-inplace rewrites it)

    @property
    def fixed_at_source(self) -> bool:
        return self.fixable and self.activation is not None and not BY_NAME[self.activation].saves_output


def _inplace_flag(call: cst.Call, position: int | None) -> bool:
    flag = keyword_value(call.args, "inplace")
    if flag is None and position is not None and positional_count(call.args) > position:
        flag = call.args[position].value
    return is_true(flag)


def _conv_module(call: cst.Call, aliases: dict[str, str]) -> _Layer | None:
    """An mmcv ConvModule ending in a family activation (act_cfg left at its default ReLU, or a member's
    dict), act last; in place unless ``inplace=False`` (its default is True) or the dict says so."""
    if any(arg.star for arg in call.args):
        return None
    act_cfg = keyword_value(call.args, "act_cfg")
    if act_cfg is None and positional_count(call.args) > CONV_ACT_CFG_POSITION:
        act_cfg = call.args[CONV_ACT_CFG_POSITION].value
    order = keyword_value(call.args, "order")
    act_last = order is None or (
        isinstance(order, (cst.Tuple, cst.List)) and order.elements and string_value(order.elements[-1].value) == "act"
    )
    member = BY_NAME["ReLU"] if act_cfg is None else family_type(mapping_value(act_cfg, "type"), aliases)
    if not act_last or member is None:
        return None
    flag = None if act_cfg is None else mapping_value(act_cfg, "inplace")
    if flag is None and conv_module_inplace_type(member.name):
        flag = keyword_value(call.args, "inplace")
        if flag is None and positional_count(call.args) > CONV_INPLACE_POSITION:
            flag = call.args[CONV_INPLACE_POSITION].value
        inplace = flag is None or is_true(flag)
    else:
        inplace = is_true(flag)
    if not (member.saves_output or inplace):
        return None
    return _Layer("ConvModule", member.name, False, inplace)


def _layer(value: cst.BaseExpression, aliases: dict[str, str]) -> _Layer | None:
    if not isinstance(value, cst.Call):
        return None
    qualified = qualified_name(value.func, aliases)
    name = torch_module(qualified)
    if name is not None:
        inplace = _inplace_flag(value, MODULE_INPLACE_POSITION[name])
        member = BY_NAME.get(name)
        saved = member is not None and (member.saves_output or inplace)
        return _Layer(f"nn.{name}", name if saved else None, inplace, inplace and member is not None)
    if is_conv_module(qualified):
        return _conv_module(value, aliases)
    if qualified and qualified.endswith("build_activation_layer") and value.args:
        cfg = value.args[0].value
        member = family_type(mapping_value(cfg, "type"), aliases)
        inplace = is_true(mapping_value(cfg, "inplace"))
        saved = member is not None and (member.saves_output or inplace)
        if saved or inplace:
            return _Layer("build_activation_layer", member.name if saved else None, inplace, inplace and member is not None)
        return None
    if qualified and qualified.endswith("nn.Sequential"):
        layers = [arg.value for arg in value.args if arg.keyword is None and not arg.star]
        last = _layer(layers[-1], aliases) if layers else None
        if last is not None and last.activation is not None:
            return _Layer("nn.Sequential", last.activation, False, last.fixable)
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
            same = all(k.activation == first.activation for k in kinds)
            layers[attribute] = _Layer(
                f"self.{attribute} ({first.source})",
                first.activation if same else None,
                all(k.inplace for k in kinds),
                all(k.fixable for k in kinds),
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
    activation: str | None  # the family member applied in place (relu-no-inplace rewrites it)
    fixed_at_source: bool = False  # the member saves its input once out of place


def _activation_write(call: cst.Call, target: cst.BaseExpression, name: str) -> _Write:
    member = BY_NAME.get(name)
    return _Write(call, target, f"in-place {name}", name if member else None, member is not None and not member.saves_output)


class _FunctionFlow:
    """One function's statements in order, tracking which names hold a saved activation output."""

    def __init__(self, file: _FileFlow, scope: str, layers: dict[str, _Layer], add_fixable: NonTensorNames | None) -> None:
        self.file = file
        self.scope = scope
        self.layers = layers
        self.add_fixable = add_fixable  # inplace-add rewrites this function (and these names are not tensors)
        self.found: dict[tuple[int, str], InplaceOverwrite] = {}
        self.bound: set[str] = set()  # names this function has assigned so far (not parameters, not loop items)

    # --- expressions

    def relu_output(self, node: cst.BaseExpression, state: State) -> _Relu | None:
        if isinstance(node, cst.Name):
            return state.get(node.value)
        if not isinstance(node, cst.Call):
            return None
        attribute = _self_attribute(node.func)
        if attribute is not None:
            layer = self.layers.get(attribute)
            if layer and layer.activation:
                return _Relu(node, layer.source, layer.activation, layer.fixed_at_source)
            return None
        write = self.write_of(node)
        if write is not None and write.activation is not None:
            return _Relu(node, self.file.code(node.func), write.activation, write.fixed_at_source)
        qualified = qualified_name(node.func, self.file.aliases)
        if qualified in RELU_CALLS:
            return _Relu(node, dotted_name(node.func) or qualified)
        if qualified is None and isinstance(node.func, cst.Attribute) and node.func.attr.value == "relu":
            return _Relu(node, ".relu()")  # a tensor method
        if isinstance(node.func, cst.Call) and torch_module(qualified_name(node.func.func, self.file.aliases)) == "ReLU":
            return _Relu(node, "nn.ReLU(...)")
        return None

    def write_of(self, call: cst.Call) -> _Write | None:
        """What ``call`` overwrites in place, if anything."""
        first = call.args[0].value if call.args and call.args[0].keyword is None and not call.args[0].star else None
        attribute = _self_attribute(call.func)
        if attribute is not None:
            layer = self.layers.get(attribute)
            if layer and layer.inplace and first is not None:
                name = layer.activation if layer.fixable else None
                return _Write(call, first, f"in-place {name or 'activation'}", name, layer.fixed_at_source)
            return None
        aliases = self.file.aliases
        if isinstance(call.func, cst.Call):  # nn.ReLU(inplace=True)(x)
            name = torch_module(qualified_name(call.func.func, aliases))
            if name and first is not None and _inplace_flag(call.func, MODULE_INPLACE_POSITION[name]):
                return _activation_write(call, first, name)
            return None
        qualified = qualified_name(call.func, aliases)
        if qualified is not None:
            if first is None:
                return None
            member = family_function(qualified)
            if member is not None and _inplace_flag(call, member.function_flag):
                return _activation_write(call, first, member.name)
            member = inplace_function(qualified)
            if member is not None:
                return _activation_write(call, first, member.name)
            if qualified.startswith("torch.") and qualified.endswith("_") and not qualified.endswith("__"):  # torch.exp_
                return _Write(call, first, "in-place op", None)
            if qualified.startswith("torch.nn.functional.") and is_true(keyword_value(call.args, "inplace")):
                return _Write(call, first, "in-place activation", None)
            return None
        if isinstance(call.func, cst.Attribute):
            method = call.func.attr.value
            member = inplace_method(method)
            if member is not None:
                return _activation_write(call, call.func.value, member.name)
            if method.endswith("_") and not method.endswith("__") and method not in _NOT_WRITES:
                return _Write(call, call.func.value, f"in-place .{method}()", None)
        return None

    def scan(self, node: cst.CSTNode | None, state: State) -> State:
        """Report every in-place write on a saved output inside ``node``; return the names that an
        in-place activation in it turns into saved outputs."""
        became: State = {}
        for call in _calls(node):
            write = self.write_of(call)
            if write is None:
                continue
            relu = self.relu_output(write.target, state)
            if relu is not None:
                fix = FIX if write.activation or relu.fixed_at_source else None
                self.report(write.node, write.target, write.operation, relu, fix)
            if write.activation and isinstance(write.target, cst.Name):
                became[write.target.value] = self.relu_output(call, {}) or _Relu(call, self.file.code(call.func))
        return became

    def report(self, node: cst.CSTNode, target: cst.BaseExpression, operation: str, relu: _Relu, fix: str | None) -> None:
        line = self.file.line(node)
        value = self.file.code(target)
        produced = ReluOutput(self.file.line(relu.node), relu.source, relu.activation)
        self.found.setdefault(
            (line, value), InplaceOverwrite(line, self.file.code(node), value, operation, produced, self.scope, fix)
        )

    def bare_statement(self, node: cst.Expr) -> None:
        """``F.relu_(x)``, ``x.relu_()``, ``self.act(x)``: a statement that applies a family member in
        place for its effect on ``x``, which relu-no-inplace takes away; record where to assign the result."""
        write = self.write_of(node.value) if isinstance(node.value, cst.Call) else None
        if write is None or write.activation is None:
            return
        target = write.target
        if isinstance(target, cst.Name):
            assignable = target.value in self.bound
        elif isinstance(target, cst.Attribute):
            assignable = dotted_name(target) is not None  # self.feat
        else:
            assignable = (
                isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name)
                and all(simple_index(element) for element in target.slice)
            )
        self.file.bare.setdefault(node, target if assignable else None)  # a loop's first pass decides

    def bind(self, target: cst.BaseExpression, own: bool) -> None:
        """Names assigned here are the function's own (``own``), or items of something else (loop targets)."""
        names = _names(target)
        if own:
            self.bound.update(names)
        else:
            self.bound.difference_update(names)

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
                self.bind(node.target, own=False)
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
                    self.bind(item.asname.name, own=True)
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
                self.bind(target, own=True)
            return state
        if isinstance(node, cst.AugAssign):
            became = self.scan(node.value, state)
            if isinstance(node.target, cst.Name) and node.target.value in state:
                relu = state[node.target.value]
                fixable = self.add_fixable is not None and rewritable(node, self.add_fixable)
                fix = FIX if relu.fixed_at_source else "inplace-add" if fixable else None
                self.report(node, node.target, "augmented assignment", relu, fix)
            self.item_write(node, node.target, state)
            return {**state, **became}
        if isinstance(node, cst.Del):
            return {k: v for k, v in state.items() if k not in _names(node.target)}
        if isinstance(node, cst.Expr):
            self.bare_statement(node)
        return {**state, **self.scan(node, state)}

    def item_write(self, node: cst.CSTNode, target: cst.BaseExpression, state: State) -> None:
        """``y[i] = v`` and ``y[i] += v`` write into ``y`` itself."""
        if isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name) and target.value.value in state:
            relu = state[target.value.value]
            self.report(node, target.value, "item assignment", relu, FIX if relu.fixed_at_source else None)


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
        self.found: dict[tuple[int, str], InplaceOverwrite] = {}
        # Bare statements applying a family member in place -> where to assign the result (None: nowhere safe).
        self.bare: dict[cst.Expr, cst.BaseExpression | None] = {}

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


# The last file analysed: check's findings and the fix of one rule, and the rules after it, ask about the
# same (immutable) tree in turn.
_last_analysed: list[tuple[cst.Module, _FileFlow]] = []


def _analysed(module: cst.Module) -> _FileFlow:
    """Every function of the file analysed (and the module's own statements, for their bare statements)."""
    if not _last_analysed or _last_analysed[0][0] is not module:
        _last_analysed[:] = [(module, _analysis(module))]
    return _last_analysed[0][1]


def _analysis(module: cst.Module) -> _FileFlow:
    file = _FileFlow(module)
    for function, scope, layers, forward in file.functions(module.body, "", {}, {}, False, False):
        flow = _FunctionFlow(file, scope, layers, non_tensor_names(function) if forward else None)
        flow.block(function.body.body, {})
        for key, finding in flow.found.items():
            file.found.setdefault(key, finding)
    _FunctionFlow(file, "", {}, None).block(module.body, {})  # top-level code: scripts
    return file


def inplace_relu_overwrites(module: cst.Module) -> list[InplaceOverwrite]:
    """Every line of a model file that overwrites an activation's saved output in place, sorted by line."""
    return sorted(_analysed(module).found.values(), key=lambda f: (f.line, f.value))


def bare_inplace_activations(module: cst.Module) -> dict[cst.Expr, cst.BaseExpression | None]:
    """Statements such as ``F.relu_(x)``, ``x.relu_()`` or ``self.act(x)`` (an in-place module) whose result
    is unused: what each changes in place, to assign the out-of-place result to; None where that is not
    safe (a parameter or loop item the function never rebinds: the caller's tensor or a list item would
    no longer change)."""
    return _analysed(module).bare


def overwrite_finding(overwrite: InplaceOverwrite) -> Finding:
    """An in-place overwrite of an activation's saved output, as a crash finding at the overwriting line."""
    relu = overwrite.relu
    message = f"{overwrite.code!r} overwrites a {relu.activation}'s output in place"
    detail = (f"{overwrite.value} is the output of the {relu.activation} {relu.source} (line {relu.line}), "
              "which backward needs unchanged")
    details = {
        "relu_line": relu.line, "relu": relu.source, "activation": relu.activation,
        "operation": overwrite.operation, "scope": overwrite.scope,
    }
    return Finding(message, Severity.CRASH, line=overwrite.line, details=details, detail=detail)
