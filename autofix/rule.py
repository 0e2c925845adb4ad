"""What every rule declares, and what the engine hands it.

A rule is one class in one module of :mod:`autofix.catalogue`. Its class attributes are its
documentation (``autofix list`` / ``autofix explain``) and its examples are its tests, in the
manner of Fixit's ``VALID``/``INVALID`` rule cases. Its findings drive ``check`` (report),
``apply`` (edit) and ``--verify`` (re-check). It sees a parsed libcst module and a
:class:`TransformContext`; it never sees files, terminals or the command line.

A :class:`ConfigRule` only finds: its findings over the resolved config declare edits
(:class:`SetKey`, :class:`PopKey`, :class:`ReplaceKey`), and the shared planner (:mod:`autofix.config_edit`) places them
in the file as the smallest edit mmengine honours.
"""

from __future__ import annotations

import enum
import inspect
import re
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import libcst as cst

from autofix.mmconfig import ConfigUnavailable, value_at


class FileKind(str, enum.Enum):
    """What a Python file is, decided from its content (see :func:`autofix.filekind.detect_kind`)."""

    CONFIG = "config"
    MODEL = "model"  # source that defines classes and functions
    SCRIPT = "script"  # code that runs something at top level; like MODEL, never loaded by mmengine


class TransformFailed(Exception):
    """A transform found the crash's cause but no edit that fixes it; the text says why."""


@dataclass(frozen=True)
class Example:
    """A before/after pair; ``after=None`` means the transform must leave ``before`` alone.

    ``files`` are other files beside it (relative path -> text), e.g. the ``_base_`` configs it
    inherits; the example itself is then ``config.py`` in that folder.
    """

    before: str
    after: str | None = None
    kind: FileKind = FileKind.MODEL
    title: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)
    files: Mapping[str, str] = field(default_factory=dict)

    def files_dedented(self) -> dict[str, str]:
        return {name: textwrap.dedent(text).lstrip("\n") for name, text in self.files.items()}

    @property
    def source(self) -> str:
        return textwrap.dedent(self.before).lstrip("\n")

    @property
    def expected(self) -> str:
        return self.source if self.after is None else textwrap.dedent(self.after).lstrip("\n")


def no_config(code: str | None = None) -> Mapping[str, Any]:
    raise ConfigUnavailable("no config file behind this text")


@dataclass
class TransformContext:
    """Everything a transform may know about the file besides its syntax tree.

    ``resolve_config(code=None)`` returns the effective config as mmengine resolves it
    (``_base_`` merged, this run's earlier fixes included), for the file as it is or, given
    ``code``, as it would be with that text; it raises ``ConfigUnavailable`` when it cannot.
    ``text`` is the file's text as the rules before this one left it (the tree's code, which is
    costly to generate again). ``resolve_original()`` is the effective config as the run found it:
    the file and its bases as they were read, before this run's fixes (a migration reads the 2.x
    meaning of a file whose bases it has already rewritten).
    """

    kind: FileKind
    options: Mapping[str, Any] = field(default_factory=dict)
    resolve_config: Callable[[str | None], Mapping[str, Any]] = no_config
    notes: list[str] = field(default_factory=list)
    text: str = ""
    resolve_original: Callable[[], Mapping[str, Any]] = no_config
    # Constructs a rule saw and left as they were, for want of an exact fix (a dotted key, a transform type): why.
    refused: dict[str, str] = field(default_factory=dict)

    def note(self, message: str) -> None:
        """Tell the user something about this file's change (shown beside its diff)."""
        if message not in self.notes:
            self.notes.append(message)

    def refuse(self, construct: str, reason: str) -> None:
        """Leave ``construct`` (a dotted key, a transform type) as it is, and say why: never guess."""
        self.note(f"left as it was: {construct}: {reason}")
        self.refused.setdefault(construct, reason)

    def holding(self, code: str) -> TransformContext:
        """This context for the file rewritten to ``code`` (its notes shared): what a rule that fixed some
        text hands on to the rest of its fix."""
        return replace(self, text=code, resolve_config=resolving_as(self.resolve_config, code))


def resolving_as(
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


class Applicability(str, enum.Enum):
    """What a fix costs, as ruff's fix safety: a safe fix keeps training results."""

    SAFE = "safe"
    CHANGES_RESULTS = "changes training results"


class Severity(str, enum.Enum):
    """``crash``: the file crashes as configured; ``latent``: it would once AMP is on or the scale grows;
    ``silent``: nothing fails, but training does not do what the file says (a redefined pipeline no loader reads)."""

    CRASH = "crash"
    LATENT = "latent"
    SILENT = "silent"


@dataclass(frozen=True)
class Option:
    """A typed option of one rule: ``--NAME`` on the command line, ``NAME`` in ``[tool.autofix]`` or
    ``[tool.autofix.RULE]``, shown by ``explain`` and in JSON. ``parse`` turns a command-line or TOML
    value into the value rules read from ``context.options[key]`` (it raises ValueError with the
    reason); ``flag`` options take no value."""

    name: str
    help: str
    parse: Callable[[Any], Any] = str
    default: Any = None
    metavar: str = ""
    flag: bool = False

    @property
    def key(self) -> str:
        return self.name.replace("-", "_")


def positive_int(value: Any) -> int:
    """An option value that must be a whole number of at least 1."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"must be a whole number (got {value!r})")
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"must be a whole number (got {value!r})") from None
    if number < 1:
        raise ValueError(f"must be at least 1 (got {number})")
    return number


# A key path in a resolved config: str keys and int list indices, ('model', 'train_cfg', 'rpn_proposal')
# or ('train_dataloader', 'dataset', 'pipeline', 3, 'prob').
KeyPath = tuple[str | int, ...]


def dotted_key(path: KeyPath) -> str:
    """The key as :func:`autofix.mmconfig.flatten` writes it: ``train_dataloader.dataset.pipeline[3].prob``."""
    text = ""
    for key in path:
        text += f"[{key}]" if isinstance(key, int) else f".{key}" if text else key
    return text


@dataclass(frozen=True)
class Code:
    """A config value written as Python source with the ``(module, name)`` imports it needs: new-style
    (``read_base``) configs name classes, e.g. ``Code('OptimWrapper', (('mmengine.optim', 'OptimWrapper'),))``."""

    expression: str
    imports: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class SetKey:
    """Set the effective value at ``path`` to ``value`` (missing levels are created)."""

    path: KeyPath
    value: Any

    @property
    def key(self) -> str:
        return dotted_key(self.path)


@dataclass(frozen=True)
class PopKey:
    """Remove ``path`` from the effective config (from a merged base too)."""

    path: KeyPath

    @property
    def key(self) -> str:
        return dotted_key(self.path)


@dataclass(frozen=True)
class ReplaceKey:
    """Make the effective mapping at ``path`` exactly ``value``: what the bases hold there is
    replaced, not merged into (mmengine's ``_delete_=True``, or an assignment that rebinds it)."""

    path: KeyPath
    value: Mapping[str, Any]

    @property
    def key(self) -> str:
        return dotted_key(self.path)


ConfigEdit = SetKey | PopKey | ReplaceKey


def edited_keys(config: Mapping[str, Any], edits: Sequence[ConfigEdit]) -> tuple[re.Pattern[str], ...]:
    """The dotted keys (regexes, matched whole) that ``edits`` of ``config`` change: each edited key and
    the keys below it, and the same keys under a top-level variable that holds a container on the
    edited path (``train_pipeline`` when the edit is in ``train_dataloader.dataset.pipeline``): mmengine
    keeps a config file's variables, so editing the value where the file writes it changes them too."""
    edited = [edit.path for edit in edits]
    paths = list(edited)
    for path in edited:
        for length in range(2, len(path) + 1):
            held = value_at(config, path[:length])
            if isinstance(held, (Mapping, list, tuple)) and held:
                paths += [(name, *path[length:]) for name, value in config.items() if name != path[0] and value == held]
    return tuple(re.compile(re.escape(dotted_key(path)) + r"(?:[.\[].*)?") for path in dict.fromkeys(paths))


@dataclass(frozen=True)
class Finding:
    """One cause of the crash in one file: what ``check`` reports and what the rule's fix removes.

    ``line``/``column`` are 1-based in the file given; None lets the engine place it at the fix's
    first changed line. ``message`` is short (check prints it after the path and id); ``detail`` says
    the numbers behind it in words (check's indented line); ``details`` are those numbers for JSON.
    ``edits`` are the config edits that remove it (config rules); a finding without edits cannot
    be fixed automatically and makes the fix fail with its message.
    """

    message: str
    severity: Severity = Severity.CRASH
    line: int | None = None
    column: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    edits: tuple[ConfigEdit, ...] = ()
    detail: str = ""

    @property
    def explained(self) -> str:
        """The message with its detail: a note or an error says both."""
        return f"{self.message} ({self.detail})" if self.detail else self.message


class Rule:
    """Base class. Subclasses set the class attributes and implement :meth:`transform`."""

    id: ClassVar[str]
    summary: ClassVar[str]
    crash: ClassVar[str]
    tradeoff: ClassVar[str]
    applicability: ClassVar[Applicability]
    options: ClassVar[tuple[Option, ...]] = ()
    # What check says of a change no finding explains (a source rule's in-place ReLU nothing overwrites
    # yet): the risk in a few words; the summary when empty.
    latent_message: ClassVar[str] = ""
    # The command check prints to fix a finding (PATH: the file); a rule with a command of its own names it.
    fix_command: ClassVar[str] = "apply --fix {rule} PATH"
    # Remedies that change results or rewrite more than the crash needs run only when named with --fix.
    opt_in: ClassVar[bool] = False
    # A file containing none of these substrings cannot need this transform and is not parsed.
    prefilter: ClassVar[tuple[str, ...]]
    # Config transforms that resolve the config: a config none of whose inheritance chain (the file
    # and every file it inherits from) contains one of these is not resolved. Empty: no such check.
    chain_prefilter: ClassVar[tuple[str, ...]] = ()
    # True for config transforms that change a config only where ``problem()`` finds something:
    # the engine then checks the resolved config before parsing and skips configs without one.
    only_fixes_problems: ClassVar[bool] = False
    examples: ClassVar[tuple[Example, ...]]

    # fnmatch patterns (or compiled regexes, matched whole) of dotted config keys a fix may also
    # change beyond its own edits: an inheriting config sees its fixed base's keys, under its own
    # nesting, and a variable the file shares between keys changes with them. --verify and the
    # corpus tests accept these.
    intended_keys: ClassVar[tuple[str | re.Pattern[str], ...]] = ()

    def may_apply(self, text: str) -> bool:
        return any(marker in text for marker in self.prefilter)

    def problem(self, config: Mapping[str, Any], options: Mapping[str, Any]) -> str | None:
        """What is still wrong with a resolved config for this transform's crash (None: nothing)."""
        return None

    def source_findings(self, module: cst.Module, options: Mapping[str, Any]) -> list[Finding]:
        """Findings a model file's analysis can place (a line that crashes backward); the engine adds
        a latent finding for each other change this rule makes."""
        return []

    def extra_paths(self, options: Mapping[str, Any]) -> list[Path]:
        """Files this rule adds to the run's paths for these options (ValueError: why it cannot)."""
        return []

    def intended(self, config: Mapping[str, Any], options: Mapping[str, Any]) -> tuple[str | re.Pattern[str], ...]:
        """The dotted keys (fnmatch patterns, or regexes matched whole) a fix of ``config`` may change."""
        return self.intended_keys

    def transform(self, module: cst.Module, context: TransformContext) -> cst.Module:
        raise NotImplementedError

    @classmethod
    def doc(cls) -> str:
        return inspect.cleandoc(cls.__doc__ or "")  # the summary line has no indent to dedent with the rest


class ConfigRule(Rule):
    """A rule over the effective config: :meth:`findings` is all it implements.

    ``problem`` (the engine's "is there anything to fix"), the intended keys of ``--verify`` and
    the fix itself all come from the findings: their edits are placed by the shared planner and
    each candidate is proved with mmengine.
    """

    only_fixes_problems = True
    # The comment above an override the planner appends ("autofix <id>: ..."); empty for none.
    override_comment: ClassVar[str] = ""

    def findings(self, config: Mapping[str, Any], options: Mapping[str, Any]) -> list[Finding]:
        raise NotImplementedError

    def file_findings(self, module: cst.Module, config: Mapping[str, Any], options: Mapping[str, Any]) -> list[Finding]:
        """The findings this file's fix acts on (what ``check`` reports for it): :meth:`findings`, unless
        the file's own text shows that one is meant (a rule that can tell overrides this)."""
        return self.findings(config, options)

    def comment_for(self, overridden: Sequence[ConfigEdit], options: Mapping[str, Any]) -> str | None:
        """The comment above an override that carries the edits ``overridden``, for these options."""
        return f"autofix {self.id}: {self.override_comment}" if self.override_comment else None

    def problem(self, config: Mapping[str, Any], options: Mapping[str, Any]) -> str | None:
        found = self.findings(config, options)
        return found[0].explained if found else None

    def intended(self, config: Mapping[str, Any], options: Mapping[str, Any]) -> tuple[str | re.Pattern[str], ...]:
        """The dotted keys this rule's fix of ``config`` may change: the edited keys, the variables
        through which a file may write them, and what ``intended_keys`` declares."""
        edits = [edit for finding in self.findings(config, options) for edit in finding.edits]
        return (*edited_keys(config, edits), *self.intended_keys)

    def transform(self, module: cst.Module, context: TransformContext) -> cst.Module:
        if context.kind is not FileKind.CONFIG:
            return module
        from autofix.config_edit import place_edits  # the planner needs libcst helpers, not every caller does

        found = self.file_findings(module, context.resolve_config(), context.options)
        if not found:
            return module
        for finding in found:
            if not finding.edits:
                raise TransformFailed(finding.explained)
            context.note(finding.explained)
        edits = [edit for finding in found for edit in finding.edits]
        return place_edits(context, module, edits, lambda config: self.problem(config, context.options),
                           comment=lambda overridden: self.comment_for(overridden, context.options))
