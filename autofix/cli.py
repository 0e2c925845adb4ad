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
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from autofix import __version__
from autofix.check import check_paths, summary
from autofix.diagnose import LogUnreadable, describe_crash, diagnose_text, diagnosis_json, read_log, render_match, render_no_match
from autofix.diffs import colour_diff
from autofix.engine import RunReport, run
from autofix.files import display_path
from autofix.registry import UnknownFixError, all_transforms, crash_fixes, resolve_fix_ids

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


def _print_report(report: RunReport, dry_run: bool, out: Console, err: Console) -> None:
    for result in sorted(report.results, key=lambda r: r.shown):
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
    changed = report.count("changed")
    verb = "would change" if dry_run else "changed"
    parts = [f"{changed} file{'s' if changed != 1 else ''} {verb}", f"{report.count('unchanged')} unchanged"]
    errors = report.count("error")
    if errors:
        parts.append(f"{errors} error{'s' if errors != 1 else ''}")
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


@app.command()
def apply(
    paths: Annotated[
        Optional[list[Path]], typer.Argument(help="Files or folders (searched recursively for *.py).")
    ] = None,
    fix: Annotated[
        list[str],
        typer.Option("--fix", "-f", help="Transform or crash-fix id; comma-separated or repeated."),
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
) -> None:
    """Rewrite files so the selected crashes cannot happen; print a unified diff per changed file."""
    try:
        transforms = resolve_fix_ids(fix)
        options = transform_options(split_thr=split_thr, scale=scale)
        if mmcv:
            paths = [*(paths or []), installed_mmcv_nms()]
    except (UnknownFixError, ValueError) as exc:
        raise _fail(str(exc)) from None
    if not paths:
        raise _fail("no PATH given (or pass --mmcv)")
    out, err = _consoles(no_color)
    with _orderly_stop():
        report = run(paths, transforms, options, write=not (dry_run or diff_only), verify=verify)
        _print_report(report, dry_run or diff_only, out, err)
    if report.count("error"):
        raise typer.Exit(EXIT_ERROR)
    if dry_run and report.count("changed"):
        raise typer.Exit(EXIT_PENDING)


def transform_options(split_thr: int | None, scale: str | None) -> dict[str, object]:
    """The options transforms read (see each transform's ``option_help``), from the command line."""
    options: dict[str, object] = {}
    if split_thr is not None:
        options["split_thr"] = split_thr
    if scale is not None:
        width, sep, height = scale.lower().partition("x")
        if not (sep and width.isdigit() and height.isdigit() and int(width) > 0 and int(height) > 0):
            raise ValueError(f"--scale {scale!r}: expected WIDTHxHEIGHT, e.g. 1333x800")
        options["scale"] = (int(width), int(height))
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
def list_fixes() -> None:
    """Every transform and crash fix: what it changes, the crash it addresses, its cost."""
    out = Console(highlight=False)
    table = Table(title="Transforms", show_lines=True)
    for column in ("id", "changes", "crash", "cost", "changes results"):
        table.add_column(column, overflow="fold")
    for transform in all_transforms().values():
        table.add_row(
            transform.id,
            transform.summary,
            transform.crash,
            transform.tradeoff,
            "[bold red]yes[/bold red]" if transform.changes_results else "no",
        )
    out.print(table)
    crashes = Table(title="Crash fixes (--fix ID picks the default remedy)", show_lines=True)
    for column in ("id", "crash", "default transforms", "remedies"):
        crashes.add_column(column, overflow="fold")
    for crash in crash_fixes().values():
        available = [t if t in all_transforms() else f"{t} (not available yet)" for t in crash.default_transforms]
        crashes.add_row(crash.id, crash.crash, ", ".join(available), ", ".join(r.fix for r in crash.remedies))
    out.print(crashes)


@app.command()
def explain(fix_id: Annotated[str, typer.Argument(metavar="ID", help="A transform or crash-fix id.")]) -> None:
    """A transform's or crash fix's documentation, with its before/after examples."""
    out = Console(highlight=False, soft_wrap=True)
    transforms, crashes = all_transforms(), crash_fixes()
    if fix_id in crashes:
        crash = crashes[fix_id]
        out.print(describe_crash(crash))
        fix_ids = [t for t in crash.default_transforms if t in transforms]
    elif fix_id in transforms:
        fix_ids = [fix_id]
    else:
        raise _fail(f"unknown fix id {fix_id!r}; known ids: {', '.join([*transforms, *crashes])}")
    for transform_id in fix_ids:
        transform = transforms[transform_id]
        out.rule(transform.id)
        out.print(transform.doc(), markup=False)
        out.print(f"\nCrash: {transform.crash}\nCost: {transform.tradeoff}", markup=False)
        out.print(f"Changes training results: {'yes' if transform.changes_results else 'no'}\n")
        for example in transform.examples:
            label = f"Example ({example.kind.value}{': ' + example.title if example.title else ''})"
            out.print(f"[bold]{label}[/bold]")
            if example.after is None:
                out.print("  left alone:", style="dim")
                out.print(example.source, markup=False)
            else:
                out.print("  before:", style="dim")
                out.print(example.source, markup=False)
                out.print("  after:", style="dim")
                out.print(example.expected, markup=False)


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


class OutputFormat(str, enum.Enum):
    text = "text"
    json = "json"


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
            _print_report(report, not apply_fix, out, err)
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
