"""The command-line contract: diffs, exit codes, errors named by file, nothing written on --dry-run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autofix.catalogue.split_thr import SplitThr
from autofix.cli import app
from autofix.diffs import unified_diff
from autofix.rule import FileKind

RELU = "import torch.nn as nn\nrelu = nn.ReLU(inplace=True)\n"
FIXED = "import torch.nn as nn\nrelu = nn.ReLU()\n"


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "a.py").write_text(RELU)
    (tmp_path / "pkg" / "sub" / "b.py").write_text(RELU)
    (tmp_path / "pkg" / "clean.py").write_text("x = 1\n")
    (tmp_path / "pkg" / "notes.txt").write_text(RELU)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def test_dry_run_prints_sorted_git_style_diffs_writes_nothing_and_exits_1(tree: Path):
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in tree.rglob("*.py")}
    result = invoke("apply", "--fix", "inplace-relu", "--dry-run", "pkg")
    assert result.exit_code == 1
    assert result.stdout.index("--- a/pkg/a.py\n+++ b/pkg/a.py\n") < result.stdout.index("--- a/pkg/sub/b.py")
    assert "-relu = nn.ReLU(inplace=True)\n+relu = nn.ReLU()\n" in result.stdout
    assert "2 files would change, 1 unchanged." in result.stderr
    assert before == {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in tree.rglob("*.py")}


def test_apply_writes_changed_files_only_and_exits_0(tree: Path):
    clean = tree / "pkg" / "clean.py"
    clean_mtime = clean.stat().st_mtime_ns
    result = invoke("apply", "--fix", "relu-no-inplace", "pkg")
    assert result.exit_code == 0, result.output
    assert (tree / "pkg" / "a.py").read_text() == FIXED
    assert (tree / "pkg" / "sub" / "b.py").read_text() == FIXED
    assert (tree / "pkg" / "notes.txt").read_text() == RELU
    assert clean.stat().st_mtime_ns == clean_mtime
    assert invoke("apply", "--fix", "relu-no-inplace", "--dry-run", "pkg").exit_code == 0


def test_diff_applies_with_git_apply(tree: Path):
    diff = invoke("apply", "--fix", "inplace-relu", "--dry-run", "pkg").stdout
    subprocess.run(["git", "init", "-q"], check=True)
    subprocess.run(["git", "apply", "-"], input=diff, text=True, check=True)
    assert (tree / "pkg" / "a.py").read_text() == FIXED


def test_output_is_identical_run_to_run(tree: Path):
    first = invoke("apply", "--fix", "inplace-relu", "--dry-run", "pkg", "pkg/sub/b.py")
    second = invoke("apply", "--dry-run", "--fix", "inplace-relu", "pkg/sub/b.py", "pkg")
    assert first.stdout == second.stdout
    assert first.stdout.count("+++ b/pkg/sub/b.py") == 1


def test_unknown_fix_id_exits_2_naming_it(tree: Path):
    result = invoke("apply", "--fix", "relu-no-inplace,no-such-fix", "pkg")
    assert result.exit_code == 2
    assert "no-such-fix" in result.stderr
    assert (tree / "pkg" / "a.py").read_text() == RELU


def test_missing_fix_option_is_an_error(tree: Path):
    result = invoke("apply", "pkg")
    assert result.exit_code == 2
    assert "--fix" in result.stderr


def test_syntax_error_is_reported_by_name_and_other_files_are_still_fixed(tree: Path):
    (tree / "pkg" / "broken.py").write_text("def f(:\n    pass\n")
    (tree / "pkg" / "broken_relu.py").write_text("nn.ReLU(inplace=True\n")
    result = invoke("apply", "--fix", "inplace-relu", "pkg")
    assert result.exit_code == 2
    assert "pkg/broken.py: syntax error at line 1" in result.stderr
    assert "pkg/broken_relu.py: syntax error" in result.stderr
    assert (tree / "pkg" / "a.py").read_text() == FIXED
    assert (tree / "pkg" / "broken_relu.py").read_text() == "nn.ReLU(inplace=True\n"


def test_missing_path_is_an_error_but_others_are_processed(tree: Path):
    result = invoke("apply", "--fix", "inplace-relu", "nowhere.py", "pkg/a.py")
    assert result.exit_code == 2
    assert "nowhere.py: no such file or folder" in result.stderr
    assert (tree / "pkg" / "a.py").read_text() == FIXED


def test_list_shows_every_transform_and_crash_fix():
    result = CliRunner().invoke(app, ["list"], env={"COLUMNS": "250"})
    assert result.exit_code == 0
    for fix_id in ("relu-no-inplace", "inplace-relu", "amp-nms"):
        assert fix_id in result.stdout
    assert result.stdout.index("amp-nms") < result.stdout.index("relu-no-inplace")  # crash fixes first


def test_explain_prints_the_examples():
    result = invoke("explain", "relu-no-inplace")
    assert result.exit_code == 0
    assert "nn.ReLU(inplace=True)" in result.stdout and "ReluBackward" in result.stdout
    assert invoke("explain", "nope").exit_code == 2


def test_console_script_runs_as_a_subprocess(tree: Path):
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "autofix", "apply", "--fix", "inplace-relu", "--dry-run", "pkg/a.py"],
        capture_output=True, text=True, env=env,
    )
    assert proc.returncode == 1
    assert proc.stdout.startswith("--- a/pkg/a.py\n+++ b/pkg/a.py\n@@")
    assert "\x1b[" not in proc.stdout


def test_diff_shows_changes_writes_nothing_and_exits_0(tree: Path):
    result = invoke("apply", "--fix", "inplace-relu", "--diff", "pkg")
    assert result.exit_code == 0
    assert "+relu = nn.ReLU()" in result.stdout
    assert (tree / "pkg" / "a.py").read_text() == RELU


def test_mmcv_option_patches_the_installed_mmcv_found_without_importing_it(tmp_path: Path):
    site = tmp_path / "site"
    (site / "mmcv" / "ops").mkdir(parents=True)
    # Importing this mmcv would fail, as a real one without its CUDA ops can: --mmcv must not import it.
    (site / "mmcv" / "__init__.py").write_text("raise ImportError('mmcv must not be imported')\n")
    golden = Path(__file__).parent / "golden" / "nms-dtype-cast"
    nms = site / "mmcv" / "ops" / "nms.py"
    nms.write_bytes((golden / "mmcv_2_1_0.py").read_bytes())
    env = {**os.environ, "PYTHONPATH": str(site), "NO_COLOR": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "autofix", "apply", "--fix", "amp-nms", "--mmcv"],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "+            scores_after_nms[mask[keep]] = dets[:, -1].to(scores_after_nms.dtype)" in proc.stdout
    patched = unified_diff((golden / "mmcv_2_1_0.py").read_text(), nms.read_text(), "mmcv_2_1_0.py")
    assert patched == (golden / "mmcv_2_1_0.expected.diff").read_text()


def test_bad_scale_is_a_usage_error(tree: Path):
    result = invoke("apply", "--fix", "relu-no-inplace", "--scale", "1333", "pkg")
    assert result.exit_code == 2
    assert "--scale '1333' is not WIDTHxHEIGHT" in result.stderr
    assert (tree / "pkg" / "a.py").read_text() == RELU


def test_a_zero_edge_is_named_as_the_problem(tree: Path):
    result = invoke("apply", "--fix", "resize-down", "--scale", "0x800", "pkg")
    assert result.exit_code == 2
    assert "autofix: error: --scale '0x800': the width must be at least 1 (got 0)" in result.stderr


def test_rule_options_come_from_a_per_rule_pyproject_table(tree: Path):
    Path("pyproject.toml").write_text("[tool.autofix.split-thr]\nsplit-thr = 'many'\n")
    result = invoke("apply", "--fix", "relu-no-inplace", "pkg")
    assert result.exit_code == 2
    assert "[tool.autofix.split-thr] split-thr: must be a whole number (got 'many')" in result.stderr
    Path("pyproject.toml").write_text("[tool.autofix.split-thr]\nscale = '1333x800'\n")
    result = invoke("apply", "--fix", "relu-no-inplace", "pkg")
    assert result.exit_code == 2
    assert "[tool.autofix.split-thr] has no setting 'scale'" in result.stderr


def test_a_training_script_is_fixed_as_code_and_never_executed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """split-thr's script example: were it taken for a config, mmengine would run it (and fail on build_runner)."""
    script = next(e for e in SplitThr.examples if e.kind is FileKind.SCRIPT)
    marker = tmp_path / "the script ran"
    side_effect = f"open({str(marker)!r}, 'w').close()\n"
    (tmp_path / "train.py").write_text(side_effect + script.source)
    monkeypatch.chdir(tmp_path)
    result = invoke("apply", "--fix", "split-thr", "--dry-run", "train.py")
    assert result.exit_code == 1, result.output
    assert unified_diff(side_effect + script.source, side_effect + script.expected, "train.py") in result.stdout
    assert "split_thr=10001" in result.stdout
    assert not marker.exists()


SPLIT_THR_BASE = """\
model = dict(
    rpn_head=dict(anchor_generator=dict(strides=[4, 8, 16, 32, 64])),
    train_cfg=dict(rpn_proposal=dict(nms_pre=2000, nms=dict(type='nms', iou_threshold=0.7))))
"""
# Inherits like a config, but its loop would make it a script by its content alone.
LOOPING_CONFIG = "_base_ = './base.py'\nfor _ in range(0):\n    pass\n"


@pytest.mark.parametrize("forced", [False, True])
def test_configs_setting_makes_matching_files_configs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forced: bool):
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "base.py").write_text(SPLIT_THR_BASE)
    (tmp_path / "configs" / "child.py").write_text(LOOPING_CONFIG)
    if forced:
        (tmp_path / "pyproject.toml").write_text('[tool.autofix]\nconfigs = ["configs/child.py"]\n')
    (tmp_path / "tools").mkdir()
    monkeypatch.chdir(tmp_path / "tools")  # patterns are relative to the pyproject's folder, not the working one
    result = invoke("apply", "--fix", "split-thr", "--dry-run", "../configs/child.py")
    if forced:  # resolved through its _base_ by mmengine, so the override is added
        assert result.exit_code == 1, result.output
        assert "+model = dict(train_cfg=dict(rpn_proposal=dict(nms=dict(split_thr=10001))))" in result.stdout
    else:
        assert result.exit_code == 0, result.output
        assert result.stdout == ""
