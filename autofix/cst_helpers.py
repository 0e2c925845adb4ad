"""Small libcst helpers shared by transforms: reading call arguments and dict literals, and
adding or removing arguments without breaking commas, comments or layout."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping, Sequence

import libcst as cst


def dotted_name(node: cst.BaseExpression) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted_name(node.value)
        return f"{base}.{node.attr.value}" if base else None
    return None


def string_value(node: cst.BaseExpression | None) -> str | None:
    """The value of a plain (non-f, non-concatenated) string literal, else None."""
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def is_true(node: cst.BaseExpression | None) -> bool:
    return isinstance(node, cst.Name) and node.value == "True"


def keyword_index(args: Sequence[cst.Arg], name: str) -> int | None:
    for index, arg in enumerate(args):
        if arg.keyword is not None and arg.keyword.value == name:
            return index
    return None


def keyword_value(args: Sequence[cst.Arg], name: str) -> cst.BaseExpression | None:
    index = keyword_index(args, name)
    return None if index is None else args[index].value


def positional_count(args: Sequence[cst.Arg]) -> int:
    return sum(1 for arg in args if arg.keyword is None and not arg.star)


def has_star_args(args: Sequence[cst.Arg]) -> bool:
    return any(arg.star for arg in args)


def dict_call_keys(call: cst.Call) -> dict[str, cst.Arg] | None:
    """For ``dict(k=v, ...)`` the keyword args by name; None for anything else (or ``**`` splats)."""
    if not (isinstance(call.func, cst.Name) and call.func.value == "dict"):
        return None
    if any(arg.keyword is None for arg in call.args):
        return None
    return {arg.keyword.value: arg for arg in call.args if arg.keyword is not None}


def dict_literal_keys(node: cst.Dict) -> dict[str, cst.DictElement]:
    """For ``{'k': v, ...}`` the elements whose key is a plain string."""
    keys: dict[str, cst.DictElement] = {}
    for element in node.elements:
        if isinstance(element, cst.DictElement):
            key = string_value(element.key)
            if key is not None:
                keys[key] = element
    return keys


def mapping_items(node: cst.BaseExpression | None) -> dict[str, cst.BaseExpression] | None:
    """The keys of a ``dict(...)`` call or ``{...}`` literal and their value nodes, else None."""
    if isinstance(node, cst.Call):
        keys = dict_call_keys(node)
        return None if keys is None else {name: arg.value for name, arg in keys.items()}
    if isinstance(node, cst.Dict):
        return {name: element.value for name, element in dict_literal_keys(node).items()}
    return None


def node_code(node: cst.CSTNode) -> str:
    """The source of a node taken out of its module (the default formatting of libcst)."""
    return cst.Module(body=[]).code_for_node(node)


def mapping_value(node: cst.BaseExpression | None, key: str) -> cst.BaseExpression | None:
    """The value under ``key`` in a ``dict(...)`` call or ``{...}`` literal, else None."""
    if isinstance(node, cst.Call):
        keys = dict_call_keys(node)
        return keys[key].value if keys and key in keys else None
    if isinstance(node, cst.Dict):
        element = dict_literal_keys(node).get(key)
        return element.value if element else None
    return None


def _ends_line(comma: cst.Comma | cst.MaybeSentinel) -> bool:
    return isinstance(comma, cst.Comma) and isinstance(comma.whitespace_after, cst.ParenthesizedWhitespace)


def remove_arg(args: Sequence[cst.Arg], index: int) -> list[cst.Arg]:
    """Drop ``args[index]``, leaving neither ``f(,)`` nor a lost comment or line break."""
    kept = list(args)
    removed = kept.pop(index)
    if index == len(kept) and kept:  # removed the last argument: fix the new last one's comma
        last = kept[-1]
        # Dict elements have no whitespace_after_arg: their closing brace keeps its own whitespace.
        closing = (
            removed.comma.whitespace_after
            if isinstance(removed.comma, cst.Comma)
            else getattr(removed, "whitespace_after_arg", None)
        )
        if _ends_line(last.comma):
            # Keep the comma (and any comment after it); the closing bracket keeps its own indent, and
            # the comment lines above it stay.
            if isinstance(closing, cst.ParenthesizedWhitespace):
                line_break = last.comma.whitespace_after.with_changes(
                    empty_lines=[*last.comma.whitespace_after.empty_lines, *closing.empty_lines],
                    indent=closing.indent,
                    last_line=closing.last_line,
                )
                kept[-1] = last.with_changes(comma=last.comma.with_changes(whitespace_after=line_break))
            elif last.comma.whitespace_after.first_line.comment is None:
                # The bracket closed on the removed argument's line (`b=2)`): close it on this one.
                kept[-1] = last.with_changes(comma=removed.comma)
        else:  # a trailing comma moves onto the new last argument; otherwise none is left
            kept[-1] = last.with_changes(comma=removed.comma)
    elif index > 0 and isinstance(removed.comma, cst.Comma):
        before = kept[index - 1]
        joined = _joined_whitespace(before.comma.whitespace_after, removed.comma.whitespace_after)
        kept[index - 1] = before.with_changes(comma=before.comma.with_changes(whitespace_after=joined))
    return kept


def _joined_whitespace(
    before: cst.BaseParenthesizableWhitespace, after: cst.BaseParenthesizableWhitespace
) -> cst.BaseParenthesizableWhitespace:
    """The whitespace left between the arguments around a removed one. The comment at the end of the
    removed argument's own line goes with it; comment lines below it annotate the next argument and
    stay above it, as do those above it; a line break stays, with the comment of a line still there."""
    if not isinstance(after, cst.ParenthesizedWhitespace):
        return before
    if not isinstance(before, cst.ParenthesizedWhitespace):
        return after  # the removed argument shared its line with the one before, which keeps the line's end
    return after.with_changes(first_line=before.first_line, empty_lines=[*before.empty_lines, *after.empty_lines])


def append_keyword(args: Sequence[cst.Arg], name: str, value: cst.BaseExpression) -> list[cst.Arg]:
    """Add ``name=value`` after the last argument, in the layout the call already uses."""
    new_arg = cst.Arg(
        value=value,
        keyword=cst.Name(name),
        equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")),
    )
    return _append_element(args, new_arg)

class _ImportCollector(cst.CSTVisitor):
    def __init__(self) -> None:
        self.aliases: dict[str, str] = {}

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            full = dotted_name(alias.name)
            if full is None:
                continue
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self.aliases[alias.asname.name.value] = full
            else:  # `import a.b` binds `a`
                top = full.split(".")[0]
                self.aliases[top] = top

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if node.relative or node.module is None or isinstance(node.names, cst.ImportStar):
            return
        module = dotted_name(node.module)
        for alias in node.names:
            name = dotted_name(alias.name)
            local = alias.asname.name.value if alias.asname and isinstance(alias.asname.name, cst.Name) else name
            if module and name and local:
                self.aliases[local] = f"{module}.{name}"


def import_aliases(module: cst.Module, defaults: dict[str, str] | None = None) -> dict[str, str]:
    """Map each imported local name to what it names (``nn`` -> ``torch.nn``), over ``defaults``."""
    collector = _ImportCollector()
    for statement in walk_statements(module, enter_definitions=True):  # imports are statements: no full visit
        if isinstance(statement, (cst.Import, cst.ImportFrom)):
            statement.visit(collector)
    return {**(defaults or {}), **collector.aliases}


def qualified_name(node: cst.BaseExpression, aliases: dict[str, str]) -> str | None:
    """``nn.ReLU`` -> ``torch.nn.ReLU`` given the aliases; None when the head is not an import."""
    name = dotted_name(node)
    if name is None:
        return None
    head, _, rest = name.partition(".")
    if head not in aliases:
        return None
    return f"{aliases[head]}.{rest}" if rest else aliases[head]


def is_mapping_literal(node: cst.BaseExpression | None) -> bool:
    return isinstance(node, cst.Dict) or (isinstance(node, cst.Call) and dict_call_keys(node) is not None)


def _append_element(elements: Sequence, new: cst.BaseElement | cst.Arg) -> list:
    """Append to args/elements keeping the separator and trailing-comma style already in use."""
    kept = list(elements)
    if not kept:
        return [new]
    last = kept[-1]
    separator = (
        kept[-2].comma
        if len(kept) > 1 and isinstance(kept[-2].comma, cst.Comma)
        else cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    )
    if isinstance(separator.whitespace_after, cst.ParenthesizedWhitespace):
        # Copy the line break, not the comment (or comment lines) that came with it.
        line_break = separator.whitespace_after.with_changes(first_line=cst.TrailingWhitespace(), empty_lines=[])
        separator = separator.with_changes(whitespace_after=line_break)
    if isinstance(last.comma, cst.Comma):  # trailing comma: the new item inherits it
        new = new.with_changes(comma=last.comma)
    kept[-1] = last.with_changes(comma=separator)
    return [*kept, new]


def set_mapping_value(node: cst.Call | cst.Dict, key: str, value: cst.BaseExpression) -> cst.Call | cst.Dict:
    """Replace ``key``'s value in a ``dict(...)``/``{...}`` literal, or append ``key`` if absent."""
    if isinstance(node, cst.Call):
        index = keyword_index(node.args, key)
        if index is None:
            return node.with_changes(args=append_keyword(node.args, key, value))
        args = list(node.args)
        args[index] = args[index].with_changes(value=quoted_like(args[index].value, value))
        return node.with_changes(args=args)
    element = dict_literal_keys(node).get(key)
    if element is None:
        quote = next((e.key.quote for e in node.elements if isinstance(getattr(e, "key", None), cst.SimpleString)), "'")
        new = cst.DictElement(
            key=cst.SimpleString(f"{quote}{key}{quote}"),
            value=value,
            whitespace_before_colon=cst.SimpleWhitespace(""),
            whitespace_after_colon=cst.SimpleWhitespace(" "),
        )
        return node.with_changes(elements=_append_element(node.elements, new))
    value = quoted_like(element.value, value)
    return node.with_changes(elements=[e.with_changes(value=value) if e is element else e for e in node.elements])


def quoted_like(old: cst.BaseExpression, new: cst.BaseExpression) -> cst.BaseExpression:
    """A new string in the quotes (and prefix) of the string it replaces, as the file writes them."""
    if not (isinstance(old, cst.SimpleString) and isinstance(new, cst.SimpleString)) or old.quote in new.raw_value:
        return new
    return new.with_changes(value=f"{old.prefix}{old.quote}{new.raw_value}{old.quote}")


def remove_mapping_keys(node: cst.Call | cst.Dict, keys: Sequence[str]) -> cst.Call | cst.Dict:
    """Drop ``keys`` from a ``dict(...)``/``{...}`` literal, commas and comments kept tidy."""
    for key in keys:
        if isinstance(node, cst.Call):
            index = keyword_index(node.args, key)
        else:
            element = dict_literal_keys(node).get(key)
            index = None if element is None else node.elements.index(element)
        if index is not None:
            node = _without_element(node, index)
    return node


def _without_element(node: cst.Call | cst.Dict, index: int) -> cst.Call | cst.Dict:
    """The literal without its ``index``-th item; comment lines below a removed first item (about the
    item that now comes first) move up to the opening bracket's line break."""
    elements = node.args if isinstance(node, cst.Call) else node.elements
    removed, kept = elements[index], remove_arg(elements, index)
    after = removed.comma.whitespace_after if isinstance(removed.comma, cst.Comma) else None
    if index == 0 and kept and isinstance(after, cst.ParenthesizedWhitespace) and after.empty_lines:
        if isinstance(node, cst.Call):
            opening = _joined_whitespace(node.whitespace_before_args, after)
            return node.with_changes(args=kept, whitespace_before_args=opening)
        opening = _joined_whitespace(node.lbrace.whitespace_after, after)
        return node.with_changes(elements=kept, lbrace=node.lbrace.with_changes(whitespace_after=opening))
    return node.with_changes(args=kept) if isinstance(node, cst.Call) else node.with_changes(elements=kept)


def nested_dict_call(keys: Sequence[str], value: cst.BaseExpression) -> cst.BaseExpression:
    """``dict(a=dict(b=value))`` for keys ``['a', 'b']``."""
    for key in reversed(keys):
        value = cst.Call(func=cst.Name("dict"), args=append_keyword([], key, value))
    return value


def set_nested_value(
    node: cst.BaseExpression, keys: Sequence[str], value: cst.BaseExpression
) -> cst.BaseExpression | None:
    """Set ``node[k0][k1]...`` in nested mapping literals, creating missing levels as ``dict(...)``.

    Returns None where a level on the way is not a literal (a variable, a call): it cannot be
    edited in place there.
    """
    if not is_mapping_literal(node):
        return None
    head, rest = keys[0], keys[1:]
    current = mapping_value(node, head)
    if not rest:
        return set_mapping_value(node, head, value)
    if current is None:
        return set_mapping_value(node, head, nested_dict_call(rest, value))
    child = set_nested_value(current, rest, value)
    return None if child is None else set_mapping_value(node, head, child)


class _NameUses(cst.CSTVisitor):
    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_Name(self, node: cst.Name) -> None:
        self.names.add(node.value)

    def visit_Import(self, node: cst.Import) -> bool:
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        return False

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        node.value.visit(self)  # in `a.b`, only `a` is a name in scope
        return False

    def visit_Arg(self, node: cst.Arg) -> bool:
        node.value.visit(self)  # in `f(k=v)`, `k` is no name in scope
        return False


def referenced_names(node: cst.CSTNode) -> set[str]:
    """Every name the code uses or binds, leaving out import statements, ``.attr`` and ``keyword=``."""
    uses = _NameUses()
    node.visit(uses)
    return uses.names


def _is_import_line(statement: cst.BaseStatement) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and any(
        isinstance(small, (cst.Import, cst.ImportFrom)) for small in statement.body
    )


def _is_docstring(statement: cst.SimpleStatementLine) -> bool:
    return isinstance(statement.body[0], cst.Expr) and isinstance(statement.body[0].value, cst.SimpleString)


def add_from_import(module: cst.Module, package: str, name: str) -> cst.Module:
    """Insert ``from package import name`` after the last top-level import (else at the top)."""
    body = list(module.body)
    docstring = int(bool(body) and isinstance(body[0], cst.SimpleStatementLine) and _is_docstring(body[0]))
    position = max((i + 1 for i, statement in enumerate(body) if _is_import_line(statement)), default=docstring)
    new = cst.parse_statement(f"from {package} import {name}\n")
    if position == 0 and body:  # take over the first statement's blank lines and comments
        new = new.with_changes(leading_lines=body[0].leading_lines)
        body[0] = body[0].with_changes(leading_lines=[])
    return module.with_changes(body=[*body[:position], new, *body[position:]])


def import_names(before: cst.Module, after: cst.Module, needed: Sequence[tuple[str, str]]) -> cst.Module:
    """``after`` (an edit of ``before``) importing each ``(module, name)`` of ``needed`` it lacks.

    A from-import whose name the edit stopped using gives way to a needed name in its place (its
    module too when it imports that name alone); other names the edit stopped using are dropped.
    A needed name left over joins an import from its module, else gets a new line.
    """
    unused = referenced_names(before) - referenced_names(after)
    missing = {name: package for package, name in needed if name not in import_aliases(after)}
    if unused:
        after = after.visit(_UnusedImports(unused, missing))
    for name, package in missing.items():
        joined = after.visit(_ImportJoiner(package, name))
        after = joined if joined.code != after.code else add_from_import(after, package, name)
    return after


class _TopLevelTransformer(cst.CSTTransformer):
    """Leaves function and class bodies alone: only the module's own imports are edited."""

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False


class _UnusedImports(_TopLevelTransformer):
    """Replaces (with a missing name, which it takes from ``missing``) or drops the top-level
    from-imports of ``unused`` names."""

    def __init__(self, unused: set[str], missing: dict[str, str]) -> None:
        self.unused = unused
        self.missing = missing

    def leave_ImportFrom(
        self, original: cst.ImportFrom, updated: cst.ImportFrom
    ) -> cst.ImportFrom | cst.RemovalSentinel:
        if isinstance(updated.names, cst.ImportStar) or updated.relative or updated.module is None:
            return updated
        source, names = dotted_name(updated.module), list(updated.names)
        for index in reversed(range(len(names))):
            if (names[index].evaluated_alias or names[index].evaluated_name) not in self.unused:
                continue
            name = next((n for n, package in self.missing.items() if package == source or len(names) == 1), None)
            if name is None:
                names = remove_arg(names, index)
                continue
            names[index] = cst.ImportAlias(name=cst.Name(name), comma=names[index].comma)
            updated = updated.with_changes(module=cst.parse_expression(self.missing.pop(name)))
        return updated.with_changes(names=names) if names else cst.RemovalSentinel.REMOVE


class _ImportJoiner(_TopLevelTransformer):
    """Adds ``name`` to the first top-level ``from package import ...``, in sorted place."""

    def __init__(self, package: str, name: str) -> None:
        self.package = package
        self.name = name
        self.done = False

    def leave_ImportFrom(self, original: cst.ImportFrom, updated: cst.ImportFrom) -> cst.ImportFrom:
        if self.done or isinstance(updated.names, cst.ImportStar) or updated.relative or updated.module is None:
            return updated
        if dotted_name(updated.module) != self.package:
            return updated
        names = list(updated.names)
        index = next((i for i, alias in enumerate(names) if alias.evaluated_name > self.name), len(names))
        if index == len(names):  # after the last name: it takes over the last name's (trailing) comma
            new = cst.ImportAlias(name=cst.Name(self.name), comma=names[-1].comma)
            names[-1] = names[-1].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        else:
            new = cst.ImportAlias(name=cst.Name(self.name), comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        names.insert(index, new)
        self.done = True
        return updated.with_changes(names=names)


_NOT_A_LITERAL = object()


def literal_value(node: cst.BaseExpression, default: object = _NOT_A_LITERAL) -> object:
    """The Python value of a literal expression (numbers, strings, tuples, lists, dicts...), else ``default``."""
    try:
        return ast.literal_eval(node_code(node).strip())
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return default


class _LoadCollector(cst.CSTVisitor):
    """Every ``Name`` that may read ``name``: stores, attribute names and keywords are not reads."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.loads: list[cst.Name] = []

    def visit_Name(self, node: cst.Name) -> None:
        if node.value == self.name:
            self.loads.append(node)

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        node.value.visit(self)  # `x.name` does not read `name`
        return False

    def visit_Arg(self, node: cst.Arg) -> bool:
        node.value.visit(self)  # `f(name=...)` does not read `name`
        return False

    def visit_AssignTarget(self, node: cst.AssignTarget) -> bool:
        return not isinstance(node.target, cst.Name)  # `name = ...` stores; `name[0] = ...` reads

    def visit_ImportAlias(self, node: cst.ImportAlias) -> bool:
        return False


class ReplaceNodes(cst.CSTTransformer):
    """Replaces the given nodes (by identity) wherever they are in the tree."""

    def __init__(self, replacements: Mapping[cst.CSTNode, cst.CSTNode]) -> None:
        self.replacements = replacements

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> cst.CSTNode:
        return self.replacements.get(original_node, updated_node)


def name_loads(node: cst.CSTNode, name: str) -> list[cst.Name]:
    """The ``Name`` nodes under ``node`` that read the variable ``name`` (conservative: when in doubt, a read)."""
    collector = _LoadCollector(name)
    node.visit(collector)
    return collector.loads


_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}
# Whitespace, punctuation and operator tokens: nothing to find below them.
_TOKENS = (
    cst.BaseParenthesizableWhitespace, cst.TrailingWhitespace, cst.EmptyLine, cst.Newline, cst.Comment,
    cst.Comma, cst.Dot, cst.Colon, cst.Semicolon, cst.AssignEqual, cst.LeftParen, cst.RightParen,
    cst.LeftSquareBracket, cst.RightSquareBracket, cst.LeftCurlyBrace, cst.RightCurlyBrace,
    cst.BaseBinaryOp, cst.BaseBooleanOp, cst.BaseCompOp, cst.BaseUnaryOp, cst.BaseAugOp,
)


def _child_nodes(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """A node's children (tokens left out) read straight from its fields: libcst's own ``children``
    and ``visit`` rebuild every node they pass and are several times slower."""
    names = _CHILD_FIELDS.get(type(node))
    if names is None:
        names = _CHILD_FIELDS[type(node)] = tuple(node.__dataclass_fields__)
    for name in names:
        value = getattr(node, name)
        if isinstance(value, cst.CSTNode):
            if not isinstance(value, _TOKENS):
                yield value
        elif isinstance(value, (list, tuple)):
            for item in value:
                if isinstance(item, cst.CSTNode) and not isinstance(item, _TOKENS):
                    yield item


def descendants(
    root: cst.CSTNode, kinds: tuple[type, ...], skip: tuple[type, ...] = (), post_order: bool = False
) -> list[cst.CSTNode]:
    """Nodes of ``kinds`` under ``root`` (itself included), without entering nodes of ``skip`` below
    the root (those are still returned when they are of ``kinds``). ``post_order`` lists a node after
    its children: a call after its arguments, as Python evaluates them."""
    found: list[cst.CSTNode] = []

    def collect(node: cst.CSTNode, is_root: bool) -> None:
        if not is_root and isinstance(node, skip):
            if isinstance(node, kinds):
                found.append(node)
            return
        if not post_order and isinstance(node, kinds):
            found.append(node)
        for child in _child_nodes(node):
            collect(child, False)
        if post_order and isinstance(node, kinds):
            found.append(node)

    collect(root, True)
    return found


_STATEMENT_BODIES = ("body", "orelse", "handlers", "finalbody", "cases")


def walk_statements(node: cst.CSTNode, enter_definitions: bool = False) -> Iterator[cst.CSTNode]:
    """Every statement below ``node`` (a module, block or compound statement) in source order, small
    statements (``x = 1``) included, without visiting expressions: much cheaper than a libcst visit.
    Nested ``def``/``class`` statements are yielded, and entered only with ``enter_definitions``."""
    for field_name in _STATEMENT_BODIES:
        value = getattr(node, field_name, None)
        if value is None or isinstance(value, cst.BaseExpression):  # Lambda.body, IfExp.orelse
            continue
        for child in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(child, (cst.BaseSuite, cst.Else, cst.Finally, cst.ExceptHandler, cst.ExceptStarHandler,
                                  cst.MatchCase)):
                yield from walk_statements(child, enter_definitions)
                continue
            if not isinstance(child, (cst.BaseStatement, cst.BaseSmallStatement)):
                continue
            yield child
            if isinstance(child, (cst.FunctionDef, cst.ClassDef)) and not enter_definitions:
                continue
            yield from walk_statements(child, enter_definitions)


class InsideFunctions(cst.CSTTransformer):
    """A transformer that edits only inside the function definitions ``encloses`` picks: ``self.depth``
    counts those around the current node (a library edit confined to the functions it fixes)."""

    def __init__(self) -> None:
        self.depth = 0

    def encloses(self, function: cst.FunctionDef) -> bool:
        raise NotImplementedError

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if self.encloses(node):
            self.depth += 1

    def leave_FunctionDef(self, original: cst.FunctionDef, updated: cst.FunctionDef) -> cst.FunctionDef:
        if self.encloses(original):
            self.depth -= 1
        return updated
