"""Help, errors and start-up: one `autofix: error:` line for every error, help in metavars, and commands
that import only what they run (the figures are benchmarks/startup.py's)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from autofix import index
from autofix.registry import all_transforms, crash_fixes

ROOT = Path(__file__).resolve().parent.parent


def autofix(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """The command line in its own process, as a terminal or pipe sees it (click's own error display included)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "80"}
    return subprocess.run([sys.executable, "-m", "autofix", *args], cwd=cwd, env=env, capture_output=True, text=True)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["apply", "--bogus"], "no such option: --bogus"),
        (["explain"], "missing argument 'ID'"),
        (["apply", "--format", "xml", "x.py"], "--format must be text or json (got 'xml')"),
        (["aply"], "no such command 'aply'; did you mean 'apply'?"),
        (["apply", "--jobs", "0", "x.py"], "--jobs must be at least 1 (got 0)"),
        (["check", "-j", "two", "x.py"], "--jobs must be a whole number (got 'two')"),
        (["list", "extra"], "got unexpected extra argument"),
        (["apply", "--fix", "amp-nm", "x.py"], "unknown fix id 'amp-nm'; did you mean `amp-nms`?"),
        (["check", "--fix", "inplace-rleu", "x.py"], "unknown fix id 'inplace-rleu'; did you mean `inplace-relu`?"),
        (["explain", "amp-nm"], "unknown fix id 'amp-nm'; did you mean `amp-nms`?"),
        (["apply", "--fix", "resize-down", "--scale", "1333x0", "x.py"], "--scale '1333x0': the height must be at least 1 (got 0)"),
    ],
)
def test_every_error_is_one_autofix_error_line_and_exit_2(args: list[str], message: str):
    proc = autofix(*args)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [proc.stderr.splitlines()[0]] and proc.stderr.startswith("autofix: error: ")
    assert message in proc.stderr
    assert proc.stdout == "" and "Usage:" not in proc.stderr and "╭" not in proc.stderr and "Input should" not in proc.stderr


def test_a_far_off_fix_id_gets_no_suggestion_but_where_the_ids_are():
    proc = autofix("explain", "zzz")
    assert proc.stderr == "autofix: error: unknown fix id 'zzz' (`autofix list` shows every id)\n"


@pytest.mark.parametrize("command", ["apply", "check", "diagnose", "list", "explain"])
def test_help_shows_metavars_never_python_types(command: str):
    proc = autofix(command, "--help")
    assert proc.returncode == 0 and proc.stdout.startswith(f"Usage: autofix {command} [OPTIONS]")
    for python_type in ("<bool>", "<list[", "<int", "<str>", "<Path>", "<text|json>", "x>=1", "╭"):
        assert python_type not in proc.stdout
    if command in ("apply", "check"):
        assert "-f, --fix ID[,ID...]" in proc.stdout and "-j, --jobs N" in proc.stdout and "PATH..." in proc.stdout
        listed = " ".join(proc.stdout.split())
        assert all(fix_id in listed for fix_id in [*crash_fixes(), *all_transforms()])


def test_the_index_is_up_to_date():
    assert index.INDEX_FILE.read_text(encoding="utf-8") == index.index_text(), (
        "autofix/catalogue_index.json is stale: run `python -m autofix.docs`"
    )


def test_the_index_names_what_the_catalogue_declares():
    assert index.fix_ids() == list(dict.fromkeys([*crash_fixes(), *all_transforms()]))
    declared = [(rule.id, option.name, option.flag) for rule in all_transforms().values() for option in rule.options]
    assert [(o["rule"], o["name"], o["flag"]) for o in index.option_specs()] == declared


# What a command must not import: the engine, the rules, libcst, mmengine, and rich's Markdown outside explain.
HEAVY = ("libcst", "mmengine", "autofix.engine", "autofix.catalogue.", "autofix.registry", "pydantic", "rich.markdown")
IMPORTED = """
import sys
from autofix.cli import main
sys.argv = ["autofix", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print(" ".join(sorted(sys.modules)), file=sys.stderr)
"""


@pytest.mark.parametrize(
    ("args", "allowed"),
    [(["--version"], ()), (["--help"], ()), (["list"], ()), (["list", "--format", "json"], ()),
     (["explain", "amp-nms"], ("rich.markdown",)), (["apply", "--help"], ())],
)
def test_a_command_imports_only_what_it_runs(args: list[str], allowed: tuple[str, ...]):
    stdout, modules = imported(args)
    heavy = [m for m in modules if m.startswith(HEAVY) and not m.startswith(allowed)]
    assert stdout and heavy == []


def test_a_run_imports_the_rules_it_runs_and_no_others(tmp_path: Path):
    (tmp_path / "model.py").write_text("import torch.nn as nn\nrelu = nn.ReLU(inplace=True)\n")
    stdout, modules = imported(["apply", "--dry-run", "--fix", "inplace-relu", str(tmp_path / "model.py")])
    assert "+relu = nn.ReLU()" in stdout
    rules = {m for m in modules if m.startswith("autofix.catalogue.")}
    assert "autofix.catalogue.relu_no_inplace" in rules and "autofix.catalogue.split_thr" not in rules
    assert not any(m.startswith(("mmengine", "pydantic", "rich.markdown")) for m in modules)


def imported(args: list[str]) -> tuple[str, list[str]]:
    """What a command printed, and every module it imported."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", IMPORTED, *args], env=env, capture_output=True, text=True)
    return proc.stdout, proc.stderr.splitlines()[-1].split()
