"""The result cache: a second identical run prints what the first printed and exits as it did, without the
engine; any input of the run that changes makes it run afresh (autofix.cache)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIG = "configs/faster_rcnn_amp_2666x1600.py"
BASE = "configs/_base_/faster-rcnn_r50_fpn.py"
MODEL = "models/bottleneck.py"
# What a run that replays must not import (a fresh run imports them all).
HEAVY = ("libcst", "mmengine", "autofix.engine", "autofix.catalogue.", "autofix.registry", "autofix.rule", "rich")
# Runs the command line and says, on its last line of stderr, whether it ran the engine (libcst, mmengine...).
RUN = f"""
import sys
import autofix
autofix.__version__ = sys.argv.pop(1) or autofix.__version__
from autofix.cli import main
sys.argv = ["autofix", *sys.argv[1:]]
try:
    main()
finally:
    heavy = sorted(m for m in sys.modules if m.startswith({HEAVY!r}))
    print("\\nIMPORTED " + " ".join(heavy), file=sys.stderr)
"""


class Ran:
    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.stderr, _, imported = proc.stderr.rpartition("\nIMPORTED ")
        self.stdout, self.code = proc.stdout, proc.returncode
        self.imported = imported.split()

    @property
    def printed(self) -> tuple[str, str, int]:
        return self.stdout, self.stderr, self.code

    @property
    def afresh(self) -> bool:
        return "libcst" in self.imported


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project (pyproject.toml at its root) holding the README's examples."""
    shutil.copytree(ROOT / "examples", tmp_path, dirs_exist_ok=True)
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'trainer'\n")
    return tmp_path


def autofix(project: Path, *args: str, version: str = "", **env: str) -> Ran:
    """The command line run in ``project`` with the cache on; ``version``: autofix's version, if not its own."""
    environ = {key: value for key, value in os.environ.items() if key != "AUTOFIX_NO_CACHE"}  # conftest sets it
    environ.update(PYTHONPATH=str(ROOT), NO_COLOR="1", **env)
    proc = subprocess.run([sys.executable, "-c", RUN, version, *args], cwd=project, env=environ,
                          capture_output=True, text=True, check=False)
    return Ran(proc)


def entries(project: Path) -> list[Path]:
    return sorted((project / ".autofix_cache").glob("*.json"))


@pytest.mark.parametrize(
    "args",
    [
        ["apply", "--dry-run", "--fix", "amp-nms", CONFIG],
        ["apply", "--diff", "--fix", "inplace-relu", MODEL],
        ["apply", "--dry-run", "--format", "json", "--fix", "amp-nms,inplace-relu", "configs", "models"],
        ["check", "--fix", "amp-nms", CONFIG],
        ["check", "."],
    ],
)
def test_a_second_identical_run_replays_what_the_first_printed_without_the_engine(project: Path, args: list[str]):
    first = autofix(project, *args)
    second = autofix(project, *args)
    assert first.afresh and first.stdout  # something to replay: a diff, a document or findings
    assert second.printed == first.printed
    assert second.imported == []  # no libcst, mmengine, engine or rule
    assert len(entries(project)) == 1
    assert (project / ".autofix_cache" / ".gitignore").read_text().splitlines()[-1] == "*"


def test_the_cache_is_in_the_project_root_whichever_folder_the_run_starts_in(project: Path):
    autofix(project / "configs", "apply", "--dry-run", "--fix", "amp-nms", "faster_rcnn_amp_2666x1600.py")
    assert len(entries(project)) == 1 and not (project / "configs" / ".autofix_cache").exists()


@pytest.mark.parametrize(
    ("edit", "args", "again"),
    [
        ("the file", ["apply", "--dry-run", "--fix", "inplace-relu", MODEL], {}),
        ("a base", ["apply", "--dry-run", "--fix", "amp-nms", CONFIG], {}),
        ("an option", ["apply", "--dry-run", "--fix", "resize-down", "--scale", "2000x1200", CONFIG],
         {"args": ["apply", "--dry-run", "--fix", "resize-down", "--scale", "1333x800", CONFIG]}),
        ("the rule set", ["check", "--fix", "amp-nms", CONFIG], {"args": ["check", "--fix", "amp-nms,amp-off", CONFIG]}),
        ("pyproject.toml", ["check", CONFIG], {}),
        ("the mode", ["apply", "--dry-run", "--fix", "amp-nms", CONFIG],
         {"args": ["apply", "--diff", "--fix", "amp-nms", CONFIG]}),
        ("the autofix version", ["check", "--fix", "amp-nms", CONFIG], {"version": "0.2.0"}),
        ("the training environment", ["check", "--fix", "amp-nms", CONFIG], {"python": sys.executable}),
    ],
)
def test_a_changed_input_runs_afresh(project: Path, edit: str, args: list[str], again: dict):
    assert autofix(project, *args).afresh
    assert not autofix(project, *args).afresh
    if edit == "the file":
        (project / MODEL).write_text((project / MODEL).read_text() + "\nextra = nn.ReLU(inplace=True)\n")
    elif edit == "a base":
        (project / BASE).write_text((project / BASE).read_text() + "\n# edited\n")
    elif edit == "pyproject.toml":
        (project / "pyproject.toml").write_text("[tool.autofix]\nfix = ['amp-nms']\n")
    changed = again.get("args", args) + (["--python", again["python"]] if "python" in again else [])
    assert autofix(project, *changed, version=again.get("version", "")).afresh


@pytest.mark.parametrize(("flag", "env"), [(["--no-cache"], {}), ([], {"AUTOFIX_NO_CACHE": "1"})])
def test_no_cache_and_its_variable_neither_replay_nor_store(project: Path, flag: list[str], env: dict[str, str]):
    args = ["apply", "--dry-run", "--fix", "amp-nms", CONFIG]
    assert autofix(project, *args).afresh
    assert autofix(project, *args, *flag, **env).afresh
    shutil.rmtree(project / ".autofix_cache")
    autofix(project, *args, *flag, **env)
    assert not (project / ".autofix_cache").exists()


def test_a_corrupt_or_unreadable_entry_is_a_miss_and_is_replaced(project: Path):
    args = ["check", "--fix", "amp-nms", CONFIG]
    first = autofix(project, *args)
    garbage_entries = ('{"output": [["stdout", 3]], "exit_code": 0}', '{"output": [], "exit_code": "x"}', "\x00not json",
                       '{"output": [["tty", "x"]], "exit_code": 0}')
    for garbage in garbage_entries:
        (entry,) = entries(project)
        entry.write_text(garbage)
        rerun = autofix(project, *args)
        assert rerun.afresh and rerun.printed == first.printed
    assert autofix(project, *args).printed == first.printed


def test_a_cache_that_cannot_be_written_never_fails_a_run(project: Path):
    (project / ".autofix_cache").write_text("a file where the folder goes")
    args = ["apply", "--dry-run", "--fix", "amp-nms", CONFIG]
    first, second = autofix(project, *args), autofix(project, *args)
    assert first.code == second.code == 1 and second.afresh and second.printed == first.printed


@pytest.mark.parametrize(
    "base",
    ["_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'", "name = 'x.py'\n_base_ = [name]",
     "from mmengine.config import read_base\nwith read_base():\n    from mmdet.configs.retinanet import *"],
)
def test_a_base_only_mmengine_can_find_makes_the_run_uncacheable(project: Path, base: str):
    (project / "configs" / "child.py").write_text(f"{base}\noptim_wrapper = dict(type='AmpOptimWrapper')\n")
    args = ["check", "--fix", "amp-nms", "configs/child.py"]
    assert autofix(project, *args).afresh and autofix(project, *args).afresh
    assert entries(project) == []


def test_a_write_run_stores_only_what_changed_nothing(project: Path):
    args = ["apply", "--fix", "inplace-relu", MODEL]
    changed = autofix(project, *args)
    assert changed.afresh and "1 file changed" in changed.stderr and entries(project) == []
    unchanged = autofix(project, *args)
    assert unchanged.afresh and "0 files changed" in unchanged.stderr
    assert autofix(project, *args).printed == unchanged.printed and not autofix(project, *args).afresh


def test_a_file_added_to_a_folder_runs_afresh(project: Path):
    args = ["check", "--fix", "inplace-relu", "models"]
    assert autofix(project, *args).afresh and not autofix(project, *args).afresh
    shutil.copy(project / MODEL, project / "models" / "copy.py")
    rerun = autofix(project, *args)
    assert rerun.afresh and "models/copy.py" in rerun.stdout


def test_the_cache_keeps_at_most_its_bound(project: Path, monkeypatch: pytest.MonkeyPatch):
    from autofix import cache

    monkeypatch.chdir(project)
    monkeypatch.setattr(cache, "MAX_ENTRIES", 3)
    for number in range(5):
        run = cache.look_up("check", {"number": number}, [project / MODEL], [], None)
        run.store([("stdout", f"{number}\n")], 0)
    kept = sorted(json.loads(path.read_text())["output"][0][1] for path in entries(project))
    assert len(kept) == 3 and "4\n" in kept


def test_a_terminal_gets_its_colours_replayed_and_a_progress_bar_is_never_stored(project: Path):
    from test_terminal import RELU, _in_a_terminal

    cached = {"AUTOFIX_NO_CACHE": "0", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "autofix", "apply", "--dry-run", "--fix", "amp-nms", CONFIG]
    first, second = _in_a_terminal(command, project, cached), _in_a_terminal(command, project, cached)
    assert first[0] == 1 and b"\x1b[" in first[1] and second == first
    assert len(entries(project)) == 1
    for number in range(25):  # enough files for the bar
        (project / "models" / f"model_{number:02d}.py").write_text(RELU)
    code, shown = _in_a_terminal([sys.executable, "-m", "autofix", "check", "--fix", "relu-no-inplace", "models"],
                                 project, cached)
    assert code == 1 and b"autofix examining" in shown
    assert len(entries(project)) == 1
