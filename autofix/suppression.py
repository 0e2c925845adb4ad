"""``# autofix: skip`` comments: a statement (or, in a file's opening comments, the file) left alone.

``# autofix: skip`` applies to every transform, ``# autofix: skip[split-thr, relu-no-inplace]``
to those named. Transforms know nothing of these comments: the engine runs a transform, then
puts back every statement whose own lines carry one (a compound statement: its first line).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from difflib import SequenceMatcher

import libcst as cst

_SKIP = re.compile(r"#\s*autofix:\s*skip(?![\w-])(?:\[([^\]]*)\])?")
EVERY_TRANSFORM = "*"


def has_skip_comments(text: str) -> bool:
    return _SKIP.search(text) is not None


def _skipped_ids(comment: str) -> set[str]:
    """The transform ids a comment skips (``EVERY_TRANSFORM`` for a bare skip); empty when it is no skip comment."""
    ids: set[str] = set()
    for match in _SKIP.finditer(comment):
        named = match.group(1)
        ids |= {EVERY_TRANSFORM} if named is None else {part.strip() for part in named.split(",") if part.strip()}
    return ids


def file_skips(text: str) -> set[str]:
    """The transform ids skipped for the whole file by comments above its first line of code."""
    ids: set[str] = set()
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            break
        ids |= _skipped_ids(stripped)
    return ids


def skips(ids: set[str], transform_id: str) -> bool:
    return EVERY_TRANSFORM in ids or transform_id in ids


class _CommentCollector(cst.CSTVisitor):
    """The comments of a statement's own lines: not those of the blocks nested in it."""

    def __init__(self) -> None:
        self.comments: list[str] = []

    def visit_Comment(self, node: cst.Comment) -> None:
        self.comments.append(node.value)

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> bool:
        return False


def _carries_skip(statement: cst.BaseStatement, transform_id: str) -> bool:
    collector = _CommentCollector()
    statement.with_changes(leading_lines=()).visit(collector)  # comment lines above it are not its own
    body = getattr(statement, "body", None)
    if isinstance(body, cst.IndentedBlock) and body.header.comment:  # `if x:  # autofix: skip`
        collector.comments.append(body.header.comment.value)
    return any(skips(_skipped_ids(comment), transform_id) for comment in collector.comments)


class _BlockFinder(cst.CSTVisitor):
    """The indented blocks directly inside a compound statement (body, else, except, finally)."""

    def __init__(self) -> None:
        self.blocks: list[cst.IndentedBlock] = []

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> bool:
        self.blocks.append(node)
        return False


def _blocks(statement: cst.CSTNode) -> list[cst.IndentedBlock]:
    finder = _BlockFinder()
    statement.visit(finder)
    return finder.blocks


class _Replacer(cst.CSTTransformer):
    def __init__(self, replacements: dict[int, cst.CSTNode]) -> None:
        self.replacements = replacements

    def on_visit(self, node: cst.CSTNode) -> bool:
        return id(node) not in self.replacements

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> cst.CSTNode:
        return self.replacements.get(id(original_node), updated_node)


class _Restorer:
    """Puts back, in a transform's output, the statements of its input that carry a skip comment."""

    def __init__(self, before: cst.Module, after: cst.Module, transform_id: str) -> None:
        self.before = before
        self.after = after
        self.transform_id = transform_id
        self.restored = 0

    def body(self, old: Sequence[cst.BaseStatement], new: Sequence[cst.BaseStatement]) -> list[cst.BaseStatement]:
        # Statements are paired by their code: transforms edit statements in place and append new ones.
        matcher = SequenceMatcher(
            None,
            [self.before.code_for_node(s) for s in old],
            [self.after.code_for_node(s) for s in new],
            autojunk=False,
        )
        out: list[cst.BaseStatement] = []
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag in ("equal", "insert"):
                out.extend(new[j1:j2])
            elif tag == "delete":
                kept = [s for s in old[i1:i2] if _carries_skip(s, self.transform_id)]
                self.restored += len(kept)
                out.extend(kept)
            elif i2 - i1 == j2 - j1:
                out.extend(self.statement(o, n) for o, n in zip(old[i1:i2], new[j1:j2]))
            elif any(has_skip_comments(self.before.code_for_node(s)) for s in old[i1:i2]):
                # No way to tell which new statement came from which: keep the old ones whole.
                self.restored += 1
                out.extend(old[i1:i2])
            else:
                out.extend(new[j1:j2])
        return out

    def statement(self, old: cst.BaseStatement, new: cst.BaseStatement) -> cst.BaseStatement:
        if _carries_skip(old, self.transform_id):
            self.restored += 1
            return old
        old_blocks, new_blocks = _blocks(old), _blocks(new)
        if type(old) is not type(new) or not old_blocks or len(old_blocks) != len(new_blocks):
            return new
        replacements: dict[int, cst.CSTNode] = {}
        for old_block, new_block in zip(old_blocks, new_blocks):
            body = self.body(old_block.body, new_block.body)
            if any(a is not b for a, b in zip(body, new_block.body)) or len(body) != len(new_block.body):
                replacements[id(new_block)] = new_block.with_changes(body=body)
        return new.visit(_Replacer(replacements)) if replacements else new


def restore_skipped(before: cst.Module, after: cst.Module, transform_id: str) -> tuple[cst.Module, int]:
    """``after`` with every statement of ``before`` that skips ``transform_id`` put back, and how many were."""
    restorer = _Restorer(before, after, transform_id)
    body = restorer.body(before.body, after.body)
    if not restorer.restored:
        return after, 0
    return after.with_changes(body=body), restorer.restored
