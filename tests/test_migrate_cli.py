"""`autofix migrate`: apply's contract (diffs, exit codes, JSON) over a small 2.x tree; refusals are named,
not pending; check reports what remains; diagnose recognises the crash texts of a 2.x config on 3.x."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autofix.cli import app

RUNTIME = """
checkpoint_config = dict(interval=1)
log_config = dict(interval=50, hooks=[dict(type='TextLoggerHook')])
custom_hooks = [dict(type='NumClassCheckHook')]
dist_params = dict(backend='nccl')
log_level = 'INFO'
load_from = None
resume_from = None
workflow = [('train', 1)]
"""
LEAF = """
_base_ = ['./_base_/runtime.py']
# searched receptive fields: rfnext was not ported
custom_hooks = [dict(type='RFSearchHook', mode='search')]
"""
THREE_X = "optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.02))\n"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "_base_").mkdir()
    (tmp_path / "_base_" / "runtime.py").write_text(RUNTIME.lstrip())
    (tmp_path / "leaf.py").write_text(LEAF.lstrip())
    (tmp_path / "three_x.py").write_text(THREE_X)
    return tmp_path


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def test_dry_run_shows_the_migration_and_exits_1(tree: Path):
    result = invoke("migrate", "--dry-run", str(tree))
    assert result.exit_code == 1, result.output
    assert "+default_hooks" in result.stdout and "-checkpoint_config" in result.stdout
    assert (tree / "_base_" / "runtime.py").read_text() == RUNTIME.lstrip()  # nothing written


def test_migrate_writes_names_refusals_and_a_second_run_changes_nothing(tree: Path):
    result = invoke("migrate", "--format", "json", str(tree))
    assert result.exit_code == 0, result.output
    files = {Path(entry["path"]).name: entry for entry in json.loads(result.stdout)["files"]}
    assert files["runtime.py"]["status"] == "changed" and files["runtime.py"]["refused"] == []
    assert files["leaf.py"] == {**files["leaf.py"], "status": "unchanged", "refused": ["RFSearchHook"]}
    assert files["three_x.py"]["status"] == "unchanged"
    assert (tree / "three_x.py").read_text() == THREE_X
    migrated = (tree / "_base_" / "runtime.py").read_text()
    assert "checkpoint_config" not in migrated and "default_hooks" in migrated

    again = invoke("migrate", str(tree))
    assert again.exit_code == 0, again.output
    assert (tree / "_base_" / "runtime.py").read_text() == migrated
    assert "left as it was: RFSearchHook" in again.stderr  # a refusal is named, not pending

    check = invoke("check", "--fix", "legacy-2x-keys", str(tree))
    assert check.exit_code == 1
    assert "leaf.py:3:1: legacy-2x-keys RFSearchHook left as it was" in check.stdout
    assert "edit it by hand" in check.stdout


def test_apply_fix_migrate_2to3_is_the_same_command(tree: Path, tmp_path_factory: pytest.TempPathFactory):
    twin = tmp_path_factory.mktemp("twin")
    for path in tree.rglob("*.py"):
        (twin / path.relative_to(tree)).parent.mkdir(parents=True, exist_ok=True)
        (twin / path.relative_to(tree)).write_text(path.read_text())
    migrated = invoke("migrate", "--diff", str(tree)).stdout
    applied = invoke("apply", "--fix", "migrate-2to3", "--diff", str(twin)).stdout
    assert migrated.replace(str(tree), "TREE") == applied.replace(str(twin), "TREE")


def test_check_points_a_2x_config_at_migrate(tree: Path):
    result = invoke("check", str(tree / "_base_" / "runtime.py"))
    assert result.exit_code == 1
    assert "legacy-2x-keys 2.x config:" in result.stdout
    assert f"help: autofix migrate {tree / '_base_' / 'runtime.py'}" in result.stdout


@pytest.mark.parametrize(
    "crash",
    [
        "ValueError: train_dataloader, train_cfg, and optim_wrapper should be either all None or not None, but got "
        "train_dataloader=None, train_cfg=None, optim_wrapper=None",
        "KeyError: 'DefaultFormatBundle is not in the mmdet::transform registry. Please check whether the value of "
        "`DefaultFormatBundle` is correct or it was registered as expected.'",
    ],
)
def test_diagnose_prints_the_migrate_command(crash: str, tmp_path: Path):
    log = tmp_path / "train.log"
    log.write_text(textwrap.dedent(crash))
    result = invoke("diagnose", str(log))
    assert result.exit_code == 0, result.output
    assert "migrate-2to3" in result.stdout and "autofix migrate CONFIG" in result.stdout
