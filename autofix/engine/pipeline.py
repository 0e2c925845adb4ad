"""find files -> read -> plan -> transform -> diff -> verify -> write. Knows nothing of any one transform.

A run plans every file first (read once, prefilters, ``# autofix: skip`` at the top, the
inheritance graph), then processes the files that some transform may change level by level:
bases before the configs that inherit them, each file seeing the fixes of the levels below it.
A level's files are independent of each other, so a process pool may take them in any order and
the results are those of ``--jobs 1``.
"""

from __future__ import annotations

import difflib
import os
import re
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import libcst as cst

from autofix.diffs import unified_diff
from autofix.engine import safety
from autofix.engine.scheduler import (
    WORKER_DIED,
    Inheritance,
    Workers,
    direct_base_keys,
    levels,
    load_cache,
    passes_chain_prefilter,
)
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
    may_inherit,
    resolve,
    unexpected_changes,
)
from autofix.rule import (
    ConfigRule,
    FileKind,
    Finding,
    Rule,
    Severity,
    TransformContext,
    TransformFailed,
    no_config,
    resolving_as,
)
from autofix.suppression import file_skips, has_skip_comments, restore_skipped, skips


@dataclass(frozen=True)
class RuleFinding:
    """A finding of one rule in one file, placed on a line of that file."""

    rule: str
    finding: Finding
    # The autofix command that fixes it, PATH for the file ("" for none: left as it was, to fix by hand).
    command: str = "apply --fix {rule} PATH"


@dataclass(frozen=True)
class Rewrite:
    """The outcome of running transforms over one text."""

    text: str
    applied: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    suppressed: tuple[str, ...] = ()  # a transform id for each change a `# autofix: skip` comment undid
    findings: tuple[RuleFinding, ...] = ()  # with report_findings: what each applied rule fixes, and where
    refused: tuple[str, ...] = ()  # constructs left as they were for want of an exact fix


@dataclass
class FileResult:
    shown: str
    # "changed", "unchanged", "skipped" (`# autofix: skip` at its top), "error", or "unresolvable":
    # a config found in a folder that mmengine cannot load (not examined; ``error`` says why)
    status: str
    diff: str = ""
    applied: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    error: str = ""
    written: bool = False
    examined: tuple[str, ...] = ()  # the transforms that looked at it: prefilters passed, not skipped
    suppressed: tuple[str, ...] = ()
    findings: tuple[RuleFinding, ...] = ()
    refused: tuple[str, ...] = ()


@dataclass
class RunReport:
    results: list[FileResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)


def rewrite_source(
    text: str,
    transforms: Sequence[Rule],
    options: Mapping[str, Any] | None = None,
    kind: FileKind | None = None,
    resolve_config: Callable[[str | None], Mapping[str, Any]] = no_config,
    *,
    syntax_checked: bool = False,
    report_findings: bool = False,
    resolve_original: Callable[[], Mapping[str, Any]] = no_config,
) -> Rewrite:
    """Parse once, run every selected transform whose prefilter matches, and return the new text.

    The text is parsed only when a transform needs the tree (a config transform that
    ``only_fixes_problems`` is first asked about the resolved config), and code is generated only
    once a transform returns a new tree (one that changes nothing returns the module it was given).
    Statements carrying ``# autofix: skip`` are put back after each transform. Raises
    ``FileError`` for text that is not valid Python (``syntax_checked``: the caller has checked).
    With ``report_findings`` (``check``), each rule that changed the text also says what it fixed
    and where: exactly the rules, and so the files, that a dry run changes.
    """
    tree = None if syntax_checked else safety.check_syntax(text)  # errors reported before mmengine sees the file
    candidates = [t for t in transforms if t.may_apply(text)]
    context = TransformContext(
        kind=kind or detect_kind(text, tree), options=options or {}, resolve_config=resolve_config, text=text,
        resolve_original=resolve_original,
    )
    skip_comments = has_skip_comments(text)
    module: cst.Module | None = None  # parsed when the first transform needs the tree
    applied: list[str] = []
    suppressed: list[str] = []
    round_trip: str | None = None
    reported: list[RuleFinding] = []
    for transform in candidates:
        if (
            transform.only_fixes_problems
            and context.kind is FileKind.CONFIG
            and transform.problem(context.resolve_config(), context.options) is None
        ):
            continue
        if module is None:
            module = parsed = safety.parse_module(text)
        notes_before, refused_before = len(context.notes), len(context.refused)
        found = _findings(transform, module, context) if report_findings else []
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
        if report_findings:  # what the fix leaves as it was is still there to report
            reported += _refusals(transform.id, list(context.refused.items())[refused_before:], text)
        if new_module is module:
            continue
        if round_trip is None:
            round_trip = code = safety.round_trip(parsed, text)  # checked only for files that may be written
        module = new_module
        new_code = module.code
        if new_code != code:
            applied.append(transform.id)
            if report_findings:
                reported += _placed(transform, found, code, new_code)
            code = context.text = new_code
            context.resolve_config = resolving_as(resolve_config, code)
    refused = tuple(context.refused)
    if not applied:
        return Rewrite(text, notes=tuple(context.notes), suppressed=tuple(suppressed), findings=tuple(reported),
                       refused=refused)
    dropped = safety.lost_comment(text, code)
    if dropped:
        raise FileError(f"the fix would drop the comment {dropped!r}, so the file is left alone; please report it")
    return Rewrite(
        code + text[len(round_trip):], tuple(applied), tuple(context.notes), tuple(suppressed), tuple(reported), refused
    )


def _findings(transform: Rule, module: cst.Module, context: TransformContext) -> list[Finding]:
    if isinstance(transform, ConfigRule) and context.kind is FileKind.CONFIG:
        return transform.file_findings(module, context.resolve_config(), context.options)
    return transform.source_findings(module, context.options)


def _refusals(rule_id: str, refused: list[tuple[str, str]], text: str) -> list[RuleFinding]:
    """A finding for each construct a rule left as it was, on the line that writes it (its top-level key, or
    the transform type's name), else on the first line."""
    lines = text.splitlines()
    found = []
    for construct, reason in refused:
        key = construct.split(".")[0].split("[")[0]
        pattern = re.compile(rf"^{re.escape(key)}\s*=|['\"]{re.escape(key)}['\"]")
        line = next((number for number, written in enumerate(lines, 1) if pattern.search(written)), 1)
        finding = Finding(f"{construct} left as it was", Severity.SILENT, line=line, detail=reason)
        found.append(RuleFinding(rule_id, finding, command=""))
    return found


def _placed(transform: Rule, found: list[Finding], before: str, after: str) -> list[RuleFinding]:
    """The rule's findings on lines of ``before``: a config finding (no line of its own) at the rule's first
    change, explaining all of it; else a latent finding for each changed block no finding lies in (an in-place
    ReLU nothing overwrites yet)."""
    lines = before.splitlines()
    blocks = [
        (min(i1 + 1, max(len(lines), 1)), max(i2, i1 + 1))
        for tag, i1, i2, _, _ in difflib.SequenceMatcher(None, lines, after.splitlines(), autojunk=False).get_opcodes()
        if tag != "equal"
    ]
    placed = [replace(f, line=blocks[0][0]) if f.line is None else f for f in found]
    for first, last in [] if any(f.line is None for f in found) else blocks:
        if not any(first <= (f.line or 0) <= last for f in placed):
            changed = textwrap.shorten(" ".join(lines[first - 1].split()), 60) if first <= len(lines) else ""
            what = transform.latent_message or transform.doc().partition("\n")[0].replace("`", "")  # its summary line
            placed.append(Finding(what, Severity.LATENT, line=first, detail=repr(changed) if changed else ""))
    return [RuleFinding(transform.id, f, transform.fix_command) for f in sorted(placed, key=lambda f: f.line or 0)]


class ConfigSession:
    """Resolves configs for one run, against the texts this run has fixed so far.

    Files are processed bases first, so a config whose base was fixed earlier in the run sees
    that fix (and needs no override of its own) even with --dry-run, when nothing is on disk.
    Files mmengine has loaded once are not loaded again while their texts stay the same.
    """

    def __init__(
        self,
        fixed: Mapping[str, str] | None = None,
        cache: FileLoadCache | None = None,
        originals: Mapping[str, str] | None = None,
    ) -> None:
        self.fixed: dict[str, str] = dict(fixed or {})
        self.cache = cache or FileLoadCache()
        # The texts the run read for the files it fixed: written files are no longer on disk as they were.
        self.originals: dict[str, str] = dict(originals or {})

    def resolver(self, path: Path, text: str) -> Callable[[str | None], Mapping[str, Any]]:
        """``resolve_config`` for ``path`` holding ``text`` (or, when given, a candidate text)."""
        key = os.path.abspath(path)
        return resolving_as(lambda code: resolve(path, {**self.fixed, key: code}, self.cache), text)

    def original_resolver(
        self, path: Path, text: str, current: Callable[[str | None], Mapping[str, Any]]
    ) -> Callable[[], Mapping[str, Any]]:
        """``resolve_original`` for ``path`` read as ``text``: its bases as the run found them (``current``,
        the file's ``resolve_config``, while the run has fixed nothing)."""
        if not self.originals:
            return lambda: current(None)
        key = os.path.abspath(path)
        return lambda: resolve(path, {**self.originals, key: text}, self.cache)


def rewrite_at(
    path: Path,
    text: str,
    transforms: Sequence[Rule],
    options: Mapping[str, Any],
    session: ConfigSession,
    kind: FileKind | None = None,
    *,
    syntax_checked: bool = False,
    report_findings: bool = False,
) -> Rewrite:
    """``rewrite_source`` for ``text`` standing at ``path``: configs resolve against the files beside it."""
    kind = kind or detect_kind(text)
    # Only configs are ever executed by mmengine; model files are never run.
    if kind is not FileKind.CONFIG:
        return rewrite_source(text, transforms, options, kind, syntax_checked=syntax_checked,
                              report_findings=report_findings)
    resolver = session.resolver(path, text)
    return rewrite_source(
        text, transforms, options, kind, resolver, syntax_checked=syntax_checked, report_findings=report_findings,
        resolve_original=session.original_resolver(path, text, resolver),
    )


def verify_rewrite(
    path: Path, new_text: str, transforms: Sequence[Rule], options: Mapping[str, Any], session: ConfigSession
) -> tuple[list[str], str | None]:
    """Resolve before (files as on disk) and after; return the changed keys and what is wrong, if anything."""
    try:
        before = resolve(path, {}, session.cache)
        after = resolve(path, {**session.fixed, os.path.abspath(path): new_text}, session.cache)
    except ConfigUnavailable as exc:
        return [], f"cannot resolve the config to verify it ({exc})"
    changed, unexpected = unexpected_changes(before, after, [p for t in transforms for p in t.intended(before, options)])
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
    syntax_checked: bool = False
    named: bool = False  # given on the command line, not found in a folder: a config that cannot load is an error

    @property
    def examined(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.transforms)


@dataclass(frozen=True)
class _Settings:
    options: Mapping[str, Any]
    verify: bool
    report_findings: bool = False


@dataclass(frozen=True)
class _Outcome:
    """What processing one file gave: its result and, when it changed, the new text and bytes to write."""

    result: FileResult
    text: str | None = None
    data: bytes | None = None


def _error(path: Path, error: str, examined: tuple[str, ...] = ()) -> FileResult:
    return FileResult(display_path(path), "error", error=error, examined=examined)


def _plan(path: Path, transforms: Sequence[Rule]) -> _Planned | FileResult:
    """Read and decode the file, and choose the transforms that may change it (no parsing yet)."""
    try:
        original = read_source(path)
        source = decode_source(original)
    except FileError as exc:
        return _error(path, str(exc))
    except OSError as exc:
        return _error(path, f"cannot read: {exc.strerror}")
    matching = [t for t in transforms if t.may_apply(source.text)]
    skipped = file_skips(source.text)
    if skipped and all(skips(skipped, t.id) for t in transforms):
        return FileResult(display_path(path), "skipped", suppressed=tuple(t.id for t in matching))
    # The kind comes from the syntax tree, once _plan_file has checked it.
    return _Planned(
        path,
        original,
        source,
        FileKind.MODEL,
        tuple(t for t in matching if not skips(skipped, t.id)),
        tuple(t.id for t in matching if skips(skipped, t.id)),
    )


def _examine(planned: _Planned, settings: _Settings, session: ConfigSession) -> _Outcome:
    """Run the planned transforms over one file (nothing is written here)."""
    path, source = planned.path, planned.source
    shown = display_path(path)
    try:
        rewrite = rewrite_at(
            path, source.text, planned.transforms, settings.options, session, planned.kind,
            syntax_checked=planned.syntax_checked, report_findings=settings.report_findings,
        )
        suppressed = planned.suppressed + rewrite.suppressed
        if rewrite.text == source.text:
            return _Outcome(FileResult(shown, "unchanged", examined=planned.examined, suppressed=suppressed,
                                       notes=rewrite.notes if rewrite.refused else (), refused=rewrite.refused,
                                       findings=rewrite.findings))
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
            findings=rewrite.findings,
            refused=rewrite.refused,
        )
        return _Outcome(result, rewrite.text, source.encode(rewrite.text))
    except FileError as exc:
        message = str(exc)
    except ConfigUnavailable as exc:
        if not planned.named:
            return _Outcome(FileResult(shown, "unresolvable", error=_first_line(exc), examined=planned.examined))
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


def _plan_lost(path: Path) -> tuple[FileResult, None]:
    return _error(path, WORKER_DIED), None


# A file to examine: its plan, the run's settings, and the texts fixed in the levels below with what they were.
_Job = tuple[_Planned, _Settings, Mapping[str, str], Mapping[str, str]]


def _examine_lost(job: _Job) -> _Outcome:
    return _Outcome(_error(job[0].path, WORKER_DIED, job[0].examined))


def _examine_job(job: _Job) -> _Outcome:
    planned, settings, fixed, originals = job
    return _examine(planned, settings, ConfigSession(fixed, load_cache(), originals))


def _plan_file(path: Path, transforms: Sequence[Rule]) -> tuple[_Planned | FileResult, tuple[list[str], bool] | None]:
    """``_plan`` plus the syntax check every file gets, and the file's direct bases when it inherits."""
    plan = _plan(path, transforms)
    if isinstance(plan, FileResult):
        return plan, None
    try:
        tree = safety.check_syntax(plan.source.text)
    except FileError as exc:
        return _error(path, str(exc), plan.examined), None
    bases = direct_base_keys(path, tree) if may_inherit(plan.source.text) else None
    return replace(plan, syntax_checked=True, kind=detect_kind(plan.source.text, tree)), bases


def run(
    paths: Iterable[Path],
    transforms: Sequence[Rule],
    options: Mapping[str, Any],
    write: bool,
    verify: bool = False,
    jobs: int = 1,
    exclude: Sequence[str] = (),
    progress: Progress | None = None,
    report_findings: bool = False,
    configs: ConfigPatterns | None = None,
) -> RunReport:
    """Process every file under ``paths``; ``progress(phase, done, total)`` is told as files finish (see
    :class:`_Tracker`).

    With ``jobs`` > 1 and enough files, planning and then the files of each inheritance level are
    spread over a process pool; results are identical to ``jobs=1``. ``report_findings`` (with
    ``write=False``: ``check``) adds each changed file's findings to its result. Files matching
    ``configs`` are configs whatever their content says. A config found in a folder that mmengine
    cannot load is ``unresolvable``; one named in ``paths`` is an error.
    """
    paths = list(paths)
    files, missing = find_python_files(paths, exclude)
    named = {os.path.realpath(path) for path in paths if path.is_file()}
    report = RunReport([_error(p, why) for p, why in missing])

    tracker = _Tracker(progress, len(files))

    def finish(result: FileResult) -> None:
        report.results.append(result)

    with Workers(jobs) as workers:
        workers.start_for(files=len(files), candidates=0)
        planned: dict[str, _Planned] = {}
        texts: dict[str, str] = {}
        bases: dict[str, tuple[list[str], bool]] = {}
        plan_file = partial(_plan_file, transforms=tuple(transforms))
        for path, (plan, direct) in zip(files, workers.map(
            plan_file, files, chunks_per_worker=8, lost=_plan_lost, finished=partial(tracker.tell, "planning"))
        ):
            if isinstance(plan, FileResult):
                finish(plan)
                continue
            kind = FileKind.CONFIG if configs and configs.match(path) else plan.kind
            plan = replace(plan, kind=kind, named=bool(named) and os.path.realpath(path) in named)
            key = os.path.abspath(path)
            texts[key] = plan.source.text
            if direct is not None:
                bases[key] = direct
            if plan.transforms:
                planned[key] = plan
            else:
                finish(FileResult(display_path(path), "unchanged", suppressed=plan.suppressed))
        graph = Inheritance(texts, bases)
        # Chain prefilters judged on the texts as read: an estimate, which only sizes the pool.
        candidates = sum(
            any(passes_chain_prefilter(t, key, graph, {}) for t in plan.transforms) for key, plan in planned.items()
        )
        workers.start_for(files=0, candidates=candidates)
        tracker.settled = len(files) - len(planned)
        changed = _examine_by_level(planned, graph, _Settings(options, verify, report_findings), write, workers, finish,
                                    tracker)
    _note_inheritors(report, changed, [os.path.abspath(f) for f in files], graph)
    report.results.sort(key=lambda r: r.shown)
    return report


# What a run tells as it goes: its phase ("planning", "examining" or "writing"), the files done, the run's files.
Progress = Callable[[str, int, int], None]


class _Tracker:
    """The run's progress: files planned of all (planning), then files examined of all, counting the
    files settled without examining them (examining; writing while a level's fixes are written)."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress = progress
        self.total = total
        self.settled = 0  # files examined, or settled without examining

    def tell(self, phase: str, done: int) -> None:
        if self.progress:
            self.progress(phase, done, self.total)


def _examine_by_level(
    planned: Mapping[str, _Planned],
    graph: Inheritance,
    settings: _Settings,
    write: bool,
    workers: Workers,
    finish: Callable[[FileResult], None],
    tracker: _Tracker,
) -> list[str]:
    """Examine (and write) the planned files, bases first; returns the files changed."""
    fixed: dict[str, str] = {}
    changed: list[str] = []
    for level in levels(planned, graph):
        fixed_below = dict(fixed)
        originals_below = {key: planned[key].source.text for key in fixed_below}
        jobs: list[_Job] = []
        for key in level:
            plan = planned[key]
            plan = replace(plan, transforms=tuple(t for t in plan.transforms if passes_chain_prefilter(t, key, graph, fixed_below)))
            if plan.transforms:
                jobs.append((plan, settings, fixed_below, originals_below))
            else:
                finish(FileResult(display_path(plan.path), "unchanged", suppressed=plan.suppressed))
                tracker.settled += 1
        to_write: list[tuple[_Planned, _Outcome]] = []
        # One run of neighbouring paths per worker: configs beside each other share bases, which a
        # worker then loads once (chunks of an eighth measured ~5% more loads, and slower).
        examined_before = tracker.settled
        outcomes = workers.map(_examine_job, jobs, chunks_per_worker=1, lost=_examine_lost,
                               finished=lambda count: tracker.tell("examining", examined_before + count))
        for (plan, *_), outcome in zip(jobs, outcomes):
            if outcome.text is None:
                finish(outcome.result)
                continue
            if write:
                to_write.append((plan, outcome))  # once the level is done: no file of it sees another's write
            else:
                fixed[os.path.abspath(plan.path)] = outcome.text  # seen by the next levels, never this one
                changed.append(os.path.abspath(plan.path))
                finish(outcome.result)
        tracker.settled += len(jobs)
        if to_write:
            tracker.tell("writing", tracker.settled)
        for plan, outcome in to_write:
            result = _write(plan, outcome)
            if result.status == "changed":  # a fix that failed to land must not be counted on
                fixed[os.path.abspath(plan.path)] = outcome.text
                changed.append(os.path.abspath(plan.path))
            finish(result)
    return changed


def _note_inheritors(report: RunReport, changed: Sequence[str], files: Sequence[str], graph: Inheritance) -> None:
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
