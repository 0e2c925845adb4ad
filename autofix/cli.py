"""The ``autofix`` command line. Exit codes: 0 done or nothing to do, 1 changes pending (--dry-run), 2 error."""

from __future__ import annotations

import contextlib
import enum
import importlib.util
import json
import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from autofix import __version__
from autofix.check import check_paths, summary
from autofix.diagnose import (
    LogUnreadable,
    diagnose_text,
    diagnosis_json,
    read_log,
    render_match,
    render_no_match,
)
from autofix.diffs import colour_diff
from autofix.docs import list_json, list_lines, page
from autofix.engine import RunReport, run
from autofix.files import display_path
from autofix.registry import (
    UnknownFixError,
    all_transforms,
    crash_fixes,
    resolve_fix_ids,
)
from autofix.settings import load_project_settings, parse_scale

EXIT_CLEAN, EXIT_PENDING, EXIT_ERROR = 0, 1, 2

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Fix known OpenMMLab training crashes by rewriting the files that cause them.",
)


def _consoles(no_color: bool) -> tuple[Console, Console]:
    colour = not no_color and "NO_COLOR" not in os.environ
    out = Console(highlight=False, soft_wrap=True, no_color=not colour)
    err = Console(stderr=True, highlight=False, soft_wrap=True, no_color=not colour)
    return out, err


def _fail(message: str) -> typer.Exit:
    Console(stderr=True, highlight=False, soft_wrap=True).print(f"autofix: error: {message}", markup=False)
    return typer.Exit(EXIT_ERROR)


# A progress bar is worth drawing from this many files on.
PROGRESS_MIN_FILES = 20


class _ProgressBar:
    """A rich progress bar on a terminal (never in pipes or CI logs), drawn without a refresh thread:
    the engine may fork worker processes while it is shown."""

    def __init__(self, err: Console) -> None:
        self.shown = err.is_terminal and not os.environ.get("CI")
        self.err = err
        self.bar: Progress | None = None
        self.task: TaskID | None = None
        self.drawn = 0.0

    def __call__(self, done: int, total: int) -> None:
        if not self.shown or total < PROGRESS_MIN_FILES:
            return
        if self.bar is None:
            self.bar = Progress(
                TextColumn("autofix"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=self.err, transient=True, auto_refresh=False,
            )
            self.bar.start()
            self.task = self.bar.add_task("files", total=total)
        self.bar.update(self.task, completed=done)
        now = time.monotonic()
        if now - self.drawn >= 0.1 or done == total:  # a redraw per file would cost more than the files
            self.bar.refresh()
            self.drawn = now

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _print_diffs(report: RunReport, out: Console, err: Console) -> None:
    for result in report.results:
        if result.status == "error":
            err.print(f"error: {result.shown}: {result.error}", style="bold red", markup=False)
            continue
        if result.status != "changed":
            continue
        for note in result.notes:
            err.print(f"note: {result.shown}: {note}", style="yellow", markup=False)
        if out.is_terminal:
            out.print(colour_diff(result.diff), end="")
        else:  # plain bytes for pipes and patch files: no wrapping, no markup
            sys.stdout.write(result.diff)
    sys.stdout.flush()


def _per_transform(report: RunReport, transform_ids: list[str]) -> dict[str, dict[str, int]]:
    """For each transform: the files it examined, changed, left unchanged and that failed; changes suppressed."""
    counts = {tid: {"examined": 0, "changed": 0, "unchanged": 0, "failed": 0, "suppressed": 0} for tid in transform_ids}
    for result in report.results:
        for tid in result.examined:
            row = counts[tid]
            row["examined"] += 1
            if result.status == "error":
                row["failed"] += 1
            elif tid in result.applied:
                row["changed"] += 1
            else:
                row["unchanged"] += 1
        for tid in result.suppressed:
            counts[tid]["suppressed"] += 1
    return counts


def _totals(report: RunReport) -> dict[str, int]:
    return {
        "scanned": len(report.results),
        "changed": report.count("changed"),
        "unchanged": report.count("unchanged"),
        "skipped": report.count("skipped"),
        "failed": report.count("error"),
        "suppressed": sum(len(r.suppressed) for r in report.results),
    }


def _print_summary(report: RunReport, transform_ids: list[str], dry_run: bool, err: Console) -> None:
    """A table per transform and for all files, then one line (the part CI logs are grepped for)."""
    totals = _totals(report)
    table = Table(title="autofix summary", title_justify="left")
    for column in ("", "files", "changed", "unchanged", "failed", "suppressed"):
        table.add_column(column, justify="left" if not column else "right")
    for tid, row in _per_transform(report, transform_ids).items():
        table.add_row(tid, *(str(row[k]) for k in ("examined", "changed", "unchanged", "failed", "suppressed")))
    table.add_row(
        "all files (scanned)",
        *(str(totals[k]) for k in ("scanned", "changed", "unchanged", "failed", "suppressed")),
        style="bold",
    )
    err.print(table)
    changed = totals["changed"]
    verb = "would change" if dry_run else "changed"
    parts = [f"{changed} file{'s' if changed != 1 else ''} {verb}", f"{totals['unchanged']} unchanged"]
    for key, word in (("skipped", "skipped"), ("failed", "error"), ("suppressed", "suppressed")):
        if totals[key]:
            parts.append(f"{totals[key]} {word}{'s' if key == 'failed' and totals[key] != 1 else ''}")
    err.print(", ".join(parts) + ".", markup=False)


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where SIGINT raises KeyboardInterrupt, so both stop the same orderly way."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise _Terminated()


@contextlib.contextmanager
def _orderly_stop() -> Iterator[None]:
    """Turn SIGINT/SIGTERM into a one-line message and exit 130/143 (128 + the signal).

    Files are replaced atomically and the write itself holds both signals until the file is
    whole (see files.replace_atomically), so a stop leaves each file as it was or fully fixed.
    A SIGTERM already ignored by whoever started us stays ignored.
    """
    previous = signal.getsignal(signal.SIGTERM)
    install = previous == signal.SIG_DFL and threading.current_thread() is threading.main_thread()
    if install:
        signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    except KeyboardInterrupt as exc:
        signum = signal.SIGTERM if isinstance(exc, _Terminated) else signal.SIGINT
        message = (
            f"autofix: interrupted by {signum.name}; each file is either as it was or fully fixed, "
            "so running the same command again finishes the job"
        )
        Console(stderr=True, highlight=False, soft_wrap=True).print(message, markup=False)
        raise typer.Exit(128 + signum) from None
    finally:
        if install:
            signal.signal(signal.SIGTERM, previous)


def _json_report(report: RunReport, transform_ids: list[str], dry_run: bool, write: bool) -> str:
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
        }
        for r in report.results
    ]
    document = {
        "autofix": __version__,
        "mode": "dry-run" if dry_run else "write" if write else "diff",
        "files": files,
        "totals": {**_totals(report), "per_transform": _per_transform(report, transform_ids)},
    }
    return json.dumps(document, indent=2) + "\n"


class OutputFormat(str, enum.Enum):
    text = "text"
    json = "json"


@app.command()
def apply(
    paths: Annotated[
        Optional[list[Path]], typer.Argument(help="Files or folders (searched recursively for *.py).")
    ] = None,
    fix: Annotated[
        list[str],
        typer.Option("--fix", "-f", help="Rule or crash-fix id; comma-separated or repeated "
                     "(default: `fix` in pyproject.toml [tool.autofix])."),
    ] = [],  # noqa: B006 (typer reads the default, never mutates it)
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the diff, write nothing; exit 1 if changes are pending.")] = False,
    diff_only: Annotated[bool, typer.Option("--diff", help="Show the diff, write nothing; exit 0 (like black --diff).")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="Plain output even on a terminal.")] = False,
    verify: Annotated[
        bool,
        typer.Option("--verify", help="Resolve each changed config with mmengine before and after; refuse (exit 2) "
                     "a fix that changes more than intended or does not take effect."),
    ] = False,
    split_thr: Annotated[
        Optional[int],
        typer.Option("--split-thr", min=1, help="split-thr: the value to set (default: computed from the RPN)."),
    ] = None,
    scale: Annotated[
        Optional[str],
        typer.Option("--scale", metavar="WxH", help="resize-down: the largest train size (default 1333x800)."),
    ] = None,
    mmcv: Annotated[
        bool, typer.Option("--mmcv", help="Also process the installed mmcv's ops/nms.py (for nms-dtype-cast).")
    ] = False,
    exclude: Annotated[
        list[str],
        typer.Option("--exclude", metavar="GLOB", help="Skip paths matching this gitignore-style pattern, relative "
                     "to the folder given (repeatable; replaces `exclude` in pyproject.toml)."),
    ] = [],  # noqa: B006
    jobs: Annotated[
        Optional[int],
        typer.Option("--jobs", "-j", min=1, help="Worker processes (default: the machine's cores); output is the same for any N."),
    ] = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="text: diffs on stdout; json: one JSON document on stdout.")
    ] = OutputFormat.text,
    diff_file: Annotated[
        Optional[Path],
        typer.Option("--diff-file", metavar="PATH", help="Also write every diff to PATH as one patch (git apply / patch -p1)."),
    ] = None,
) -> None:
    """Rewrite files so the selected crashes cannot happen; print a unified diff per changed file."""
    try:
        project = load_project_settings(Path.cwd())
        fix_ids = fix or list(project.fix)
        try:
            transforms = resolve_fix_ids(fix_ids)
        except UnknownFixError as exc:
            raise UnknownFixError(f"{project.source} [tool.autofix] fix: {exc}" if not fix and project.fix else str(exc)) from None
        options = transform_options(
            split_thr=split_thr if split_thr is not None else project.split_thr,
            scale=scale if scale is not None else project.scale,
        )
        if mmcv:
            paths = [*(paths or []), installed_mmcv_nms()]
    except (UnknownFixError, ValueError) as exc:
        raise _fail(str(exc)) from None
    if not paths:
        raise _fail("no PATH given (or pass --mmcv)")
    out, err = _consoles(no_color)
    write = not (dry_run or diff_only)
    with _orderly_stop():
        progress = _ProgressBar(err)
        try:
            report = run(
                paths,
                transforms,
                options,
                write=write,
                verify=verify,
                jobs=jobs or project.jobs or _usable_cores(),
                exclude=exclude or project.exclude,
                progress=progress,
            )
        finally:
            progress.close()
        transform_ids = [t.id for t in transforms]
        if output_format is OutputFormat.json:
            sys.stdout.write(_json_report(report, transform_ids, dry_run, write))
            sys.stdout.flush()
            for result in report.results:
                if result.status == "error":
                    err.print(f"error: {result.shown}: {result.error}", style="bold red", markup=False)
        else:
            _print_diffs(report, out, err)
        if diff_file is not None:
            try:
                diff_file.write_text("".join(r.diff for r in report.results if r.status == "changed"), encoding="utf-8")
            except OSError as exc:
                raise _fail(f"--diff-file {diff_file}: cannot write: {exc.strerror}") from None
        _print_summary(report, transform_ids, dry_run or diff_only, err)
    if report.count("error"):
        raise typer.Exit(EXIT_ERROR)
    if dry_run and report.count("changed"):
        raise typer.Exit(EXIT_PENDING)


def _usable_cores() -> int:
    """The cores this process may run on (a container's or taskset's limit, where the OS tells)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def transform_options(split_thr: int | None, scale: str | None) -> dict[str, object]:
    """The options transforms read (see each transform's ``option_help``), from the command line."""
    options: dict[str, object] = {}
    if split_thr is not None:
        options["split_thr"] = split_thr
    if scale is not None:
        size = parse_scale(scale)
        if size is None:
            raise ValueError(f"--scale {scale!r}: expected WIDTHxHEIGHT, e.g. 1333x800")
        options["scale"] = size
    return options


def installed_mmcv_nms() -> Path:
    """mmcv's ``ops/nms.py`` in this Python, found without importing mmcv (that loads its CUDA ops)."""
    spec = importlib.util.find_spec("mmcv")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        nms = Path(location) / "ops" / "nms.py"
        if nms.is_file():
            return nms
    raise ValueError("--mmcv: no mmcv with ops/nms.py is installed in this Python; pass the path to mmcv/ops/nms.py")


@app.command("list")
def list_fixes(
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="text (one line per id), or one JSON document.")
    ] = OutputFormat.text,
) -> None:
    """Every crash fix and rule: one line each with its summary and fix safety."""
    if output_format is OutputFormat.json:
        sys.stdout.write(json.dumps(list_json(), indent=2) + "\n")
    else:
        print("\n".join(list_lines()))


@app.command()
def explain(fix_id: Annotated[str, typer.Argument(metavar="ID", help="A rule or crash-fix id.")]) -> None:
    """A rule's or crash fix's page: what it does, why, its fix safety, options and examples."""
    markdown = page(fix_id)
    if markdown is None:
        raise _fail(f"unknown fix id {fix_id!r}; known ids: {', '.join([*all_transforms(), *crash_fixes()])}")
    out = Console(highlight=False)
    with out.capture() as rendered:
        out.print(Markdown(markdown))
    # rich pads every line to the full width; trailing blanks only get in the way of pipes and copies
    sys.stdout.write("".join(line.rstrip() + "\n" for line in rendered.get().splitlines()))


def _version(value: bool) -> None:
    if value:
        print(f"autofix {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True)] = None,
) -> None:
    """autofix: fix known OpenMMLab training crashes; every change is shown as a unified diff."""


def main() -> None:
    app()


# --- from a crash log to the fix, and risks before training ---------------------------------------


@app.command()
def diagnose(
    log: Annotated[
        Optional[str], typer.Argument(metavar="[LOG|-]", help="A training log or pasted traceback; - or none: standard input.")
    ] = None,
    config: Annotated[
        Optional[Path], typer.Option("--config", metavar="CFG", help="Show the default remedy's diff for this config (dry run).")
    ] = None,
    apply_fix: Annotated[bool, typer.Option("--apply", help="With --config: write the default remedy instead of showing it.")] = False,
    output_format: Annotated[OutputFormat, typer.Option("--format", help="text, or one JSON document.")] = OutputFormat.text,
    no_color: Annotated[bool, typer.Option("--no-color", help="Plain output even on a terminal.")] = False,
) -> None:
    """Recognise a known crash in a log: what happened, the remedies and their costs, the command to run.

    Exit 0 when a known crash matched, 1 when nothing known did, 2 when the input cannot be read
    (or the remedy cannot be applied to CFG).
    """
    if apply_fix and config is None:
        raise _fail("--apply needs --config CFG (the config to fix)")
    try:
        text, log_name = read_log(log)
    except LogUnreadable as exc:
        raise _fail(str(exc)) from None
    diagnosis = diagnose_text(text)
    shown_config = None if config is None else display_path(config)
    report = None
    if diagnosis.matches and config is not None:
        try:
            transforms = resolve_fix_ids([match.crash.id for match in diagnosis.matches])
        except UnknownFixError as exc:
            raise _fail(str(exc)) from None
        report = run([config], transforms, {}, write=apply_fix)
    out, err = _consoles(no_color)
    if output_format is OutputFormat.json:
        document = diagnosis_json(diagnosis, log_name, shown_config, report, applied=apply_fix)
        sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    elif diagnosis.matches:
        for index, match in enumerate(diagnosis.matches):
            out.print(("\n" if index else "") + "Recognised ", end="")
            out.print(render_match(match, log_name, shown_config), end="")
        if report is not None:
            verb = "Applied" if apply_fix else "Dry run of"
            err.print(f"\n{verb} the default remedy on {shown_config}:", markup=False)
            _print_diffs(report, out, err)
            _print_summary(report, [t.id for t in transforms], not apply_fix, err)
    else:
        out.print(render_no_match(diagnosis, log_name), end="")
    if report is not None and report.count("error"):
        raise typer.Exit(EXIT_ERROR)
    if not diagnosis.matches:
        raise typer.Exit(EXIT_PENDING)


@app.command()
def check(
    paths: Annotated[
        list[Path], typer.Argument(metavar="PATH", help="Configs, model files or folders (searched recursively for *.py).")
    ],
    output_format: Annotated[OutputFormat, typer.Option("--format", help="text (one finding a line), or one JSON document.")] = OutputFormat.text,
    assume_amp: Annotated[bool, typer.Option("--amp", help="Treat every config as trained with AMP (tools/train.py --amp).")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="Plain output even on a terminal.")] = False,
) -> None:
    """Find the known crashes' causes before training; exit 1 when a risk is found, 0 when clean, 2 on errors."""
    report = check_paths(paths, assume_amp=assume_amp)
    out, err = _consoles(no_color)
    if output_format is OutputFormat.json:
        sys.stdout.write(json.dumps(report.as_json(), indent=2, ensure_ascii=False) + "\n")
    else:
        for finding in report.findings:
            out.print(finding.as_line(), markup=False)
        sys.stdout.flush()  # findings before the summary when both streams go to one terminal or file
        for shown, error in report.errors:
            err.print(f"error: {shown}: {error}", style="bold red", markup=False)
        err.print(summary(report), markup=False)
    if report.errors:
        raise typer.Exit(EXIT_ERROR)
    if report.findings:
        raise typer.Exit(EXIT_PENDING)
