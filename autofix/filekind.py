"""Tell an OpenMMLab config from ordinary Python (backbones, heads, scripts, mmcv sources).

The kind decides whether mmengine may load (that is, execute) the file, so it is read from the
syntax tree and never by running anything. A file is a config when every top-level statement is
one a config holds:

* assignments of any form (``a = ...``, ``a.b = ...``, ``a['b'] = ...``, ``a += ...``, annotated),
  ``del``, ``pass``, imports, a docstring, and ``with read_base():`` blocks;
* ``if`` / ``try`` whose bodies hold only those;
* a call as a whole statement only where it edits data in place: ``model.update(...)``,
  ``_base_.x.pop('y')`` (a method of :data:`_EDITING_METHODS` on a name, attribute or item).

Values may hold any calls (``dict(...)``, ``list(range(3))``, ``[dict(...) for ...]``), except that
an assigned value which is itself a call must call a plain data builder (:data:`_DATA_BUILDERS`, or a
method of :data:`_DATA_METHODS`): ``runner = build_runner(cfg)`` runs the training, not describes it.
Over mmdet 3.3.0's 869 shipped config files, the only calls that are whole statements or whole
assigned values are ``dict``, ``len``, ``.update`` and ``.pop``, outside three ``override_category.py``
command-line scripts (functions and ``main()``), which are scripts here too.

Anything else is a script when its top level runs something (a call statement, a loop, ``with``,
``if __name__ == '__main__'``), or computes without defining a function or class
(``runner = build_runner(cfg)``); otherwise it is model source (definitions, imports, assignments
such as ``logger = getLogger(__name__)``). Neither is ever handed to mmengine.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pathspec

from autofix.rule import FileKind

_DATA_BUILDERS = frozenset(
    {"dict", "list", "tuple", "set", "frozenset", "range", "len", "sorted", "reversed", "zip", "enumerate",
     "min", "max", "sum", "abs", "round", "int", "float", "str", "bool",
     "os.path.join", "osp.join", "copy.deepcopy", "deepcopy", "copy.copy"}
)
_DATA_METHODS = frozenset({"copy", "deepcopy", "get", "format", "join", "replace", "split", "keys", "values", "items"})
_EDITING_METHODS = frozenset(
    {"update", "merge", "merge_from_dict", "pop", "setdefault", "append", "extend", "insert", "remove", "clear"}
)


def detect_kind(text: str, tree: ast.Module | None = None) -> FileKind:
    """CONFIG, MODEL or SCRIPT from the top-level statements of ``text`` (``tree``: already parsed).

    Text that does not parse is MODEL: mmengine could not load it either, and must not be asked to.
    """
    if tree is None:
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return FileKind.MODEL
    if all(_is_config_statement(s) for s in tree.body) and any(_sets_a_key(s) for s in tree.body):
        return FileKind.CONFIG
    if any(_runs_something(s) for s in tree.body):
        return FileKind.SCRIPT
    defines = any(isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for s in tree.body)
    if not defines and not all(_is_config_statement(s) for s in tree.body):
        return FileKind.SCRIPT  # it computes (`runner = build_runner(cfg)`) and defines nothing to be used
    return FileKind.MODEL


@dataclass(frozen=True)
class ConfigPatterns:
    """``[tool.autofix] configs``: gitignore-style globs, relative to ``root``, of files that are configs regardless."""

    patterns: tuple[str, ...] = ()
    root: Path = Path()

    @cached_property
    def _spec(self) -> pathspec.GitIgnoreSpec:
        return pathspec.GitIgnoreSpec.from_lines(self.patterns)

    def match(self, path: Path) -> bool:
        if not self.patterns:
            return False
        try:
            relative = Path(path).resolve().relative_to(self.root.resolve())
        except ValueError:  # outside the project the patterns belong to
            return False
        return self._spec.match_file(relative.as_posix())


def _dotted(node: ast.expr) -> str | None:
    """``os.path.join`` for that attribute chain of names; None for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _names_data(node: ast.expr) -> bool:
    """A name, or attributes and items of one (``_base_.model['x']``): no call on the way."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return isinstance(node, ast.Name)


def _builds_data(value: ast.expr | None) -> bool:
    """An assigned value a config may hold: anything but a call of something other than a data builder."""
    if not isinstance(value, ast.Call):
        return True
    callee = value.func
    if _dotted(callee) in _DATA_BUILDERS:
        return True
    return isinstance(callee, ast.Attribute) and callee.attr in _DATA_METHODS


def _edits_data(value: ast.expr) -> bool:
    """A call statement a config may hold: ``model.update(...)``, ``_base_.x.pop('y')``."""
    return (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Attribute)
        and value.func.attr in _EDITING_METHODS
        and _names_data(value.func.value)
    )


def _is_read_base(statement: ast.With) -> bool:
    return len(statement.items) == 1 and _dotted(getattr(statement.items[0].context_expr, "func", None)) == "read_base"


def _is_config_statement(statement: ast.stmt) -> bool:
    if isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        return _builds_data(statement.value)
    if isinstance(statement, (ast.Import, ast.ImportFrom, ast.Delete, ast.Pass)):
        return True
    if isinstance(statement, ast.Expr):
        value = statement.value
        return (isinstance(value, ast.Constant) and isinstance(value.value, str)) or _edits_data(value)
    if isinstance(statement, ast.With):
        return _is_read_base(statement) and all(_is_config_statement(s) for s in statement.body)
    if isinstance(statement, (ast.If, ast.Try)):
        return all(_is_config_statement(s) for s in _nested(statement))
    return False


def _sets_a_key(statement: ast.stmt) -> bool:
    """Configs exist to set keys; a file of imports and ``__all__`` (a package's ``__init__``) is not one."""
    if isinstance(statement, ast.With):
        return True  # read_base: inherits every key (only config statements reach here)
    if isinstance(statement, (ast.If, ast.Try)):
        return any(_sets_a_key(s) for s in _nested(statement))
    targets = {
        ast.Assign: lambda s: s.targets,
        ast.AnnAssign: lambda s: [s.target],
        ast.AugAssign: lambda s: [s.target],
    }.get(type(statement))
    if targets is None:
        return False
    names = [_dotted(t) or "" for t in targets(statement)]
    return any(not (name.startswith("__") and name.endswith("__")) for name in names)


def _runs_something(statement: ast.stmt) -> bool:
    """A top-level statement that does work when the module is run or imported, beyond defining names."""
    if isinstance(statement, ast.Expr):
        return not isinstance(statement.value, ast.Constant)
    if isinstance(statement, (ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith)):
        return True
    if isinstance(statement, ast.If) and "__main__" in ast.unparse(statement.test):
        return True
    if isinstance(statement, (ast.If, ast.Try)):
        return any(_runs_something(s) for s in _nested(statement))
    return False


def _nested(statement: ast.If | ast.Try) -> list[ast.stmt]:
    """The statements of every branch of an ``if`` or a ``try``."""
    if isinstance(statement, ast.If):
        return [*statement.body, *statement.orelse]
    handlers = [s for handler in statement.handlers for s in handler.body]
    return [*statement.body, *handlers, *statement.orelse, *statement.finalbody]
