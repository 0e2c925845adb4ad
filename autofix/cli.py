"""The ``autofix`` command line. Exit codes: 0 done or nothing to do, 1 changes pending (--dry-run), 2 error."""

from __future__ import annotations

import contextlib
import enum
import inspect
import os
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError  # typer vendors click
from typer.core import TyperCommand, TyperGroup

from autofix import __version__, index

if TYPE_CHECKING:
    from rich.console import Console

    from autofix.cache import Recording
    from autofix.engine import RunReport
    from autofix.rule import Rule
    from autofix.settings import ProjectSettings

# Start-up is the command line's cost on every pre-commit hook and editor save: this module imports only typer
# and the catalogue's index, and each command imports what it runs (the engine, libcst, mmengine, rich) itself.

EXIT_CLEAN, EXIT_PENDING, EXIT_ERROR = 0, 1, 2


def _fail(message: str) -> typer.Exit:
    print(f"autofix: error: {message}", file=sys.stderr)
    return typer.Exit(EXIT_ERROR)


class _PlainValues:
    """Turns a parameter's command-line text into its value. typer 0.2x checks every value with pydantic,
    whose import alone costs more than starting typer; autofix's parameters are text, paths, a whole
    number, a choice, flags and lists of them, which need no more than this."""

    def __init__(self, convert: Callable[[Any], Any]) -> None:
        self.convert = convert

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        if value is None:
            return () if param.multiple or param.nargs == -1 else None
        try:
            if isinstance(value, (list, tuple)):
                return [self.convert(item) for item in value]
            return self.convert(value)
        except ValueError as exc:
            raise UsageError(f"{max(param.opts, key=len)} {exc}", ctx) from None


def _converter(param: Any) -> Callable[[Any], Any]:
    """How a parameter's text becomes its value: its declared ``parser``, else by its annotation."""
    descriptor = param.type_descriptor
    if descriptor.parameter_info.parser is not None:
        return descriptor.parameter_info.parser
    annotation = descriptor.annotation
    if descriptor.is_list:
        (annotation,) = descriptor.annotation.__args__
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return _choice(annotation)
    if annotation in (str, Path, bool):
        return annotation
    raise TypeError(f"{param.name}: no plain conversion for {annotation!r}")


def _choice(kind: type[enum.Enum]) -> Callable[[Any], enum.Enum]:
    def convert(value: Any) -> enum.Enum:
        try:
            return kind(value)
        except ValueError:
            names = [member.value for member in kind]
            raise ValueError(f"must be {', '.join(names[:-1])} or {names[-1]} (got {value!r})") from None

    return convert


def _whole_number_of_workers(value: str) -> int:
    from autofix.rule import positive_int  # apply and check import the rules anyway

    return positive_int(value)


def _plain_params(params: list[Any]) -> list[Any]:
    # typer builds a parameter's conversion on first use unless one is set; a typer without this hook converts
    # with its own (slower) machinery, to the same values.
    for param in params:
        if getattr(param, "_runtime_param", False) is None and hasattr(param, "type_descriptor"):
            param._runtime_param = _PlainValues(_converter(param))
    return params


class _Command(TyperCommand):
    """A command whose values are converted plainly and whose help shows metavars, not Python types."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_params(super().get_params(ctx))

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar]
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                pieces.append(_argument_name(param) if param.required else f"[{_argument_name(param)}]")
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        arguments, options = [], []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                arguments.append((_argument_name(param), param.help or ""))
            elif (record := param.get_help_record(ctx)) is not None:
                options.append(record)
        for heading, rows in (("Arguments", arguments), ("Options", options)):
            if rows:
                with formatter.section(heading):
                    formatter.write_dl(rows)


def _argument_name(param: Any) -> str:
    return param.metavar + ("..." if param.nargs == -1 else "")


class _Group(TyperGroup):
    """The ``autofix`` command: every error, click's usage errors included, is one ``autofix: error:`` line."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_params(super().get_params(ctx))

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name or "autofix", complete_var, standalone_mode=False, **extra)
        except NoArgsIsHelpError as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except ClickException as exc:
            print(f"autofix: error: {_usage_error(exc)}", file=sys.stderr)
            sys.exit(EXIT_ERROR)
        except typer.Abort:
            print("autofix: error: aborted", file=sys.stderr)
            sys.exit(EXIT_ERROR)
        sys.exit(code if isinstance(code, int) else EXIT_CLEAN)


def _usage_error(exc: ClickException) -> str:
    """click's message in autofix's words: lower case, no closing full stop, and the help to read."""
    message = exc.format_message().rstrip(".").replace(". Did you mean", "; did you mean")
    message = message[:1].lower() + message[1:]
    context = getattr(exc, "ctx", None)
    return f"{message} (see `{context.command_path} --help`)" if context is not None else message


app = typer.Typer(
    cls=_Group,
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,  # click's plain help: rich's panels cost more to import than typer itself
    help="Fix known OpenMMLab training crashes by rewriting the files that cause them.",
)


def _consoles(no_color: bool) -> tuple[Console, Console]:
    from rich.console import Console

    colour = not no_color and "NO_COLOR" not in os.environ
    out = Console(highlight=False, soft_wrap=True, no_color=not colour)
    err = Console(stderr=True, highlight=False, soft_wrap=True, no_color=not colour)
    return out, err


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
        print(message, file=sys.stderr)
        raise typer.Exit(128 + signum) from None
    finally:
        if install:
            signal.signal(signal.SIGTERM, previous)


def _prepare(
    paths: list[Path] | None, fix: list[str], rule_values: Mapping[str, Any], select_by_default: bool, python: str | None
) -> tuple[list[Path], list[Rule], dict[str, Any], ProjectSettings]:
    """The paths, rules and rule options of a run, from the command line over pyproject.toml; the
    training environment packages are looked up in."""
    from autofix import environment
    from autofix.registry import RULE_OPTIONS_WHEN_READ, UnknownFixError, default_rules, resolve_fix_ids
    from autofix.settings import load_project_settings

    try:
        environment.use(environment.find_training_environment(python, os.environ))
        project = load_project_settings(Path.cwd(), RULE_OPTIONS_WHEN_READ)
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
    recording: Recording | None,
    **engine: Any,
) -> RunReport:
    """The engine over ``paths``, with the command line's settings over the project's and a progress bar; what
    it did told to the result cache's ``recording``."""
    from autofix import output
    from autofix.engine import run
    from autofix.filekind import ConfigPatterns

    configs = ConfigPatterns(project.configs, project.source.parent) if project.source and project.configs else None
    progress = output.ProgressBar(err)
    try:
        report = run(
            paths, rules, options, jobs=jobs or project.jobs or _usable_cores(), exclude=exclude or project.exclude,
            progress=progress, configs=configs, **engine,
        )
    finally:
        progress.close()
    if recording is not None:
        recording.ran([r.shown for r in report.results], any(r.written for r in report.results), progress.bar is not None)
    return report


@contextlib.contextmanager
def _result_cache(
    command: str, settings: Mapping[str, Any], paths: list[Path] | None, exclude: list[str], python: str | None,
    no_cache: bool,
) -> Iterator[Recording | None]:
    """Replay an identical earlier run (exit with its code), or record this one for the next: see autofix.cache.
    Yields the recording that ``_run`` tells what the run did; None when the run is not cached."""
    from autofix import cache

    run = cache.look_up(command, settings, paths, exclude, python) if paths and cache.enabled(no_cache) else None
    if run is None:
        yield None
        return
    entry = run.stored()
    if entry is not None:
        raise typer.Exit(cache.replay(entry))
    recording = run.record()
    try:
        yield recording
    except typer.Exit as exc:
        recording.finish(exc.exit_code)
        raise
    except BaseException:
        recording.finish(None)
        raise
    recording.finish(EXIT_CLEAN)


def _given_options(rule_values: Mapping[str, Any]) -> dict[str, Any]:
    """The rule options given on the command line, parsed (ValueError names the flag)."""
    from autofix.registry import rule_class

    given = {}
    for spec in index.option_specs():
        key = spec["name"].replace("-", "_")
        value = rule_values.get(key)
        if value is None or value is False:
            continue
        option = next(option for option in rule_class(spec["rule"]).options if option.key == key)
        try:
            given[option.key] = value if option.flag else option.parse(value)
        except ValueError as exc:
            raise ValueError(f"--{option.name} {exc}") from None
    return given


def _rule_option_parameters() -> list[inspect.Parameter]:
    """A command-line flag for every option a rule declares (so this module names none of them), from the
    catalogue's index: the rules themselves are imported only by a run."""
    parameters = []
    for option in index.option_specs():
        default_text = "" if option["default"] is None else f" (default: {index.option_value(option['default'])})"
        help_text = f"{option['rule']}: {option['help']}{default_text}"
        if option["flag"]:
            annotation: Any = Annotated[bool, typer.Option(f"--{option['name']}", help=help_text)]
            default: Any = False
        else:
            metavar = option["metavar"] or "VALUE"
            annotation = Annotated[Optional[str], typer.Option(f"--{option['name']}", metavar=metavar, help=help_text)]
            default = None
        parameters.append(inspect.Parameter(option["name"].replace("-", "_"), inspect.Parameter.KEYWORD_ONLY,
                                            default=default, annotation=annotation))
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


def _ids_epilog() -> str:
    """The ids ``--fix`` takes, wrapped between ids (click's wrapping would break them at their hyphens)."""
    import textwrap

    lines = []
    for heading, entries in (("Crash fixes", index.CRASH_FIXES), ("Rules", index.RULES)):
        ids = ", ".join(entry["id"] for entry in entries)
        wrapped = textwrap.wrap(ids, 74, initial_indent="  ", subsequent_indent="  ", break_on_hyphens=False)
        lines += [f"{heading}:", *wrapped]
    return "\b\n" + "\n".join(lines) + "\n\n`autofix list` says what each does, `autofix explain ID` shows its page."


# The options `apply` shares with the commands that run like it (check, migrate).
PathsArgument = Annotated[
    Optional[list[Path]],
    typer.Argument(metavar="PATH", help="Configs, model files or folders (searched recursively for *.py)."),
]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Show the diff, write nothing; exit 1 if changes are pending.")
]
DiffOption = Annotated[bool, typer.Option("--diff", help="Show the diff, write nothing; exit 0 (like black --diff).")]
NoColorOption = Annotated[bool, typer.Option("--no-color", help="Plain output even on a terminal.")]
VerifyOption = Annotated[
    bool,
    typer.Option("--verify", help="Resolve each changed config with mmengine before and after; refuse (exit 2) "
                 "a fix that changes more than intended or does not take effect."),
]
ExcludeOption = Annotated[
    list[str],
    typer.Option("--exclude", metavar="GLOB", help="Skip paths matching this gitignore-style pattern, relative "
                 "to the folder given (repeatable; replaces `exclude` in pyproject.toml)."),
]
JobsOption = Annotated[
    Optional[int],
    typer.Option("--jobs", "-j", metavar="N", parser=_whole_number_of_workers,
                 help="Worker processes (default: the machine's cores); output is the same for any N."),
]
DiffFileOption = Annotated[
    Optional[Path],
    typer.Option("--diff-file", metavar="PATH", help="Also write every diff to PATH as one patch (git apply / patch -p1)."),
]
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

VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Every note of a changed file, not only its first.")]
NoCacheOption = Annotated[
    bool, typer.Option("--no-cache", help="Run afresh: neither replay nor store a result in .autofix_cache/ "
                       "(also AUTOFIX_NO_CACHE=1).")
]
StatisticsOption = Annotated[
    bool, typer.Option("--statistics", help="Counts per rule (a table; check: instead of the findings), whatever the run's size.")
]


@app.command(cls=_Command, short_help="Rewrite files so the selected crashes cannot happen.", epilog=_ids_epilog())
@_takes_rule_options
def apply(
    paths: PathsArgument = None,
    fix: Annotated[
        list[str],
        typer.Option("--fix", "-f", metavar="ID[,ID...]", help="Crash-fix or rule ids (below), comma-separated or repeated "
                     "(default: `fix` in pyproject.toml [tool.autofix])."),
    ] = [],  # noqa: B006 (typer reads the default, never mutates it)
    dry_run: DryRunOption = False,
    diff_only: DiffOption = False,
    no_color: NoColorOption = False,
    verify: VerifyOption = False,
    exclude: ExcludeOption = [],  # noqa: B006
    jobs: JobsOption = None,
    output_format: Annotated[
        OutputFormat,
        typer.Option("--format", metavar="text|json", help="text: diffs on stdout; json: one JSON document on stdout."),
    ] = OutputFormat.text,
    diff_file: DiffFileOption = None,
    python: PythonOption = None,
    strict: StrictOption = False,
    statistics: StatisticsOption = False,
    verbose: VerboseOption = False,
    no_cache: NoCacheOption = False,
    **rule_values: Any,
) -> None:
    """Rewrite files so the selected crashes cannot happen; print a unified diff per changed file."""
    _apply("apply", paths, fix, rule_values, dry_run, diff_only, no_color, verify, exclude, jobs, output_format, diff_file,
           python, strict, statistics, verbose, no_cache)


@app.command(cls=_Command, short_help="Rewrite mmdetection 2.x configs to the 3.x form.")
def migrate(
    paths: PathsArgument = None,
    dry_run: DryRunOption = False,
    diff_only: DiffOption = False,
    no_color: NoColorOption = False,
    verify: VerifyOption = False,
    exclude: ExcludeOption = [],  # noqa: B006 (typer reads the default, never mutates it)
    jobs: JobsOption = None,
    output_format: Annotated[
        OutputFormat,
        typer.Option("--format", metavar="text|json", help="text: diffs on stdout; json: one JSON document on stdout "
                     "(each file's `refused` names what has no exact 3.x form)."),
    ] = OutputFormat.text,
    diff_file: DiffFileOption = None,
    python: PythonOption = None,
    strict: StrictOption = False,
    statistics: StatisticsOption = False,
    verbose: VerboseOption = False,
    no_cache: NoCacheOption = False,
) -> None:
    """Rewrite mmdetection 2.x configs (mmcv 1.x era) to the 3.x (mmengine) form, bases first; print a unified
    diff per changed file. The same as `autofix apply --fix migrate-2to3`: what has no exact 3.x form is left as
    written and named in the file's notes."""
    _apply("migrate", paths, ["migrate-2to3"], {}, dry_run, diff_only, no_color, verify, exclude, jobs, output_format,
           diff_file, python, strict, statistics, verbose, no_cache)


def _apply(
    command: str,
    paths: list[Path] | None,
    fix: list[str],
    rule_values: Mapping[str, Any],
    dry_run: bool,
    diff_only: bool,
    no_color: bool,
    verify: bool,
    exclude: list[str],
    jobs: int | None,
    output_format: OutputFormat,
    diff_file: Path | None,
    python: str | None,
    strict: bool,
    statistics: bool,
    verbose: bool,
    no_cache: bool,
) -> None:
    """What apply and migrate do: run the engine, print diffs (or JSON) and the summary, exit 0/1/2."""
    settings = {"fix": fix, "options": dict(rule_values), "dry_run": dry_run, "diff": diff_only, "no_color": no_color,
                "verify": verify, "exclude": exclude, "format": output_format.value, "strict": strict,
                "statistics": statistics, "verbose": verbose}
    # --diff-file writes a file, which a replay would not
    with _result_cache(command, settings, paths, exclude, python, no_cache or diff_file is not None) as recording:
        from autofix import output

        paths, transforms, options, project = _prepare(paths, fix, rule_values, select_by_default=False, python=python)
        strict = strict or project.strict
        out, err = _consoles(no_color)
        write = not (dry_run or diff_only)
        with _orderly_stop():
            report = _run(paths, transforms, options, project, exclude, jobs, err, recording, write=write, verify=verify)
            if output_format is OutputFormat.json:
                sys.stdout.write(output.json_report(report, transforms, options, dry_run, write))
                sys.stdout.flush()
                output.print_problems(report, err, strict)
            else:
                output.print_diffs(report, out, err, strict, verbose)
            if diff_file is not None:
                try:
                    diff_file.write_text("".join(r.diff for r in report.results if r.status == "changed"), encoding="utf-8")
                except OSError as exc:
                    raise _fail(f"--diff-file {diff_file}: cannot write: {exc.strerror}") from None
            output.warn_if_empty(report, paths, err)
            output.print_summary(report, transforms, options, dry_run or diff_only, err, statistics)
        if report.count("error") or (strict and report.count("unresolvable")):
            raise typer.Exit(EXIT_ERROR)
        if dry_run and report.count("changed"):
            raise typer.Exit(EXIT_PENDING)


def _usable_cores() -> int:
    """The cores this process may run on (a container's or taskset's limit, where the OS tells)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


@app.command("list", cls=_Command, short_help="One line per crash fix and rule, with its fix safety.")
def list_fixes(
    output_format: Annotated[
        OutputFormat, typer.Option("--format", metavar="text|json", help="text (one line per id), or one JSON document.")
    ] = OutputFormat.text,
) -> None:
    """Every crash fix and rule: one line each with its summary and fix safety."""
    if output_format is OutputFormat.json:
        import json

        sys.stdout.write(json.dumps(index.LIST, indent=2) + "\n")
    else:
        print("\n".join(index.list_lines(min(shutil.get_terminal_size().columns, index.LIST_WIDTH))))


@app.command(cls=_Command, short_help="A crash fix's or rule's page.")
def explain(fix_id: Annotated[str, typer.Argument(metavar="ID", help="A rule or crash-fix id.")]) -> None:
    """A rule's or crash fix's page: what it does, why, its fix safety, options and examples."""
    markdown = index.page(fix_id)
    if markdown is None:
        raise _fail(index.unknown_fix_id(fix_id))
    from rich.console import Console
    from rich.markdown import Markdown  # only explain renders Markdown: apply and check skip its import

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
    version: Annotated[
        Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = None,
) -> None:
    """autofix: fix known OpenMMLab training crashes; every change is shown as a unified diff."""


def main() -> None:
    app()


# --- from a crash log to the fix, and risks before training ---------------------------------------


@app.command(cls=_Command, short_help="Recognise a known crash in a training log and name its fix.")
def diagnose(
    log: Annotated[
        Optional[str], typer.Argument(metavar="LOG", help="A training log or pasted traceback; - or none: standard input.")
    ] = None,
    config: Annotated[
        Optional[Path], typer.Option("--config", metavar="CFG", help="Show the default remedy's diff for this config (dry run).")
    ] = None,
    apply_fix: Annotated[bool, typer.Option("--apply", help="With --config: write the default remedy instead of showing it.")] = False,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", metavar="text|json", help="text, or one JSON document.")
    ] = OutputFormat.text,
    no_color: NoColorOption = False,
    python: PythonOption = None,
) -> None:
    """Recognise a known crash in a log: what happened, the remedies and their costs, the command to run.

    Exit 0 when a known crash matched, 1 when nothing known did, 2 when the input cannot be read
    (or the remedy cannot be applied to CFG).
    """
    import json

    from autofix import environment, output
    from autofix.diagnose import (
        LogUnreadable,
        config_named_in_log,
        diagnose_text,
        diagnosis_json,
        read_log,
        render_match,
        render_no_match,
    )
    from autofix.engine import run
    from autofix.files import display_path
    from autofix.registry import UnknownFixError, resolve_fix_ids

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
    named = config_named_in_log(text) if config is None else None  # for the commands it prints
    out, err = _consoles(no_color)
    if output_format is OutputFormat.json:
        document = diagnosis_json(diagnosis, log_name, shown_config or named, report, applied=apply_fix,
                                  named_in_log=named is not None)
        sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    elif diagnosis.matches:
        for index, match in enumerate(diagnosis.matches):
            out.print(("\n" if index else "") + "Recognised ", end="")
            out.print(render_match(match, log_name, shown_config or named, named_in_log=named is not None), end="")
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


@app.command(cls=_Command, short_help="Report what the selected rules would fix; write nothing.", epilog=_ids_epilog())
@_takes_rule_options
def check(
    paths: PathsArgument = None,
    fix: Annotated[
        list[str],
        typer.Option("--fix", "-f", metavar="ID[,ID...]", help="Crash-fix or rule ids (below) to check, comma-separated or "
                     "repeated (default: `fix` in pyproject.toml, else every rule that is not opt-in)."),
    ] = [],  # noqa: B006 (typer reads the default, never mutates it)
    exclude: ExcludeOption = [],  # noqa: B006
    jobs: JobsOption = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", metavar="text|json", help="text (one finding a line), or one JSON document.")
    ] = OutputFormat.text,
    no_color: NoColorOption = False,
    python: PythonOption = None,
    strict: StrictOption = False,
    statistics: StatisticsOption = False,
    no_cache: NoCacheOption = False,
    **rule_values: Any,
) -> None:
    """Report what the selected rules would fix, without writing: the files `apply --dry-run` would change.

    Exit 1 when something is found, 0 when clean, 2 on errors.
    """
    settings = {"fix": fix, "options": dict(rule_values), "exclude": exclude, "format": output_format.value,
                "no_color": no_color, "strict": strict, "statistics": statistics}
    with _result_cache("check", settings, paths, exclude, python, no_cache) as recording:
        import json

        from autofix import output

        paths, rules, options, project = _prepare(paths, fix, rule_values, select_by_default=True, python=python)
        strict = strict or project.strict
        out, err = _consoles(no_color)
        with _orderly_stop():
            report = _run(paths, rules, options, project, exclude, jobs, err, recording, write=False,
                          report_findings=True)
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
            if statistics:
                output.print_check_statistics(found, out)
            else:
                output.print_findings(found, out)
            sys.stdout.flush()  # findings before the summary when both streams go to one terminal or file
            output.print_problems(report, err, strict)
            output.warn_if_empty(report, paths, err)
            err.print(output.check_summary(report, len(found), len(errors), len(unresolvable)), markup=False)
        if errors or (strict and unresolvable):
            raise typer.Exit(EXIT_ERROR)
        if found:
            raise typer.Exit(EXIT_PENDING)


