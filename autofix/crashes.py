"""Crash fixes: a known crash, named by id, how to recognise it in a log, and its remedies.

Each crash fix is a ``CrashFix`` declared in its own module of :mod:`autofix.catalogue`, beside the
transforms it points at; :mod:`autofix.registry` finds it there. That one declaration feeds
``--fix ID``, ``autofix list``/``explain`` and ``autofix diagnose``.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Collection
from dataclasses import dataclass


@dataclass(frozen=True)
class Remedy:
    """One way to make a crash go away, run as ``autofix apply --fix <fix> <target>``, or, for a remedy
    that edits nothing (an environment variable for the run), as its own ``run`` command."""

    fix: str  # a transform (or crash-fix) id, which may not be registered in this install yet; or the remedy's name
    summary: str
    cost: str
    # What `autofix apply` runs on: "{path}" is the user's file (or the crash's path hint).
    target: str = "{path}"
    # The command of a remedy autofix does not apply ("{python}": the training environment's interpreter); empty
    # for `autofix apply`.
    run: str = ""
    # The autofix command that gives this remedy, where it is not `apply --fix FIX` (`migrate`).
    subcommand: str = ""

    def command(self, path_argument: str, python: str = "") -> str:
        """The command; ``python`` (a shell word) names the training environment's interpreter."""
        if self.run:
            return self.run.format(python=python or "python")
        command = self.subcommand or f"apply --fix {self.fix}"
        return f"autofix {command} {self.target.format(path=path_argument)}" + _python_flag(python)

    def available(self, known_fixes: Collection[str]) -> bool:
        """Whether this install can give the remedy: ``run`` needs no autofix fix, ``fix`` must be known."""
        return bool(self.run) or self.fix in known_fixes


@dataclass(frozen=True)
class LogSignature:
    """A crash as a log shows it: its error message and the function it is raised from.

    ``message`` and ``family`` are regular expressions in which each space matches any run of
    whitespace, so a message wrapped over several lines still matches. ``family`` is looser: text
    that matches it but not ``message`` is reported as a near miss, never as this crash.
    """

    message: str
    raised_in: tuple[str, ...]  # function names of the traceback frame it is raised from
    place: str  # that place in words, for the user
    family: str = ""
    # The end of that frame's file path ('/'-separated), where the function name alone is too common.
    raised_in_file: str = ""

    def raised_at(self, function: str, path: str) -> bool:
        """Whether a traceback frame (its function and file) is the place this crash is raised."""
        return function in self.raised_in and path.replace("\\", "/").endswith(self.raised_in_file)

    def message_pattern(self) -> re.Pattern[str]:
        return _flexible(self.message)

    def family_pattern(self) -> re.Pattern[str] | None:
        return _flexible(self.family) if self.family else None


def _flexible(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern.replace(" ", r"\s+"))


@dataclass(frozen=True)
class CrashFix:
    """A known crash: how to recognise it, why it happens, and how to fix it (best remedy first)."""

    id: str
    summary: str  # one line for `autofix list`: the crash in the user's words
    crash: str  # the error message, as users search for it
    what_happened: str  # one paragraph: the cause, in the user's terms
    default_transforms: tuple[str, ...]  # what `--fix ID` runs
    remedies: tuple[Remedy, ...]  # in the order a user should prefer them
    signatures: tuple[LogSignature, ...]
    # What to pass as PATH in the printed commands when no file is known; a flag (`--mmcv`) for a crash fixed
    # in a library file that flag finds, which then takes no PATH.
    path_hint: str
    # Log excerpts `autofix diagnose` must recognise as this crash (they are tests, and `explain` shows them).
    log_examples: tuple[str, ...] = ()
    # What still helps when the message is raised somewhere else (a look-alike `diagnose` names); empty: nothing.
    lookalike_advice: str = ""

    def path_argument(self, path: str | None) -> str:
        """``path`` quoted for a shell, or the placeholder users replace when no file is known."""
        return shlex.quote(path) if path and not self.fixed_in_a_library else self.path_hint

    @property
    def fixed_in_a_library(self) -> bool:
        """Whether the default remedy edits a library file its flag finds (not the user's config)."""
        return self.path_hint.startswith("-")

    def command(self, path: str | None = None, python: str = "") -> str:
        """The command that runs the default remedy on ``path``; ``python`` as for :meth:`Remedy.command`."""
        if self.remedies[0].subcommand:
            return self.remedies[0].command(self.path_argument(path), python)
        return f"autofix apply --fix {self.id} {self.path_argument(path)}" + _python_flag(python)


def _python_flag(python: str) -> str:
    return f" --python {python}" if python else ""
