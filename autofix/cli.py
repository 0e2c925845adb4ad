"""The ``autofix`` command line. Exit codes: 0 done or nothing to do, 1 changes pending (--dry-run), 2 error."""

from __future__ import annotations

import contextlib
import enum
import inspect
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from autofix import __version__, environment, output
from autofix.diagnose import (
    LogUnreadable,
    diagnose_text,
    diagnosis_json,
    read_log,
    render_match,
    render_no_match,
)
from autofix.engine import RunReport, run
from autofix.filekind import ConfigPatterns
from autofix.files import display_path
from autofix.registry import (
    UnknownFixError,
    all_transforms,
    crash_fixes,
    default_rules,
    resolve_fix_ids,
    rule_options,
)
from autofix.rule import Rule
from autofix.settings import ProjectSettings, load_project_settings

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


def _prepare(
    paths: list[Path] | None, fix: list[str], rule_values: Mapping[str, Any], select_by_default: bool, python: str | None
) -> tuple[list[Path], list[Rule], dict[str, Any], ProjectSettings]:
    """The paths, rules and rule options of a run, from the command line over pyproject.toml; the
    training environment packages are looked up in."""
    try:
        environment.use(environment.find_training_environment(python, os.environ))
        project = load_project_settings(Path.cwd(), rule_options())
        fix_ids = fix or list(project.fix)
        try:
            rules = resolve_fix_ids(fix_ids) if fix_ids or not select_by_default else default_rules()
        except UnknownFixError as exc:
            raise UnknownFixError(f"{project.source} [tool.autofix] fix: {exc}" if not fix and project.fix else str(exc)) from None
        options = {**project.options, **_given_options(rule_values)}
        paths = [*(paths or []), *(path for rule in rules for path in rule.extra_paths(options))]
    except (UnknownFixError, ValueError) as exc:
        raise _fail(str(exc)) from None
    if not paths:
        raise _fail("no PATH given")
    return paths, rules, options, project


def _run(
    paths: list[Path],
    rules: list[Rule],
    options: Mapping[str, Any],
    project: ProjectSettings,
    exclude: list[str],
    jobs: int | None,
    err: Console,
    **engine: Any,
) -> RunReport:
    """The engine over ``paths``, with the command line's settings over the project's and a progress bar."""
    configs = ConfigPatterns(project.configs, project.source.parent) if project.source and project.configs else None
    progress = output.ProgressBar(err)
    try:
        return run(
            paths, rules, options, jobs=jobs or project.jobs or _usable_cores(), exclude=exclude or project.exclude,
            progress=progress, configs=configs, **engine,
        )
    finally:
        progress.close()


def _given_options(rule_values: Mapping[str, Any]) -> dict[str, Any]:
    """The rule options given on the command line, parsed (ValueError names the flag)."""
    given = {}
    for options in rule_options().values():
        for option in options:
            value = rule_values.get(option.key)
            if value is None or value is False:
                continue
            try:
                given[option.key] = value if option.flag else option.parse(value)
            except ValueError as exc:
                raise ValueError(f"--{option.name} {exc}") from None
    return given


def _rule_option_parameters() -> list[inspect.Parameter]:
    """A command-line flag for every option a rule declares (so this module names none of them)."""
    parameters = []
    for rule_id, options in rule_options().items():
        for option in options:
            help_text = f"{rule_id}: {option.help}" + ("" if option.default is None else f" (default: {option.default})")
            if option.flag:
                annotation: Any = Annotated[bool, typer.Option(f"--{option.name}", help=help_text)]
                default: Any = False
            else:
                annotation = Annotated[Optional[str], typer.Option(f"--{option.name}", metavar=option.metavar, help=help_text)]
                default = None
            parameters.append(inspect.Parameter(option.key, inspect.Parameter.KEYWORD_ONLY, default=default,
                                                annotation=annotation))
    return parameters


def _takes_rule_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give a command that takes ``**rule_values`` one flag per rule option (typer reads ``__signature__``)."""
    signature = inspect.signature(command, eval_str=True)
    own = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    command.__signature__ = signature.replace(parameters=[*own, *_rule_option_parameters()])  # type: ignore[attr-defined]
    return command


class OutputFormat(str, enum.Enum):
    text = "text"
    json = "json"


PythonOption = Annotated[
    Optional[str],
    typer.Option("--python", metavar="PATH", help="The Python you train with (or its env folder): mmdet::/mmcv... are "
                 "looked up there (default: the active virtualenv, else the conda env; then autofix's own)."),
]
StrictOption = Annotated[
    bool,
    typer.Option("--strict", help="A config found in a folder that mmengine cannot load is an error (exit 2), "
                 "not a warning (default: `strict` in pyproject.toml)."),
]


@app.command()
@_takes_rule_options
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
    python: PythonOption = None,
    strict: StrictOption = False,
    **rule_values: Any,
) -> None:
    """Rewrite files so the selected crashes cannot happen; print a unified diff per changed file."""
    paths, transforms, options, project = _prepare(paths, fix, rule_values, select_by_default=False, python=python)
    strict = strict or project.strict
    out, err = _consoles(no_color)
    write = not (dry_run or diff_only)
    with _orderly_stop():
        report = _run(paths, transforms, options, project, exclude, jobs, err, write=write, verify=verify)
        if output_format is OutputFormat.json:
            sys.stdout.write(output.json_report(report, transforms, options, dry_run, write))
            sys.stdout.flush()
            output.print_problems(report, err, strict)
        else:
            output.print_diffs(report, out, err, strict)
        if diff_file is not None:
            try:
                diff_file.write_text("".join(r.diff for r in report.results if r.status == "changed"), encoding="utf-8")
            except OSError as exc:
                raise _fail(f"--diff-file {diff_file}: cannot write: {exc.strerror}") from None
        output.print_summary(report, transforms, options, dry_run or diff_only, err)
    if report.count("error") or (strict and report.count("unresolvable")):
        raise typer.Exit(EXIT_ERROR)
    if dry_run and report.count("changed"):
        raise typer.Exit(EXIT_PENDING)


def _usable_cores() -> int:
    """The cores this process may run on (a container's or taskset's limit, where the OS tells)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


@app.command("list")
def list_fixes(
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="text (one line per id), or one JSON document.")
    ] = OutputFormat.text,
) -> None:
    """Every crash fix and rule: one line each with its summary and fix safety."""
    from autofix.docs import list_json, list_lines  # the pages' renderer: only list and explain pay its import

    if output_format is OutputFormat.json:
        sys.stdout.write(json.dumps(list_json(), indent=2) + "\n")
    else:
        print("\n".join(list_lines()))


@app.command()
def explain(fix_id: Annotated[str, typer.Argument(metavar="ID", help="A rule or crash-fix id.")]) -> None:
    """A rule's or crash fix's page: what it does, why, its fix safety, options and examples."""
    from rich.markdown import Markdown  # only explain renders Markdown: apply and check skip its import

    from autofix.docs import page

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
    python: PythonOption = None,
) -> None:
    """Recognise a known crash in a log: what happened, the remedies and their costs, the command to run.

    Exit 0 when a known crash matched, 1 when nothing known did, 2 when the input cannot be read
    (or the remedy cannot be applied to CFG).
    """
    if apply_fix and config is None:
        raise _fail("--apply needs --config CFG (the config to fix)")
    try:
        environment.use(environment.find_training_environment(python, os.environ))
    except ValueError as exc:
        raise _fail(str(exc)) from None
    try:
        text, log_name = read_log(log)
    except LogUnreadable as exc:
        raise _fail(str(exc)) from None
    diagnosis = diagnose_text(text)
    shown_config = None if config is None else display_path(config)
    report = None
    # A crash fixed in a library (--mmcv, --mmengine) has nothing to change in the config.
    config_crashes = [match.crash.id for match in diagnosis.matches if not match.crash.fixed_in_a_library]
    if config_crashes and config is not None:
        try:
            transforms = resolve_fix_ids(config_crashes)
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
            output.print_diffs(report, out, err)
            output.print_summary(report, transforms, {}, not apply_fix, err)
    else:
        out.print(render_no_match(diagnosis, log_name), end="")
    if report is not None and report.count("error"):
        raise typer.Exit(EXIT_ERROR)
    if not diagnosis.matches:
        raise typer.Exit(EXIT_PENDING)


@app.command()
@_takes_rule_options
def check(
    paths: Annotated[
        Optional[list[Path]],
        typer.Argument(metavar="PATH", help="Configs, model files or folders (searched recursively for *.py)."),
    ] = None,
    fix: Annotated[
        list[str],
        typer.Option("--fix", "-f", help="Rule or crash-fix ids to check; comma-separated or repeated "
                     "(default: `fix` in pyproject.toml, else every rule that is not opt-in)."),
    ] = [],  # noqa: B006 (typer reads the default, never mutates it)
    exclude: Annotated[
        list[str],
        typer.Option("--exclude", metavar="GLOB", help="Skip paths matching this gitignore-style pattern (repeatable)."),
    ] = [],  # noqa: B006
    jobs: Annotated[Optional[int], typer.Option("--jobs", "-j", min=1, help="Worker processes (default: the cores).")] = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="text (one finding a line), or one JSON document.")
    ] = OutputFormat.text,
    no_color: Annotated[bool, typer.Option("--no-color", help="Plain output even on a terminal.")] = False,
    python: PythonOption = None,
    strict: StrictOption = False,
    **rule_values: Any,
) -> None:
    """Report what the selected rules would fix, without writing: the files `apply --dry-run` would change.

    Exit 1 when something is found, 0 when clean, 2 on errors.
    """
    paths, rules, options, project = _prepare(paths, fix, rule_values, select_by_default=True, python=python)
    strict = strict or project.strict
    out, err = _consoles(no_color)
    with _orderly_stop():
        report = _run(paths, rules, options, project, exclude, jobs, err, write=False, report_findings=True)
    errors = [r for r in report.results if r.status == "error"]
    unresolvable = [r for r in report.results if r.status == "unresolvable"]
    found = [(r.shown, f) for r in report.results for f in r.findings]
    if output_format is OutputFormat.json:
        document = {
            "findings": [output.finding_json(shown, f) for shown, f in found],
            "errors": [{"path": r.shown, "error": r.error} for r in errors],
            "unresolvable": [{"path": r.shown, "reason": r.error} for r in unresolvable],
            "files_checked": len(report.results) - len(errors) - len(unresolvable),
        }
        sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        output.print_problems(report, err, strict)
    else:
        for shown, reported in found:
            out.print(output.finding_line(shown, reported), markup=False)
        sys.stdout.flush()  # findings before the summary when both streams go to one terminal or file
        output.print_problems(report, err, strict)
        err.print(output.check_summary(report, len(found), len(errors), len(unresolvable)), markup=False)
    if errors or (strict and unresolvable):
        raise typer.Exit(EXIT_ERROR)
    if found:
        raise typer.Exit(EXIT_PENDING)


