"""find files -> read -> transform -> diff -> write. Knows nothing of any one transform."""

from __future__ import annotations

import ast
import difflib
import io
import os
import tokenize
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import libcst as cst

from autofix.diffs import unified_diff
from autofix.filekind import detect_kind
from autofix.files import FileError, decode_source, display_path, find_python_files, read_source, replace_atomically
from autofix.mmconfig import ConfigUnavailable, base_paths, resolve, unexpected_changes
from autofix.transform import FileKind, Transform, TransformContext, TransformFailed, no_config


@dataclass(frozen=True)
class Rewrite:
    """The outcome of running transforms over one text."""

    text: str
    applied: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass
class FileResult:
    shown: str
    status: str  # "changed", "unchanged" or "error"
    diff: str = ""
    applied: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    error: str = ""
    written: bool = False


@dataclass
class RunReport:
    results: list[FileResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)


# libcst's native parser overflows its stack (a segfault that ends the whole run) a few
# thousand levels down; its visitors give up (RecursionError) far sooner, at ~150 levels.
MAX_NESTING = 1000


def _parse_python(text: str) -> ast.Module:
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


def rewrite_source(
    text: str,
    transforms: Sequence[Transform],
    options: Mapping[str, Any] | None = None,
    kind: FileKind | None = None,
    resolve_config: Callable[[str | None], Mapping[str, Any]] = no_config,
) -> Rewrite:
    """Parse once, run every selected transform whose prefilter matches, and return the new text.

    Raises ``FileError`` for text that is not valid Python or that libcst cannot handle.
    """
    tree = _parse_python(text)  # errors are reported even where nothing would change
    candidates = [t for t in transforms if t.may_apply(text)]
    if not candidates:
        return Rewrite(text)
    _check_nesting(tree)
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError as exc:  # CPython accepted it, so this is libcst's limit
        raise FileError(f"libcst cannot parse line {exc.raw_line} ({exc.message}); exclude the file") from None
    except RecursionError:
        raise FileError("expressions nested too deeply to parse; exclude the file") from None
    # libcst drops a final lone "\r"; anything else it cannot reproduce must not be written back.
    round_trip = module.code
    if round_trip != text and not (text.startswith(round_trip) and text[len(round_trip):].isspace()):
        raise FileError("libcst cannot reproduce this file byte for byte, so it is left alone; please report it")
    lost_tail = text[len(round_trip):]
    context = TransformContext(
        kind=kind or detect_kind(text), options=options or {}, resolve_config=resolve_config
    )
    applied: list[str] = []
    code = round_trip
    for transform in candidates:
        try:
            module = transform.transform(module, context)
        except TransformFailed as exc:
            raise TransformFailed(f"{transform.id}: {exc}") from None
        new_code = module.code
        if new_code != code:
            applied.append(transform.id)
            code = new_code
            context.resolve_config = _resolving_as(resolve_config, code)
    dropped = lost_comment(text, code) if applied else None
    if dropped:
        raise FileError(f"the fix would drop the comment {dropped!r}, so the file is left alone; please report it")
    return Rewrite(code + lost_tail, tuple(applied), tuple(context.notes))


def _resolving_as(
    resolve_text: Callable[[str], Mapping[str, Any]], code: str
) -> Callable[[str | None], Mapping[str, Any]]:
    """A ``resolve_config`` for which the file holds ``code``; its own resolution is done once."""
    current: list[Mapping[str, Any] | ConfigUnavailable] = []

    def resolve_config(new_code: str | None = None) -> Mapping[str, Any]:
        if new_code is not None:
            return resolve_text(new_code)
        if not current:
            try:
                current.append(resolve_text(code))
            except ConfigUnavailable as exc:
                current.append(exc)
        if isinstance(current[0], ConfigUnavailable):
            raise current[0]
        return current[0]

    return resolve_config


class ConfigSession:
    """Resolves configs for one run, against the texts this run has fixed so far.

    Files are processed bases first, so a config whose base was fixed earlier in the run sees
    that fix (and needs no override of its own) even with --dry-run, when nothing is on disk.
    """

    def __init__(self) -> None:
        self.fixed: dict[str, str] = {}

    def resolver(self, path: Path, text: str) -> Callable[[str | None], Mapping[str, Any]]:
        """``resolve_config`` for ``path`` holding ``text`` (or, when given, a candidate text)."""
        key = os.path.abspath(path)
        return _resolving_as(lambda code: resolve(path, {**self.fixed, key: code}), text)

    def record(self, path: Path, text: str) -> None:
        self.fixed[os.path.abspath(path)] = text


def rewrite_at(
    path: Path,
    text: str,
    transforms: Sequence[Transform],
    options: Mapping[str, Any],
    session: ConfigSession,
    kind: FileKind | None = None,
) -> Rewrite:
    """``rewrite_source`` for ``text`` standing at ``path``: configs resolve against the files beside it."""
    kind = kind or detect_kind(text)
    # Only configs are ever executed by mmengine; model files are never run.
    resolver = session.resolver(path, text) if kind is FileKind.CONFIG else no_config
    return rewrite_source(text, transforms, options, kind, resolver)


def verify_rewrite(
    path: Path, new_text: str, transforms: Sequence[Transform], options: Mapping[str, Any], session: ConfigSession
) -> tuple[list[str], str | None]:
    """Resolve before (files as on disk) and after; return the changed keys and what is wrong, if anything."""
    try:
        before = resolve(path, {})
        after = resolve(path, {**session.fixed, os.path.abspath(path): new_text})
    except ConfigUnavailable as exc:
        return [], f"cannot resolve the config to verify it ({exc})"
    changed, unexpected = unexpected_changes(before, after, [p for t in transforms for p in t.intended_keys])
    if unexpected:
        return changed, f"the fix would also change {', '.join(unexpected[:5])}"
    for transform in transforms:
        problem = transform.problem(after, options)
        if problem:
            return changed, f"{transform.id} did not take effect: {problem}"
    return changed, None


def _first_line(exc: Exception) -> str:
    """Errors are reported one line per file; an exception's first line names its cause."""
    return next(iter(str(exc).splitlines()), "")


def process_file(
    path: Path,
    transforms: Sequence[Transform],
    options: Mapping[str, Any],
    write: bool,
    session: ConfigSession | None = None,
    verify: bool = False,
) -> FileResult:
    shown = display_path(path)
    session = session or ConfigSession()
    try:
        original = read_source(path)
        source = decode_source(original)
        rewrite = rewrite_at(path, source.text, transforms, options, session)
        if rewrite.text == source.text:
            return FileResult(shown, "unchanged")
        notes = list(rewrite.notes)
        if verify and detect_kind(source.text) is FileKind.CONFIG:
            changed, failure = verify_rewrite(path, rewrite.text, transforms, options, session)
            if failure:
                raise FileError(f"--verify failed, file left unwritten: {failure}")
            notes.append(f"verified with mmengine; effective keys changed: {', '.join(changed) or 'none'}")
        result = FileResult(
            shown,
            "changed",
            diff=unified_diff(source.text, rewrite.text, shown),
            applied=rewrite.applied,
            notes=tuple(notes),
        )
        if write:
            replace_atomically(path, source.encode(rewrite.text), original)
            result.written = True
        # Only now: configs that inherit from this one must not count on a fix that failed to land.
        session.record(path, rewrite.text)
        return result
    except FileError as exc:
        return FileResult(shown, "error", error=str(exc))
    except ConfigUnavailable as exc:
        return FileResult(shown, "error", error=f"cannot resolve the config: {_first_line(exc)}; fix it or exclude the file")
    except TransformFailed as exc:
        return FileResult(shown, "error", error=f"cannot fix: {exc}")
    except OSError as exc:
        return FileResult(shown, "error", error=f"cannot read: {exc.strerror}")
    except RecursionError:
        return FileResult(shown, "error", error="expressions nested too deeply to transform; exclude the file")
    except Exception as exc:  # a bug must cost one file, not the rest of the batch
        cause = ": ".join(filter(None, (type(exc).__name__, _first_line(exc))))
        return FileResult(shown, "error", error=f"internal error, file left as it was ({cause}); please report it")


def _inheritance(files: list[Path]) -> tuple[list[Path], dict[Path, int]]:
    """Order ``files`` bases first; count, for each, the other given files that inherit from it."""
    index = {os.path.abspath(f): f for f in files}
    parents: dict[Path, list[Path]] = {}
    for path in files:
        try:
            text = read_source(path).decode("utf-8")
        except (OSError, UnicodeDecodeError, FileError):
            text = ""  # process_file reports it
        bases = base_paths(path, text) if "_base_" in text or "read_base" in text else []
        parents[path] = [index[str(b)] for b in bases if str(b) in index]
    ancestors: dict[Path, set[Path]] = {}

    def collect(path: Path, seen: frozenset[Path]) -> set[Path]:
        if path not in ancestors:
            found: set[Path] = set()
            for parent in parents[path]:
                if parent not in seen:  # a circular _base_ is mmengine's error to report, not a hang
                    found |= {parent} | collect(parent, seen | {path})
            ancestors[path] = found
        return ancestors[path]

    depth = {path: len(collect(path, frozenset())) for path in files}
    inherited_by = {path: sum(1 for other in files if path in ancestors[other]) for path in files}
    return sorted(files, key=lambda p: (depth[p], str(p))), inherited_by


def run(
    paths: Iterable[Path],
    transforms: Sequence[Transform],
    options: Mapping[str, Any],
    write: bool,
    verify: bool = False,
) -> RunReport:
    files, missing = find_python_files(paths)
    report = RunReport([FileResult(display_path(p), "error", error=why) for p, why in missing])
    ordered, inherited_by = _inheritance(files)
    session = ConfigSession()
    for path in ordered:
        result = process_file(path, transforms, options, write, session, verify)
        if result.status == "changed" and inherited_by[path]:
            count = inherited_by[path]
            result.notes += (f"a base of {count} other config{'s' if count != 1 else ''} in this run: they inherit this change",)
        report.results.append(result)
    report.results.sort(key=lambda r: r.shown)
    return report
