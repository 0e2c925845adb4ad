"""What the commands print: diffs, findings, summaries, the progress bar and JSON reports.

Cheap to import (rich's pieces, no libcst or mmengine): every command's output goes through here.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from autofix import __version__
from autofix.diffs import colour_diff

if TYPE_CHECKING:
    from autofix.engine import RunReport
    from autofix.engine.pipeline import RuleFinding
    from autofix.rule import Rule


# A progress bar is worth drawing from this many files on.
PROGRESS_MIN_FILES = 20


class ProgressBar:
    """A rich progress bar on a terminal (never in pipes or CI logs): the phase, files done of all, the
    time left. Drawn without a refresh thread: the engine may fork worker processes while it is shown."""

    def __init__(self, err: Console) -> None:
        self.shown = err.is_terminal and not os.environ.get("CI")
        self.err = err
        self.bar: Progress | None = None
        self.task: TaskID | None = None
        self.phase = ""
        self.drawn = 0.0

    def __call__(self, phase: str, done: int, total: int) -> None:
        if not self.shown or total < PROGRESS_MIN_FILES:
            return
        if self.bar is None:
            self.bar = Progress(
                TextColumn("autofix {task.description:<9}"), BarColumn(), MofNCompleteColumn(),
                TimeRemainingColumn(compact=True, elapsed_when_finished=True),
                console=self.err, transient=True, auto_refresh=False,
            )
            self.bar.start()
            self.task = self.bar.add_task(phase, total=total)
        if phase == "examining" and self.phase == "planning":  # a new count: the time left is estimated afresh
            self.bar.reset(self.task, total=total, completed=done, description=phase)
        else:
            self.bar.update(self.task, completed=done, description=phase)
        now = time.monotonic()
        # A redraw per file would cost more than the files; a new phase is drawn at once.
        if now - self.drawn >= 0.1 or done == total or phase != self.phase:
            self.bar.refresh()
            self.drawn = now
        self.phase = phase

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def print_problems(report: RunReport, err: Console, strict: bool) -> None:
    """One line per file that failed, and per config that could not be examined (an error with --strict)."""
    for result in report.results:
        if result.status == "error":
            err.print(f"error: {result.shown}: {result.error}", style="bold red", markup=False)
        elif result.status == "unresolvable":
            label, style = ("error", "bold red") if strict else ("warning", "yellow")
            err.print(f"{label}: {result.shown}: not examined: {result.error}", style=style, markup=False)


def print_diffs(report: RunReport, out: Console, err: Console, strict: bool = False, verbose: bool = False) -> None:
    """Problems, then each changed file's diff after its notes: on one line, or a line each with ``verbose``.
    A file left as it was for want of an exact fix (a refused construct) has notes and no diff."""
    print_problems(report, err, strict)
    for result in report.results:
        if result.status != "changed" and not result.refused:
            continue
        notes = list(result.notes) if verbose or not result.notes else ["; ".join(result.notes)]
        for note in notes:
            err.print(f"note: {result.shown}: {note}", style="yellow", markup=False)
        if result.status != "changed":
            continue
        if out.is_terminal:
            out.print(colour_diff(result.diff), end="")
        else:  # plain bytes for pipes and patch files: no wrapping, no markup
            sys.stdout.write(result.diff)
    sys.stdout.flush()


def warn_if_empty(report: RunReport, paths: list[Path], err: Console) -> None:
    """ruff's warning (and, as ruff, exit 0) when the walk found no Python file."""
    if report.results:
        return
    from autofix.files import display_path  # only an empty walk needs it

    shown = " ".join(display_path(path) for path in paths)
    err.print(f"warning: no Python files found under {shown}", style="yellow", markup=False)


# The columns of the summary table: key, heading.
COLUMNS = (("examined", "files"), ("changed", "changed"), ("unchanged", "unchanged"), ("failed", "failed"),
            ("unresolvable", "unresolvable"), ("suppressed", "suppressed"))
COUNTED = tuple(key for key, _ in COLUMNS)


def per_transform(report: RunReport, transform_ids: list[str]) -> dict[str, dict[str, int]]:
    """For each transform: the files it examined, changed, left unchanged, that failed and that could not be
    resolved; changes suppressed."""
    counts = {tid: dict.fromkeys(COUNTED, 0) for tid in transform_ids}
    for result in report.results:
        for tid in result.examined:
            row = counts[tid]
            row["examined"] += 1
            if result.status == "error":
                row["failed"] += 1
            elif result.status == "unresolvable":
                row["unresolvable"] += 1
            elif tid in result.applied:
                row["changed"] += 1
            else:
                row["unchanged"] += 1
        for tid in result.suppressed:
            counts[tid]["suppressed"] += 1
    return counts


def totals(report: RunReport) -> dict[str, int]:
    return {
        "scanned": len(report.results),
        "changed": report.count("changed"),
        "unchanged": report.count("unchanged"),
        "skipped": report.count("skipped"),
        "failed": report.count("error"),
        "unresolvable": report.count("unresolvable"),
        "suppressed": sum(len(r.suppressed) for r in report.results),
    }


def not_run(rules: list[Rule], options: Mapping[str, Any], report: RunReport) -> dict[str, str]:
    """Rules that fix files their flags add (an installed library's) and examined nothing because no such
    flag was given: rule id -> why, and the command that runs them."""
    from autofix.rule import Rule  # loaded already by the run that made the report

    examined = {tid for result in report.results for tid in result.examined}
    skipped = {}
    for rule in rules:
        adds_files = type(rule).extra_paths is not Rule.extra_paths
        flags = [option for option in rule.options if option.flag and not options.get(option.key)]
        if adds_files and flags and rule.id not in examined and not rule.extra_paths(options):
            named = " ".join(f"--{flag.name}" for flag in flags)
            why = "; ".join(flag.help for flag in flags)
            skipped[rule.id] = f"its files come from {named} ({why}); run `autofix apply --fix {rule.id} {named}`"
    return skipped


# A run over more files than this, or with more than one rule changing files, gets the per-rule table.
TABLE_MIN_FILES = 20


def print_summary(report: RunReport, rules: list[Rule], options: Mapping[str, Any], dry_run: bool, err: Console,
                  statistics: bool = False) -> None:
    """The per-rule table (with ``statistics``, or for a big or many-rule run), the rules that were not run,
    then one line (the part CI logs are grepped for)."""
    counts = totals(report)
    not_running = not_run(rules, options, report)
    rows = per_transform(report, [rule.id for rule in rules])
    rules_changing = sum(1 for row in rows.values() if row["changed"])
    if statistics or counts["scanned"] > TABLE_MIN_FILES or rules_changing > 1:
        err.print(_table(counts, rows, not_running))
    for tid, why in not_running.items():
        err.print(f"note: {tid} was not run: {why}", style="yellow", markup=False)
    changed = counts["changed"]
    verb = "would change" if dry_run else "changed"
    parts = [f"{changed} file{'s' if changed != 1 else ''} {verb}", f"{counts['unchanged']} unchanged"]
    for key, word in (("skipped", "skipped"), ("failed", "error"), ("unresolvable", "unresolvable"),
                      ("suppressed", "suppressed")):
        if counts[key]:
            parts.append(f"{counts[key]} {word}{'s' if key == 'failed' and counts[key] != 1 else ''}")
    err.print(", ".join(parts) + ".", markup=False)


def _table(counts: dict[str, int], rows: dict[str, dict[str, int]], not_running: dict[str, str]) -> Table:
    """A row per rule and one for all files."""
    # The unresolvable column only where there are some: most trees have none, and it is wide.
    columns = [(key, heading) for key, heading in COLUMNS if key != "unresolvable" or counts["unresolvable"]]
    table = Table(title="autofix summary", title_justify="left")
    table.add_column("", justify="left")
    for _, heading in columns:
        table.add_column(heading, justify="right")
    for tid, row in rows.items():
        table.add_row(tid, *("-" if tid in not_running else str(row[key]) for key, _ in columns))
    table.add_row("all files (scanned)", *(str(counts["scanned" if key == "examined" else key]) for key, _ in columns),
                  style="bold")
    return table


def print_check_statistics(found: list[tuple[str, RuleFinding]], out: Console) -> None:
    """check --statistics, as ruff's: a line per rule, its findings and the files they are in, most first."""
    per_rule = Counter(reported.rule for _, reported in found)
    files = {rule: len({shown for shown, reported in found if reported.rule == rule}) for rule in per_rule}
    width = max((len(str(count)) for count in per_rule.values()), default=1)
    for rule, count in per_rule.most_common():
        out.print(f"{count:>{width}}  {rule}  in {files[rule]} file{'s' if files[rule] != 1 else ''}", markup=False)


def json_report(report: RunReport, rules: list[Rule], options: Mapping[str, Any], dry_run: bool, write: bool) -> str:
    files = [
        {
            "path": r.shown,
            "status": r.status,
            "transforms": list(r.applied),
            "diff": r.diff,
            "notes": list(r.notes),
            "error": r.error or None,
            "suppressed": dict(Counter(r.suppressed)),
            "written": r.written,
            "refused": list(r.refused),
        }
        for r in report.results
    ]
    document = {
        "autofix": __version__,
        "mode": "dry-run" if dry_run else "write" if write else "diff",
        "files": files,
        "totals": {**totals(report), "per_transform": per_transform(report, [rule.id for rule in rules])},
        "not_run": not_run(rules, options, report),
    }
    return json.dumps(document, indent=2) + "\n"


# What a finding's severity means, for its detail line when the rule gives no numbers.
SEVERITY_MEANING = {
    "crash": "fails as configured",
    "latent": "fails once AMP is on, the train scale grows or an in-place op follows",
    "silent": "nothing fails, but training does not do what the file says",
}


def finding_text(shown: str, reported: RuleFinding) -> Text:
    """A finding in ruff's shape: ``path:line:col: ID message``, an indented line with its severity and
    numbers, and the command that fixes it. Path and id are styled (a console without colour drops it)."""
    finding = reported.finding
    severity = finding.severity.value
    text = Text()
    text.append(shown, style="bold")
    text.append(f":{finding.line or 1}:{finding.column or 1}: ")
    text.append(reported.rule, style="bold red" if severity == "crash" else "bold yellow")
    text.append(f" {finding.message}\n  {severity}: {finding.detail or SEVERITY_MEANING[severity]}\n  ")
    text.append("help:", style="bold cyan")
    text.append(f" {fix_command(reported, shown) or 'no exact automatic fix: edit it by hand'}")
    return text


def print_findings(found: list[tuple[str, RuleFinding]], out: Console) -> None:
    """Each finding (a blank line between, as ruff does)."""
    for index, (shown, reported) in enumerate(found):
        if index:
            out.print()
        text = finding_text(shown, reported)
        out.print(text.plain if out.no_color else text, markup=False)  # --no-color: no bold either


def fix_command(reported: RuleFinding, shown: str) -> str | None:
    """The command that fixes a finding; None for one left as it was."""
    if not reported.command:
        return None
    return "autofix " + reported.command.format(rule=reported.rule).replace("PATH", shlex.quote(shown))


def finding_json(shown: str, reported: RuleFinding) -> dict[str, Any]:
    finding = reported.finding
    return {
        "path": shown, "line": finding.line, "column": finding.column or 1, "rule": reported.rule,
        "severity": finding.severity.value, "message": finding.message, "detail": finding.detail,
        "details": dict(finding.details), "fix": fix_command(reported, shown),
    }


def check_summary(report: RunReport, found: int, errors: int, unresolvable: int) -> str:
    """One line; "nothing found" only when every file could be checked."""
    files = len({r.shown for r in report.results if r.findings})
    checked = len(report.results) - errors - unresolvable
    plural = "s" if checked != 1 else ""
    if found:
        parts = [f"{found} finding{'s' if found != 1 else ''} in {files} file{'s' if files != 1 else ''}",
                 f"{checked} file{plural} checked"]
    elif errors or unresolvable:
        parts = [f"nothing found in the {checked} file{plural} checked"]
    else:
        parts = ["nothing found", f"{checked} file{plural} checked"]
    if errors:
        parts.append(f"{errors} error{'s' if errors != 1 else ''}")
    if unresolvable:
        parts.append(f"{unresolvable} config{'s' if unresolvable != 1 else ''} not checked (mmengine cannot load them)")
    return ", ".join(parts) + "."
