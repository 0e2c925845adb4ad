"""Batch and CI use: excludes, .gitignore, --jobs, --format json, --diff-file, pyproject.toml, the summary."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from spawned_cli import write_spawned_cli
from typer.testing import CliRunner

from autofix.cli import app
from autofix.engine import scheduler
from autofix.output import TABLE_MIN_FILES, ProgressBar

RELU = "import torch.nn as nn\nrelu = nn.ReLU(inplace=True)\n"
BASE = """
model = dict(
    rpn_head=dict(anchor_generator=dict(type='AnchorGenerator', strides=[4, 8, 16, 32, 64])),
    train_cfg=dict(rpn_proposal=dict(nms_pre=2000, nms=dict(type='nms', iou_threshold=0.7))))
"""


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def configs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """configs/ with a _base_ model that needs split-thr, a leaf inheriting it, and model files with ReLUs."""
    root = tmp_path / "configs"
    (root / "_base_").mkdir(parents=True)
    (root / "_base_" / "rpn.py").write_text(BASE)
    (root / "detector").mkdir()
    (root / "detector" / "leaf.py").write_text("_base_ = '../_base_/rpn.py'\noptim_wrapper = dict(type='AmpOptimWrapper')\n")
    for name in ("a", "b", "c"):
        (root / "detector" / f"{name}_model.py").write_text(RELU)
    monkeypatch.chdir(tmp_path)
    return root


def _changed(stdout: str) -> list[str]:
    return [line[len("+++ b/"):] for line in stdout.splitlines() if line.startswith("+++ b/")]


def test_exclude_patterns_are_relative_to_the_folder_given(configs: Path):
    (configs / "detector" / "_base_").mkdir()
    (configs / "detector" / "_base_" / "deep.py").write_text(RELU)
    result = invoke("apply", "--fix", "relu-no-inplace", "--dry-run", "--exclude", "_base_/**", "--exclude", "b_*.py", "configs")
    assert _changed(result.stdout) == [
        "configs/detector/_base_/deep.py",  # `_base_/**` is anchored at configs/, as in .gitignore
        "configs/detector/a_model.py",
        "configs/detector/c_model.py",
    ]


def test_gitignored_hidden_cache_and_venv_folders_are_skipped_but_named_files_are_not(configs: Path):
    subprocess.run(["git", "init", "-q"], check=True)
    Path(".gitignore").write_text("generated/\n*_gen.py\n")
    for folder in ("generated", ".hidden", "__pycache__", "venv"):
        (configs / folder).mkdir()
        (configs / folder / "x.py").write_text(RELU)
    (configs / "venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (configs / "detector" / "model_gen.py").write_text(RELU)
    walked = invoke("apply", "--fix", "relu-no-inplace", "--dry-run", "configs")
    assert _changed(walked.stdout) == [f"configs/detector/{n}_model.py" for n in "abc"]
    named = invoke("apply", "--fix", "relu-no-inplace", "--dry-run", "configs/detector/model_gen.py")
    assert _changed(named.stdout) == ["configs/detector/model_gen.py"]


def test_a_folder_that_is_itself_gitignored_is_processed_when_given(configs: Path):
    subprocess.run(["git", "init", "-q"], check=True)
    Path(".gitignore").write_text("configs/\n")
    result = invoke("apply", "--fix", "relu-no-inplace", "--dry-run", "configs")
    assert len(_changed(result.stdout)) == 3


@pytest.fixture
def any_count_starts_a_pool(monkeypatch: pytest.MonkeyPatch, started_pools: list[int]) -> list[int]:
    """A pool is started for any number of candidate files; returns the sizes of the pools started."""
    monkeypatch.setattr(scheduler, "POOL_MIN_CANDIDATES_FORKED", 2)
    monkeypatch.setattr(scheduler, "POOL_MIN_CANDIDATES_SPAWNED", 2)
    return started_pools


def test_jobs_give_the_same_output_as_one_process_bases_first(configs: Path, any_count_starts_a_pool: list[int]):
    pools = any_count_starts_a_pool
    one = invoke("apply", "--fix", "amp-nms,relu-no-inplace", "--dry-run", "--jobs", "1", "configs")
    assert pools == []
    two = invoke("apply", "--fix", "amp-nms,relu-no-inplace", "--dry-run", "--jobs", "2", "configs")
    assert pools == [2]
    assert (one.exit_code, one.stdout, one.stderr) == (two.exit_code, two.stdout, two.stderr)
    # The leaf inherits the base's fix, made in an earlier level, so it needs no override of its own.
    assert "configs/_base_/rpn.py" in _changed(two.stdout) and "configs/detector/leaf.py" not in _changed(two.stdout)
    [merged] = [line for line in two.stderr.splitlines() if line.startswith("note: configs/_base_/rpn.py: ")]
    assert merged.endswith("; a base of 1 other config in this run: they inherit this change")  # one line a file
    verbose = invoke("apply", "--fix", "amp-nms,relu-no-inplace", "--dry-run", "-v", "configs").stderr
    each = [line for line in verbose.splitlines() if line.startswith("note: configs/_base_/rpn.py: ")]
    assert len(each) == 2 and merged == each[0] + "; " + each[1].removeprefix("note: configs/_base_/rpn.py: ")


def test_jobs_write_the_same_files_as_one_process(
    configs: Path, any_count_starts_a_pool: list[int], monkeypatch: pytest.MonkeyPatch
):
    runs = {}
    for jobs in ("1", "2"):
        copy = configs.parent / f"jobs{jobs}"
        shutil.copytree(configs, copy / "configs")
        monkeypatch.chdir(copy)
        result = invoke("apply", "--fix", "amp-nms,relu-no-inplace", "--jobs", jobs, "--verify", "configs")
        runs[jobs] = (result.exit_code, result.stdout, result.stderr, {
            p.relative_to(copy).as_posix(): p.read_text() for p in sorted(copy.rglob("*.py"))
        })
    assert any_count_starts_a_pool == [2]
    assert runs["1"] == runs["2"]
    assert "split_thr=10001" in runs["2"][3]["configs/_base_/rpn.py"]


def test_the_pool_works_where_worker_processes_are_spawned(configs: Path):
    write_spawned_cli(Path("spawned.py"), "apply", "--fix", "amp-nms,relu-no-inplace", "--dry-run", "configs")
    env = {**os.environ, "NO_COLOR": "1"}
    spawned = subprocess.run([sys.executable, "spawned.py", "--jobs", "2"], capture_output=True, text=True, env=env)
    single = subprocess.run([sys.executable, "spawned.py", "--jobs", "1"], capture_output=True, text=True, env=env)
    assert spawned.returncode == single.returncode == 1, spawned.stderr
    assert "pool of 2" in spawned.stderr and "pool of" not in single.stderr
    assert spawned.stdout == single.stdout and len(_changed(spawned.stdout)) == 4


def test_json_format_is_one_document_with_every_file_and_the_totals(configs: Path):
    text = invoke("apply", "--fix", "amp-nms,relu-no-inplace", "--dry-run", "configs")
    result = invoke("apply", "--fix", "amp-nms,relu-no-inplace", "--dry-run", "--format", "json", "configs")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    files = {f["path"]: f for f in document["files"]}
    assert list(files) == sorted(files)
    base = files["configs/_base_/rpn.py"]
    assert base["status"] == "changed" and base["transforms"] == ["split-thr"]
    assert files["configs/detector/leaf.py"]["status"] == "unchanged"
    assert "".join(f["diff"] for f in document["files"]) == text.stdout
    assert document["totals"]["scanned"] == 5 and document["totals"]["changed"] == 4
    assert document["totals"]["per_transform"]["relu-no-inplace"]["changed"] == 3
    assert document["mode"] == "dry-run"


def test_diff_file_is_a_patch_that_applies_from_the_working_directory(configs: Path):
    result = invoke("apply", "--fix", "amp-nms,relu-no-inplace", "--dry-run", "--diff-file", "fix.patch", "configs")
    patch = Path("fix.patch").read_text()
    assert patch == result.stdout and patch.count("+++ b/configs/") == 4
    copy = Path("copy")
    shutil.copytree("configs", copy / "configs")
    subprocess.run(["patch", "-p1", "-s", "-i", str(Path("fix.patch").resolve())], cwd=copy, check=True)
    subprocess.run(["git", "init", "-q"], check=True)
    subprocess.run(["git", "apply", "fix.patch"], check=True)
    for path in configs.rglob("*.py"):
        assert path.read_text() == (copy / path.relative_to(Path.cwd())).read_text()
    assert "split_thr=10001" in (configs / "_base_" / "rpn.py").read_text()


def test_pyproject_gives_the_defaults_and_the_command_line_wins(configs: Path, monkeypatch: pytest.MonkeyPatch):
    Path("pyproject.toml").write_text(
        "[project]\nname = 'demo'\n\n[tool.autofix]\nfix = ['amp-nms']\nexclude = ['detector/']\nsplit-thr = 20000\njobs = 1\n"
    )
    monkeypatch.chdir(configs)  # found by searching upward
    from_file = invoke("apply", "--dry-run", ".")
    assert from_file.exit_code == 1
    assert _changed(from_file.stdout) == ["_base_/rpn.py"]  # amp-nms only; detector/ excluded
    assert "split_thr=20000" in from_file.stdout
    flags = invoke("apply", "--dry-run", "--fix", "relu-no-inplace", "--exclude", "nothing", ".")
    assert _changed(flags.stdout) == [f"detector/{n}_model.py" for n in "abc"]


@pytest.mark.parametrize(
    ("table", "complaint"),
    [
        ("fix = 'no-such-fix'", "no-such-fix"),
        ("jobs = 'two'", "jobs must be a whole number (got 'two')"),
        ("scale = '1333'", "scale: '1333' is not WIDTHxHEIGHT"),
        ("exclude = '_base_'", "exclude must be a list"),
        ("fixes = ['amp-nms']", "no setting 'fixes'"),
        ("fix = [", "cannot read it as TOML"),
    ],
)
def test_a_bad_pyproject_is_an_error_naming_it(configs: Path, table: str, complaint: str):
    Path("pyproject.toml").write_text(f"[tool.autofix]\n{table}\n")
    result = invoke("apply", "--fix", "relu-no-inplace", "configs") if "fix" not in table else invoke("apply", "configs")
    assert result.exit_code == 2
    assert "pyproject.toml" in result.stderr and complaint in result.stderr
    assert (configs / "detector" / "a_model.py").read_text() == RELU


def test_summary_table_counts_files_per_transform_and_suppressed_changes(configs: Path):
    (configs / "detector" / "a_model.py").write_text("import torch.nn as nn\nrelu = nn.ReLU(inplace=True)  # autofix: skip\n")
    (configs / "broken.py").write_text("nn.ReLU(inplace=True\n")
    result = CliRunner().invoke(app, ["apply", "--fix", "relu-no-inplace", "--dry-run", "--statistics", "configs"],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 2
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]] for line in result.stderr.splitlines() if line.count("│") == 7}
    assert rows["relu-no-inplace"] == ["4", "2", "1", "1", "1"]  # files, changed, unchanged, failed, suppressed
    assert rows["all files (scanned)"] == ["6", "2", "3", "1", "1"]
    assert result.stderr.rstrip().endswith("2 files would change, 3 unchanged, 1 error, 1 suppressed.")


def _has_table(stderr: str) -> bool:
    return "autofix summary" in stderr


def test_a_small_one_rule_run_prints_only_the_one_line_summary(configs: Path):
    result = invoke("apply", "--fix", "relu-no-inplace", "--dry-run", "configs/detector")
    assert result.exit_code == 1 and result.stderr == "3 files would change, 1 unchanged.\n"
    assert _has_table(invoke("apply", "--fix", "relu-no-inplace", "--dry-run", "--statistics", "configs/detector").stderr)


def test_the_table_comes_with_several_rules_changing_files_or_many_files(configs: Path):
    assert _has_table(invoke("apply", "--fix", "amp-nms,relu-no-inplace", "--dry-run", "configs").stderr)
    for number in range(TABLE_MIN_FILES - 5):  # configs/ holds 5 files
        (configs / "detector" / f"clean_{number}.py").write_text("x = 1\n")
    assert not _has_table(invoke("apply", "--fix", "relu-no-inplace", "--dry-run", "configs").stderr)
    (configs / "detector" / "one_more.py").write_text("x = 1\n")
    many = invoke("apply", "--fix", "relu-no-inplace", "--dry-run", "configs")
    assert _has_table(many.stderr) and many.stderr.endswith("3 files would change, 18 unchanged.\n")


def test_check_statistics_counts_findings_per_rule(configs: Path):
    result = invoke("check", "--fix", "amp-nms,relu-no-inplace", "--amp", "--statistics", "configs")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == ["3  relu-no-inplace  in 3 files", "1  split-thr  in 1 file"]


@pytest.mark.parametrize("command", ["apply", "check"])
def test_an_empty_walk_warns_and_exits_0_as_ruff_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not python\n")
    monkeypatch.chdir(tmp_path)
    result = invoke(command, "--fix", "relu-no-inplace", "empty")
    assert result.exit_code == 0
    assert result.stderr.startswith("warning: no Python files found under empty\n")


def test_progress_bar_only_on_a_terminal_outside_ci_and_for_enough_files(monkeypatch: pytest.MonkeyPatch):
    def drawn(terminal: bool, total: int) -> str:
        stream = io.StringIO()
        bar = ProgressBar(Console(file=stream, force_terminal=terminal, width=80))
        for phase in ("planning", "examining"):
            for done in range(1, total + 1):
                bar(phase, done, total)
        bar.close()
        return stream.getvalue()

    monkeypatch.delenv("CI", raising=False)
    shown = drawn(terminal=True, total=30)
    assert "autofix planning" in shown and "autofix examining" in shown and "30/30" in shown
    assert drawn(terminal=False, total=30) == ""
    assert drawn(terminal=True, total=3) == ""
    monkeypatch.setenv("CI", "true")
    assert drawn(terminal=True, total=30) == ""


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_the_engine_tells_each_file_as_it_finishes_within_a_level(
    configs: Path, any_count_starts_a_pool: list[int], monkeypatch: pytest.MonkeyPatch, jobs: str
):
    for number in range(6):
        (configs / "detector" / f"more_{number}_model.py").write_text(RELU)
    told: list[tuple[str, int, int]] = []
    monkeypatch.setattr("autofix.output.ProgressBar.__call__", lambda self, *call: told.append(call))
    invoke("apply", "--fix", "amp-nms,relu-no-inplace", "--jobs", jobs, "configs")
    phases = [phase for phase, _, _ in told]
    assert phases.index("planning") < phases.index("examining") < phases.index("writing")
    assert {total for _, _, total in told} == {11}
    examined = [done for phase, done, _ in told if phase == "examining"]
    assert examined == sorted(examined) and examined[-1] == 11
    if jobs == "1":  # one call per file examined: the 9 model files and the base share the first level
        assert len(examined) >= 10


UNLOADABLE = {  # a config in the walk that mmengine cannot load -> a part of the reason it gives
    "configs/detector/missing_base.py": ("_base_ = '../_base_/nowhere.py'\n", "FileNotFoundError"),
    "configs/detector/other_package.py": ("_base_ = 'mmpretrain::resnet/resnet50_8xb32_in1k.py'\n",
                                          "mmpretrain is not installed in autofix's environment"),
}


@pytest.fixture
def unloadable(configs: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """configs/ plus two configs mmengine cannot load, with no training environment active."""
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    monkeypatch.delenv("CONDA_PREFIX", raising=False)
    for path, (text, _) in UNLOADABLE.items():
        Path(path).write_text(text)
    return configs


def test_configs_a_walk_cannot_load_are_warnings_and_pending_fixes_still_exit_1(unloadable: Path):
    result = CliRunner().invoke(app, ["apply", "--fix", "amp-nms", "--dry-run", "--statistics", "configs"],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 1  # the pending fix, not the configs that could not be examined
    assert _changed(result.stdout) == ["configs/_base_/rpn.py"]
    for path, (_, reason) in UNLOADABLE.items():
        assert f"warning: {path}: not examined: " in result.stderr and reason in result.stderr
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]] for line in result.stderr.splitlines()
            if line.count("│") == 8}
    assert rows["split-thr"] == ["4", "1", "1", "0", "2", "0"]  # files, changed, unchanged, failed, unresolvable, suppressed
    assert result.stderr.rstrip().endswith("1 file would change, 4 unchanged, 2 unresolvable.")
    assert invoke("apply", "--fix", "amp-nms", "configs").exit_code == 0  # written: done


def test_strict_makes_them_errors_from_the_command_line_or_pyproject(unloadable: Path):
    strict = invoke("apply", "--fix", "amp-nms", "--dry-run", "--strict", "configs")
    assert strict.exit_code == 2
    assert "error: configs/detector/missing_base.py: not examined: " in strict.stderr
    Path("pyproject.toml").write_text("[tool.autofix]\nstrict = true\n")
    assert invoke("check", "--fix", "amp-nms", "configs").exit_code == 2
    Path("pyproject.toml").write_text("[tool.autofix]\nstrict = 'yes'\n")
    assert "strict 'yes' is not true or false" in invoke("check", "configs").stderr


def test_a_config_named_on_the_command_line_that_cannot_load_stays_an_error(unloadable: Path):
    result = invoke("apply", "--fix", "amp-nms", "--dry-run", "configs/detector/missing_base.py", "configs/_base_/rpn.py")
    assert result.exit_code == 2
    assert "error: configs/detector/missing_base.py: cannot resolve the config: " in result.stderr


def test_json_counts_unresolvable_configs_with_their_reasons(unloadable: Path):
    document = json.loads(invoke("apply", "--fix", "amp-nms", "--dry-run", "--format", "json", "configs").stdout)
    files = {f["path"]: f for f in document["files"]}
    for path, (_, reason) in UNLOADABLE.items():
        assert files[path]["status"] == "unresolvable" and reason in files[path]["error"]
    assert document["totals"]["unresolvable"] == 2 and document["totals"]["failed"] == 0
    assert document["totals"]["per_transform"]["split-thr"]["unresolvable"] == 2


def test_check_never_says_nothing_found_when_configs_could_not_be_checked(unloadable: Path):
    (unloadable / "_base_" / "rpn.py").write_text(BASE.replace("nms=dict(", "nms=dict(split_thr=100000, "))
    result = invoke("check", "--fix", "amp-nms", "configs")
    assert result.exit_code == 0 and result.stdout == ""
    assert result.stderr.rstrip().endswith(
        "nothing found in the 5 files checked, 2 configs not checked (mmengine cannot load them).")
    document = json.loads(invoke("check", "--fix", "amp-nms", "--format", "json", "configs").stdout)
    assert sorted(entry["path"] for entry in document["unresolvable"]) == sorted(UNLOADABLE)
    assert document["files_checked"] == 5 and document["findings"] == []
