"""Config fixes land whole or not at all: --verify failures and failed writes are never built on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from testing_transforms import Sets101To18, Sets101To18Undeclared, TurnsFlagOff

from autofix.engine import run

BASE = "model = dict(depth=50, act_cfg=dict(type='ReLU', inplace=True))\n"
CHILD = "_base_ = './base.py'\nmodel = dict(depth=101)\n"


@pytest.mark.parametrize(
    ("base", "transform", "failure"),
    [
        (BASE, Sets101To18Undeclared(), "the fix would also change model.depth"),
        (None, Sets101To18(), "cannot resolve the config to verify it (mmengine cannot load it: FileNotFoundError"),
    ],
    ids=["changes-undeclared-key", "base-missing"],
)
def test_verify_failure_leaves_the_file_unwritten(tmp_path: Path, base: str | None, transform, failure: str):
    if base is not None:
        (tmp_path / "base.py").write_text(base)
    child = tmp_path / "child.py"
    child.write_text(CHILD)
    os.utime(child, ns=(1_000_000_000, 1_000_000_000))
    result = run([child], [transform], {}, write=True, verify=True).results[0]
    assert result.status == "error" and not result.written
    assert result.error.startswith(f"--verify failed, file left unwritten: {failure}")
    assert child.read_text() == CHILD and child.stat().st_mtime_ns == 1_000_000_000


def test_verify_passes_and_writes_when_only_declared_keys_change(tmp_path: Path):
    (tmp_path / "base.py").write_text(BASE)
    child = tmp_path / "child.py"
    child.write_text(CHILD)
    result = run([child], [Sets101To18()], {}, write=True, verify=True).results[0]
    assert result.status == "changed" and result.written, result.error
    assert "effective keys changed: model.depth" in result.notes[-1]
    assert child.read_text() == "_base_ = './base.py'\nmodel = dict(depth=18)\n"


@pytest.fixture
def flag_pair(tmp_path: Path) -> Path:
    (tmp_path / "base.py").write_text("model = dict()\nflag = True\n")
    (tmp_path / "child.py").write_text("_base_ = './base.py'\n")
    return tmp_path


def test_config_does_not_count_on_a_base_fix_that_failed_to_land(flag_pair: Path):
    (flag_pair / "base.py").chmod(0o444)
    report = run([flag_pair], [TurnsFlagOff()], {}, write=True)
    outcome = {Path(r.shown).name: r for r in report.results}
    assert outcome["base.py"].status == "error" and "read-only" in outcome["base.py"].error
    assert outcome["child.py"].status == "changed"
    assert (flag_pair / "child.py").read_text() == "_base_ = './base.py'\nflag = False\n"


def test_dry_run_counts_on_the_base_fix_it_shows(flag_pair: Path):
    report = run([flag_pair], [TurnsFlagOff()], {}, write=False)
    assert {Path(r.shown).name: r.status for r in report.results} == {"base.py": "changed", "child.py": "unchanged"}
