"""find files -> read -> plan -> transform -> diff -> verify -> write. Knows nothing of any one transform.

A run plans every file first (read once, prefilters, ``# autofix: skip`` at the top, the
inheritance graph), then processes the files that some transform may change level by level:
bases before the configs that inherit them, each file seeing the fixes of the levels below it.
A level's files are independent of each other, so a process pool may take them in any order and
the results are those of ``--jobs 1``.
"""

from __future__ import annotations

import ast
import difflib
import io
import multiprocessing
import os
import tokenize
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import libcst as cst

from autofix.diffs import unified_diff
from autofix.filekind import ConfigPatterns, detect_kind
from autofix.files import (
    DecodedSource,
    FileError,
    decode_source,
    display_path,
    find_python_files,
    read_source,
    replace_atomically,
)
from autofix.mmconfig import (
    ConfigUnavailable,
    FileLoadCache,
    direct_bases,
    may_inherit,
    resolve,
    unexpected_changes,
)
from autofix.rule import (
    FileKind,
    Rule,
    TransformContext,
    TransformFailed,
    no_config,
)
from autofix.suppression import file_skips, has_skip_comments, restore_skipped, skips

# A process pool is started for at least this many files to plan, or candidate files to transform.
# Measured on 2 cores: a forked pool of 2 starts in ~0.05 s, a spawned one in ~1.4 s (each worker
# imports autofix, libcst and typer); planning a file (read, syntax check) costs ~0.5 ms and a
# candidate file ~10-50 ms (parse, transform, resolve with mmengine).
POOL_MIN_FILES_FORKED, POOL_MIN_CANDIDATES_FORKED = 256, 16
POOL_MIN_FILES_SPAWNED, POOL_MIN_CANDIDATES_SPAWNED = 4096, 256


@dataclass(frozen=True)
class Rewrite:
    """The outcome of running transforms over one text."""

    text: str
    applied: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    suppressed: tuple[str, ...] = ()  # a transform id for each change a `# autofix: skip` comment undid


@dataclass
class FileResult:
    shown: str
    status: str  # "changed", "unchanged", "skipped" (`# autofix: skip` at its top) or "error"
    diff: str = ""
    applied: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    error: str = ""
    written: bool = False
    examined: tuple[str, ...] = ()  # the transforms that looked at it: prefilters passed, not skipped
    suppressed: tuple[str, ...] = ()


@dataclass
class RunReport:
    results: list[FileResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)


# libcst's native parser overflows its stack (a segfault that ends the whole run) a few
# thousand levels down; its visitors give up (RecursionError) far sooner, at ~150 levels.
MAX_NESTING = 1000


def _check_syntax(text: str) -> ast.Module:
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


def _round_trip(module: cst.Module, text: str) -> str:
    """The module's code, which must be ``text``: libcst drops a final lone "\r" and nothing else."""
    code = module.code
    if code != text and not (text.startswith(code) and text[len(code):].isspace()):
        raise FileError("libcst cannot reproduce this file byte for byte, so it is left alone; please report it")
    return code


def rewrite_source(
    text: str,
    transforms: Sequence[Rule],
    options: Mapping[str, Any] | None = None,
    kind: FileKind | None = None,
    resolve_config: Callable[[str | None], Mapping[str, Any]] = no_config,
    *,
    syntax_checked: bool = False,
) -> Rewrite:
    """Parse once, run every selected transform whose prefilter matches, and return the new text.

    The text is parsed only when a transform needs the tree (a config transform that
    ``only_fixes_problems`` is first asked about the resolved config), and code is generated only
    once a transform returns a new tree (one that changes nothing returns the module it was given).
    Statements carrying ``# autofix: skip`` are put back after each transform. Raises
    ``FileError`` for text that is not valid Python (``syntax_checked``: the caller has checked).
    """
    tree = None if syntax_checked else _check_syntax(text)  # errors reported before mmengine sees the file
    candidates = [t for t in transforms if t.may_apply(text)]
    context = TransformContext(
        kind=kind or detect_kind(text, tree), options=options or {}, resolve_config=resolve_config
    )
    skip_comments = has_skip_comments(text)
    module: cst.Module | None = None  # parsed when the first transform needs the tree
    applied: list[str] = []
    suppressed: list[str] = []
    round_trip: str | None = None
    for transform in candidates:
        if (
            transform.only_fixes_problems
            and context.kind is FileKind.CONFIG
            and transform.problem(context.resolve_config(), context.options) is None
        ):
            continue
        if module is None:
            module = parsed = _parse(text)
        notes_before = len(context.notes)
        try:
            new_module = transform.transform(module, context)
        except TransformFailed as exc:
            raise TransformFailed(f"{transform.id}: {exc}") from None
        if skip_comments and new_module is not module:
            new_module, restored = restore_skipped(module, new_module, transform.id)
            suppressed += [transform.id] * restored
            if restored and new_module.deep_equals(module):
                del context.notes[notes_before:]  # its notes are about the changes that were undone
                continue
        if new_module is module:
            continue
        if round_trip is None:
            round_trip = code = _round_trip(parsed, text)  # checked only for files that may be written
        module = new_module
        new_code = module.code
        if new_code != code:
            applied.append(transform.id)
            code = new_code
            context.resolve_config = _resolving_as(resolve_config, code)
    if not applied:
        return Rewrite(text, notes=tuple(context.notes), suppressed=tuple(suppressed))
    dropped = lost_comment(text, code)
    if dropped:
        raise FileError(f"the fix would drop the comment {dropped!r}, so the file is left alone; please report it")
    return Rewrite(code + text[len(round_trip):], tuple(applied), tuple(context.notes), tuple(suppressed))


def _parse(text: str) -> cst.Module:
    _check_nesting(ast.parse(text))  # valid Python by now; libcst would crash on what this refuses
    try:
        return cst.parse_module(text)
    except cst.ParserSyntaxError as exc:  # CPython accepted it, so this is libcst's limit
        raise FileError(f"libcst cannot parse line {exc.raw_line} ({exc.message}); exclude the file") from None
    except RecursionError:
        raise FileError("expressions nested too deeply to parse; exclude the file") from None


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
    Files mmengine has loaded once are not loaded again while their texts stay the same.
    """

    def __init__(self, fixed: Mapping[str, str] | None = None, cache: FileLoadCache | None = None) -> None:
        self.fixed: dict[str, str] = dict(fixed or {})
        self.cache = cache or FileLoadCache()

    def resolver(self, path: Path, text: str) -> Callable[[str | None], Mapping[str, Any]]:
        """``resolve_config`` for ``path`` holding ``text`` (or, when given, a candidate text)."""
        key = os.path.abspath(path)
        return _resolving_as(lambda code: resolve(path, {**self.fixed, key: code}, self.cache), text)

    def record(self, path: Path, text: str) -> None:
        self.fixed[os.path.abspath(path)] = text


def rewrite_at(
    path: Path,
    text: str,
    transforms: Sequence[Rule],
    options: Mapping[str, Any],
    session: ConfigSession,
    kind: FileKind | None = None,
    *,
    syntax_checked: bool = False,
) -> Rewrite:
    """``rewrite_source`` for ``text`` standing at ``path``: configs resolve against the files beside it."""
    kind = kind or detect_kind(text)
    # Only configs are ever executed by mmengine; model files are never run.
    resolver = session.resolver(path, text) if kind is FileKind.CONFIG else no_config
    return rewrite_source(text, transforms, options, kind, resolver, syntax_checked=syntax_checked)


def verify_rewrite(
    path: Path, new_text: str, transforms: Sequence[Rule], options: Mapping[str, Any], session: ConfigSession
) -> tuple[list[str], str | None]:
    """Resolve before (files as on disk) and after; return the changed keys and what is wrong, if anything."""
    try:
        before = resolve(path, {}, session.cache)
        after = resolve(path, {**session.fixed, os.path.abspath(path): new_text}, session.cache)
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


@dataclass(frozen=True)
class _Planned:
    """A readable file and the transforms that may change it (prefilters passed, not skipped)."""

    path: Path
    original: bytes
    source: DecodedSource
    kind: FileKind
    transforms: tuple[Rule, ...]
    suppressed: tuple[str, ...]  # transforms skipped by a comment at the top of the file

    @property
    def examined(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.transforms)


@dataclass(frozen=True)
class _Settings:
    options: Mapping[str, Any]
    verify: bool


@dataclass(frozen=True)
class _Outcome:
    """What processing one file gave: its result and, when it changed, the new text and bytes to write."""

    result: FileResult
    text: str | None = None
    data: bytes | None = None


def _error(path: Path, error: str, examined: tuple[str, ...] = ()) -> FileResult:
    return FileResult(display_path(path), "error", error=error, examined=examined)


def _plan(path: Path, transforms: Sequence[Rule]) -> tuple[_Planned | FileResult, ast.Module | None]:
    """Read, decode and parse the file, and choose the transforms that may change it; its tree, once parsed."""
    try:
        original = read_source(path)
        source = decode_source(original)
    except FileError as exc:
        return _error(path, str(exc)), None
    except OSError as exc:
        return _error(path, f"cannot read: {exc.strerror}"), None
    matching = [t for t in transforms if t.may_apply(source.text)]
    skipped = file_skips(source.text)
    if skipped and all(skips(skipped, t.id) for t in transforms):
        return FileResult(display_path(path), "skipped", suppressed=tuple(t.id for t in matching)), None
    selected = tuple(t for t in matching if not skips(skipped, t.id))
    try:
        tree = _check_syntax(source.text)
    except FileError as exc:
        return _error(path, str(exc), tuple(t.id for t in selected)), None
    suppressed = tuple(t.id for t in matching if skips(skipped, t.id))
    kind = detect_kind(source.text, tree)
    return _Planned(path, original, source, kind, selected, suppressed), tree


def _examine(planned: _Planned, settings: _Settings, session: ConfigSession) -> _Outcome:
    """Run the planned transforms over one file (nothing is written here)."""
    path, source = planned.path, planned.source
    shown = display_path(path)
    try:
        rewrite = rewrite_at(
            path, source.text, planned.transforms, settings.options, session, planned.kind,
            syntax_checked=True,  # by _plan
        )
        suppressed = planned.suppressed + rewrite.suppressed
        if rewrite.text == source.text:
            return _Outcome(FileResult(shown, "unchanged", examined=planned.examined, suppressed=suppressed))
        notes = list(rewrite.notes)
        if settings.verify and planned.kind is FileKind.CONFIG:
            changed, failure = verify_rewrite(path, rewrite.text, planned.transforms, settings.options, session)
            if failure:
                raise FileError(f"--verify failed, file left unwritten: {failure}")
            notes.append(f"verified with mmengine; effective keys changed: {', '.join(changed) or 'none'}")
        result = FileResult(
            shown,
            "changed",
            diff=unified_diff(source.text, rewrite.text, shown),
            applied=rewrite.applied,
            notes=tuple(notes),
            examined=planned.examined,
            suppressed=suppressed,
        )
        return _Outcome(result, rewrite.text, source.encode(rewrite.text))
    except FileError as exc:
        message = str(exc)
    except ConfigUnavailable as exc:
        message = f"cannot resolve the config: {_first_line(exc)}; fix it or exclude the file"
    except TransformFailed as exc:
        message = f"cannot fix: {exc}"
    except RecursionError:
        message = "expressions nested too deeply to transform; exclude the file"
    except Exception as exc:  # a bug must cost one file, not the rest of the batch
        cause = ": ".join(filter(None, (type(exc).__name__, _first_line(exc))))
        message = f"internal error, file left as it was ({cause}); please report it"
    return _Outcome(_error(path, message, planned.examined))


def _first_line(exc: Exception) -> str:
    """Errors are reported one line per file; an exception's first line names its cause."""
    return next(iter(str(exc).splitlines()), "")


def _write(planned: _Planned, outcome: _Outcome) -> FileResult:
    try:
        replace_atomically(planned.path, outcome.data, planned.original)
    except FileError as exc:
        return _error(planned.path, str(exc), planned.examined)
    outcome.result.written = True
    return outcome.result


def process_file(
    path: Path,
    transforms: Sequence[Rule],
    options: Mapping[str, Any],
    write: bool,
    session: ConfigSession | None = None,
    verify: bool = False,
) -> FileResult:
    """One file on its own: plan, transform, and write when asked (configs resolve against ``session``)."""
    planned, _ = _plan(path, transforms)
    if isinstance(planned, FileResult):
        return planned
    session = session or ConfigSession()
    outcome = _examine(planned, _Settings(options, verify), session)
    if outcome.text is None:
        return outcome.result
    result = _write(planned, outcome) if write else outcome.result
    if result.status == "changed":  # configs inheriting this one must not count on a fix that failed to land
        session.record(path, outcome.text)
    return result


class _Inheritance:
    """The ``_base_`` / ``read_base`` graph of a run's files (and the files outside it that they inherit)."""

    def __init__(self, texts: Mapping[str, str], bases: Mapping[str, tuple[list[str], bool]]) -> None:
        self.texts = dict(texts)  # absolute path -> text: this run's files, then the bases read from disk
        self._bases = dict(bases)  # absolute path -> (direct bases, whether that list is complete)
        self._ancestors: dict[str, tuple[list[str], bool]] = {}

    def text(self, key: str) -> str | None:
        if key not in self.texts:
            try:  # read_source: never a FIFO (reading one would hang the run) nor a huge file
                self.texts[key] = read_source(Path(key)).decode("utf-8")
            except (OSError, UnicodeDecodeError, FileError):
                return None
        return self.texts[key]

    def bases(self, key: str) -> tuple[list[str], bool]:
        if key not in self._bases:
            text = self.text(key)
            if text is None:
                return [], False
            try:
                self._bases[key] = _direct_bases(Path(key), ast.parse(text)) if may_inherit(text) else ([], True)
            except SyntaxError:
                return [], False
        return self._bases[key]

    def ancestors(self, key: str) -> tuple[list[str], bool]:
        """Every file ``key`` inherits from, nearest first, and whether all of them could be read."""
        if key not in self._ancestors:
            self._ancestors[key] = ([], True)  # a circular _base_ is mmengine's error to report, not a hang
            found: list[str] = []
            bases, complete = self.bases(key)
            for base in bases:
                complete = complete and self.text(base) is not None
                inherited, inherited_complete = self.ancestors(base)
                complete = complete and inherited_complete
                for path in (base, *inherited):
                    if path not in found and path != key:
                        found.append(path)
            self._ancestors[key] = (found, complete)
        return self._ancestors[key]


def _direct_bases(path: Path, tree: ast.Module) -> tuple[list[str], bool]:
    found, complete = direct_bases(path, tree)
    return [str(base) for base in found], complete


def _passes_chain_prefilter(
    transform: Rule, key: str, graph: _Inheritance, fixed: Mapping[str, str]
) -> bool:
    """A config transform's chain markers appear in the file or a file it inherits (as read, or as fixed).

    True when the inheritance chain cannot be read in full: mmengine will then say what is wrong.
    """
    if not transform.chain_prefilter:
        return True
    ancestors, complete = graph.ancestors(key)
    if not complete:
        return True
    texts = [graph.text(key) or "", *(graph.text(a) or "" for a in ancestors), *(fixed[a] for a in ancestors if a in fixed)]
    return any(marker in text for text in texts for marker in transform.chain_prefilter)


# A pool worker's state, set once per worker process by _start_worker.
_worker_cache: FileLoadCache | None = None


def _start_worker() -> None:
    global _worker_cache
    _worker_cache = FileLoadCache()


def _examine_in_worker(job: tuple[_Planned, _Settings, Mapping[str, str]]) -> _Outcome:
    planned, settings, fixed = job
    return _examine(planned, settings, ConfigSession(fixed, _worker_cache))


class _Workers:
    """Where a run's files are planned and examined: a process pool, started once it pays, or this process."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self.pool: Any = None
        self.size = 1
        self.cache = FileLoadCache()  # for the files examined in this process

    def start_for(self, files: int, candidates: int) -> None:
        size = _pool_size(self.jobs, files, candidates)
        if self.pool is None and size > 1:
            self.pool = multiprocessing.Pool(size, initializer=_start_worker)
            self.size = size

    def plan(self, files: list[Path], transforms: Sequence[Rule]) -> Iterable[tuple[_Planned | FileResult, Any]]:
        if self.pool is None:
            return (_plan_file(path, transforms) for path in files)
        chunk = max(1, len(files) // (self.size * 8))
        return self.pool.imap(partial(_plan_file, transforms=tuple(transforms)), files, chunksize=chunk)

    def examine(self, jobs: list[tuple[_Planned, _Settings, Mapping[str, str]]]) -> Iterable[_Outcome]:
        if self.pool is None:
            return (_examine(plan, settings, ConfigSession(fixed, self.cache)) for plan, settings, fixed in jobs)
        # One run of neighbouring paths per worker: configs beside each other share bases, which a
        # worker then loads once (chunks of an eighth measured ~5% more loads, and slower).
        return self.pool.imap(_examine_in_worker, jobs, chunksize=max(1, -(-len(jobs) // self.size)))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.terminate()


def _plan_file(path: Path, transforms: Sequence[Rule]) -> tuple[_Planned | FileResult, tuple[list[str], bool] | None]:
    """``_plan`` plus the file's direct bases when it inherits."""
    plan, tree = _plan(path, transforms)
    if tree is None:
        return plan, None
    return plan, _direct_bases(path, tree) if may_inherit(plan.source.text) else None


def run(
    paths: Iterable[Path],
    transforms: Sequence[Rule],
    options: Mapping[str, Any],
    write: bool,
    verify: bool = False,
    jobs: int = 1,
    exclude: Sequence[str] = (),
    progress: Callable[[int, int], None] | None = None,
    configs: ConfigPatterns | None = None,
) -> RunReport:
    """Process every file under ``paths``; ``progress(done, total)`` is called as files finish.

    With ``jobs`` > 1 and enough files, planning and then the files of each inheritance level are
    spread over a process pool; results are identical to ``jobs=1``.
    Files matching ``configs`` are configs whatever their content says.
    """
    files, missing = find_python_files(paths, exclude)
    report = RunReport([_error(p, why) for p, why in missing])

    def finish(result: FileResult) -> None:
        report.results.append(result)
        if progress:
            progress(len(report.results) - len(missing), len(files))

    workers = _Workers(jobs)
    try:
        workers.start_for(files=len(files), candidates=0)
        planned: dict[str, _Planned] = {}
        texts: dict[str, str] = {}
        bases: dict[str, tuple[list[str], bool]] = {}
        for path, (plan, direct) in zip(files, workers.plan(files, transforms)):
            if isinstance(plan, FileResult):
                finish(plan)
                continue
            if configs and configs.match(path):
                plan = replace(plan, kind=FileKind.CONFIG)
            key = os.path.abspath(path)
            texts[key] = plan.source.text
            if direct is not None:
                bases[key] = direct
            if plan.transforms:
                planned[key] = plan
            else:
                finish(FileResult(display_path(path), "unchanged", suppressed=plan.suppressed))
        graph = _Inheritance(texts, bases)
        # Chain prefilters judged on the texts as read: an estimate, which only sizes the pool.
        candidates = sum(
            any(_passes_chain_prefilter(t, key, graph, {}) for t in plan.transforms) for key, plan in planned.items()
        )
        workers.start_for(files=0, candidates=candidates)
        changed = _examine_by_level(planned, graph, _Settings(options, verify), write, workers, finish)
    finally:
        workers.close()
    _note_inheritors(report, changed, [os.path.abspath(f) for f in files], graph)
    report.results.sort(key=lambda r: r.shown)
    return report


def _examine_by_level(
    planned: Mapping[str, _Planned],
    graph: _Inheritance,
    settings: _Settings,
    write: bool,
    workers: _Workers,
    finish: Callable[[FileResult], None],
) -> list[str]:
    """Examine (and write) the planned files, bases first; returns the files changed."""
    fixed: dict[str, str] = {}
    changed: list[str] = []
    for level in _levels(planned, graph):
        fixed_below = dict(fixed)
        jobs: list[tuple[_Planned, _Settings, Mapping[str, str]]] = []
        for key in level:
            plan = planned[key]
            plan = replace(plan, transforms=tuple(t for t in plan.transforms if _passes_chain_prefilter(t, key, graph, fixed_below)))
            if plan.transforms:
                jobs.append((plan, settings, fixed_below))
            else:
                finish(FileResult(display_path(plan.path), "unchanged", suppressed=plan.suppressed))
        to_write: list[tuple[_Planned, _Outcome]] = []
        for (plan, _, _), outcome in zip(jobs, workers.examine(jobs)):
            if outcome.text is None:
                finish(outcome.result)
                continue
            if write:
                to_write.append((plan, outcome))  # once the level is done: no file of it sees another's write
            else:
                fixed[os.path.abspath(plan.path)] = outcome.text  # seen by the next levels, never this one
                changed.append(os.path.abspath(plan.path))
                finish(outcome.result)
        for plan, outcome in to_write:
            result = _write(plan, outcome)
            if result.status == "changed":  # a fix that failed to land must not be counted on
                fixed[os.path.abspath(plan.path)] = outcome.text
                changed.append(os.path.abspath(plan.path))
            finish(result)
    return changed


def _pool_size(jobs: int, files: int, candidates: int) -> int:
    """Worker processes worth starting for this many files to plan or candidate files to examine (1: none)."""
    if multiprocessing.get_start_method() == "fork":
        min_files, min_candidates = POOL_MIN_FILES_FORKED, POOL_MIN_CANDIDATES_FORKED
    else:
        min_files, min_candidates = POOL_MIN_FILES_SPAWNED, POOL_MIN_CANDIDATES_SPAWNED
    # Each worker gets at least half a minimum's worth: fewer would idle while others start up.
    if files < min_files and candidates < min_candidates:
        return 1
    return max(1, min(jobs, max(files * 2 // min_files, candidates * 2 // min_candidates)))


def _levels(planned: Mapping[str, _Planned], graph: _Inheritance) -> list[list[str]]:
    """The planned files grouped so that each file's planned ancestors are all in earlier groups."""
    depth: dict[str, int] = {}

    def level_of(key: str) -> int:
        if key not in depth:
            depth[key] = 0  # guards a circular _base_
            ancestors, _ = graph.ancestors(key)
            depth[key] = 1 + max((level_of(a) for a in ancestors if a in planned), default=-1)
        return depth[key]

    groups: dict[int, list[str]] = {}
    for key in sorted(planned):
        groups.setdefault(level_of(key), []).append(key)
    return [groups[level] for level in sorted(groups)]


def _note_inheritors(report: RunReport, changed: Sequence[str], files: Sequence[str], graph: _Inheritance) -> None:
    """Tell, for each changed file, how many other files of the run inherit the change."""
    if not changed:
        return
    inheritors = {key: 0 for key in changed}
    for other in files:
        if not may_inherit(graph.text(other) or ""):
            continue
        for ancestor in graph.ancestors(other)[0]:
            if ancestor in inheritors:
                inheritors[ancestor] += 1
    shown = {display_path(Path(key)): count for key, count in inheritors.items() if count}
    for result in report.results:
        count = shown.get(result.shown)
        if count and result.status == "changed":
            result.notes += (f"a base of {count} other config{'s' if count != 1 else ''} in this run: they inherit this change",)
