"""Hostile input and byte safety: what is refused before libcst sees a file, and what a fix must keep."""

from __future__ import annotations

import ast
import difflib
import io
import tokenize
from collections import Counter

import libcst as cst

from autofix.files import FileError

# libcst's native parser overflows its stack (a segfault that ends the whole run) a few
# thousand levels down; its visitors give up (RecursionError) far sooner, at ~150 levels.
MAX_NESTING = 1000


def check_syntax(text: str) -> ast.Module:
    """CPython's own parser: ~10x cheaper than libcst, and it refuses pathological nesting cleanly."""
    try:
        return ast.parse(text)
    except SyntaxError as exc:
        raise FileError(f"syntax error at line {exc.lineno}: {exc.msg}; fix it or exclude the file") from None
    except (RecursionError, MemoryError):
        raise FileError("expressions nested too deeply to parse; exclude the file") from None


def _lines(text: str) -> list[str]:
    """Lines as Python's tokenizer counts them: ``\n``, ``\r\n`` and a lone ``\r`` all end one."""
    return io.StringIO(text, newline=None).readlines()


def _comments_by_line(lines: list[str]) -> dict[int, tuple[str, int]]:
    """Line index -> (comment, its column) for the lines of valid Python."""
    tokens = tokenize.generate_tokens(iter(lines).__next__)
    return {t.start[0] - 1: (t.string, t.start[1]) for t in tokens if t.type == tokenize.COMMENT}


def lost_comment(before: str, after: str) -> str | None:
    """A comment of ``before`` that ``after`` lost from a line it kept (or a comment-only line), if any.

    A trailing comment may go with the code it annotated (``loss_scale='dynamic',  # AMP only``);
    it must not vanish from a line that is still there, changed or not. Lines are paired on their
    code: equal lines, and in a changed block each new line with the most similar old line.
    Comments are counted, so one that only moved is not lost.
    """
    old_lines, new_lines = _lines(before), _lines(after)
    old_comments, new_comments = _comments_by_line(old_lines), _comments_by_line(new_lines)
    missing = Counter(c for c, _ in old_comments.values()) - Counter(c for c, _ in new_comments.values())
    if not missing:
        return None

    def code_lines(lines: list[str], comments: dict[int, tuple[str, int]]) -> list[str]:
        return [line[: comments[i][1]].strip() if i in comments else line.strip() for i, line in enumerate(lines)]

    old_code, new_code = code_lines(old_lines, old_comments), code_lines(new_lines, new_comments)
    paired: dict[int, int] = {}  # old line -> the new line it became
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old_code, new_code, autojunk=False).get_opcodes():
        if tag == "equal":
            paired.update(zip(range(i1, i2), range(j1, j2)))
        elif tag == "replace":
            for j in range(j1, j2):
                i = max(range(i1, i2), key=lambda i: difflib.SequenceMatcher(None, old_code[i], new_code[j]).ratio())
                paired.setdefault(i, j)
    for index, (comment, _) in sorted(old_comments.items()):
        if comment not in missing:
            continue  # still in the file, if moved
        if index in paired and new_comments.get(paired[index], ("",))[0] != comment:
            return comment
        if index not in paired and not old_code[index]:  # a comment-only line was removed
            return comment
    return None


def _check_nesting(tree: ast.Module) -> None:
    """Refuse trees libcst would nest deeper than ``MAX_NESTING`` before libcst sees them.

    CPython keeps ``a and b and ...`` as one flat node, libcst as one level per operator, so a
    long chain that CPython accepts would still crash libcst.
    """
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, ast.BoolOp):
            depth += len(node.values) - 1
        if depth > MAX_NESTING:
            raise FileError(f"expressions nested more than {MAX_NESTING} levels deep; exclude the file")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def round_trip(module: cst.Module, text: str) -> str:
    """The module's code, which must be ``text``: libcst drops a final lone "\r" and nothing else."""
    code = module.code
    if code != text and not (text.startswith(code) and text[len(code):].isspace()):
        raise FileError("libcst cannot reproduce this file byte for byte, so it is left alone; please report it")
    return code


def parse_module(text: str) -> cst.Module:
    _check_nesting(ast.parse(text))  # valid Python by now; libcst would crash on what this refuses
    try:
        return cst.parse_module(text)
    except cst.ParserSyntaxError as exc:  # CPython accepted it, so this is libcst's limit
        raise FileError(f"libcst cannot parse line {exc.raw_line} ({exc.message}); exclude the file") from None
    except RecursionError:
        raise FileError("expressions nested too deeply to parse; exclude the file") from None
