"""The user's training environment: `mmdet::` bases, `read_base` imports and `--mmcv` are found in the
active virtualenv or conda env, or with --python, and nothing of it is imported into autofix's process.

The environment is a real virtualenv made in tmp (`python -m venv --without-pip`) holding a fake
mmdet (configs under `.mim/configs` and `configs/`) and a fake mmcv (mmcv's real `ops/nms.py`);
both packages raise on import, and the tests check sys.modules too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from spawned_cli import write_spawned_cli
from typer.testing import CliRunner

from autofix import environment
from autofix.cli import app

GOLDEN_NMS = Path(__file__).parent / "golden" / "nms-dtype-cast" / "mmcv_2_1_0.py"
AMP_BASE = """\
optim_wrapper = dict(type='AmpOptimWrapper', optimizer=dict(type='SGD', lr=0.02))
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=True)
"""
LEAF = "_base_ = 'mmdet::_base_/amp.py'\n"
NEW_STYLE_LEAF = "from mmengine.config import read_base\n\nwith read_base():\n    from mmdet.configs.amp_base import *\n"
FIXED_LEAF = LEAF + "\n# autofix persistent-workers: no worker processes to keep alive\ntrain_dataloader = dict(persistent_workers=False)\n"
SCORES_LINE = "scores_after_nms[mask[keep]] = dets[:, -1].to(scores_after_nms.dtype)"


def _make_venv(folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    return next(folder.glob("lib/python*/site-packages"))


@pytest.fixture
def training_env(tmp_path: Path) -> Path:
    """A virtualenv with a fake mmdet and mmcv that must never be imported; its folder."""
    venv = tmp_path / "train-env"
    site = _make_venv(venv)
    for package in ("mmdet", "mmcv"):
        (site / package).mkdir()
        (site / package / "__init__.py").write_text(f"raise ImportError('{package} must not be imported by autofix')\n")
    (site / "mmdet" / ".mim" / "configs" / "_base_").mkdir(parents=True)
    (site / "mmdet" / ".mim" / "model-index.yml").write_text("Import: []\n")
    (site / "mmdet" / ".mim" / "configs" / "_base_" / "amp.py").write_text(AMP_BASE)
    (site / "mmdet" / "configs").mkdir()
    (site / "mmdet" / "configs" / "amp_base.py").write_text(AMP_BASE)
    (site / "mmcv" / "ops").mkdir()
    (site / "mmcv" / "ops" / "nms.py").write_bytes(GOLDEN_NMS.read_bytes())
    return venv


@pytest.fixture(autouse=True)
def no_active_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No virtualenv or conda env active, the working directory a project folder; the look-ups of
    this process are put back as they were afterwards."""
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    monkeypatch.delenv("CONDA_PREFIX", raising=False)
    monkeypatch.setattr(environment, "_chosen", environment._UNCHOSEN)
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "leaf.py").write_text(LEAF)
    (tmp_path / "project" / "new_style.py").write_text(NEW_STYLE_LEAF)
    monkeypatch.chdir(tmp_path / "project")


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def _assert_not_imported() -> None:
    assert not {"mmdet", "mmcv"} & set(sys.modules)


@pytest.mark.parametrize("variable", ["VIRTUAL_ENV", "CONDA_PREFIX"])
def test_a_pkg_base_is_found_in_the_active_environment(training_env: Path, variable: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(variable, str(training_env))
    result = invoke("apply", "--fix", "persistent-workers", "leaf.py")
    assert result.exit_code == 0, result.output
    assert Path("leaf.py").read_text() == FIXED_LEAF
    _assert_not_imported()


def test_python_names_the_environment_for_pkg_bases_and_read_base_imports(training_env: Path):
    result = invoke("check", "--fix", "persistent-workers", "--python", str(training_env / "bin" / "python"),
                    "leaf.py", "new_style.py")
    assert result.exit_code == 1, result.output
    findings = [line for line in result.stdout.splitlines() if line and not line.startswith(" ")]
    assert [line.split(":")[0] for line in findings] == ["leaf.py", "new_style.py"]
    assert "persistent_workers=True but 0 worker processes" in result.stdout
    _assert_not_imported()


def test_the_env_folder_itself_may_be_given_to_python(training_env: Path):
    assert invoke("check", "--fix", "persistent-workers", "--python", str(training_env), "leaf.py").exit_code == 1


def test_a_missing_package_names_where_it_was_looked_for_and_the_cure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    nowhere = invoke("apply", "--fix", "persistent-workers", "--dry-run", "leaf.py")
    assert nowhere.exit_code == 2  # a file named on the command line that cannot be resolved is an error
    assert ("mmdet is not installed in autofix's environment and no training environment is active "
            "(no VIRTUAL_ENV or CONDA_PREFIX); activate your training environment or pass --python PATH") in nowhere.stderr
    empty = tmp_path / "empty-env"
    _make_venv(empty)
    monkeypatch.setenv("VIRTUAL_ENV", str(empty))
    elsewhere = invoke("apply", "--fix", "persistent-workers", "--dry-run", "leaf.py")
    assert elsewhere.exit_code == 2
    assert (f"mmdet is not installed in autofix's environment nor in {empty} (VIRTUAL_ENV); "
            "activate your training environment or pass --python PATH") in elsewhere.stderr


def test_autofix_s_own_virtualenv_is_not_taken_for_the_training_one(training_env: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("VIRTUAL_ENV", sys.prefix)  # `source .venv/bin/activate` of autofix's venv, conda below it
    monkeypatch.setenv("CONDA_PREFIX", str(training_env))
    found = environment.find_training_environment(None, os.environ)
    assert found is not None and (found.origin, found.python.parent.parent) == ("CONDA_PREFIX", training_env)


def test_a_python_that_is_not_an_interpreter_is_a_usage_error(tmp_path: Path):
    result = invoke("check", "--python", str(tmp_path / "nowhere" / "python"), "leaf.py")
    assert result.exit_code == 2
    assert "--python" in result.stderr and "not a Python interpreter" in result.stderr


def test_the_interpreter_is_asked_once_per_run(training_env: Path, monkeypatch: pytest.MonkeyPatch):
    for name in ("a", "b", "c"):
        Path(f"{name}.py").write_text(LEAF)
    asked: list[list[str]] = []
    run_process = subprocess.run

    def recording_run(command, *args, **kwargs):
        if str(command[0]).startswith(str(training_env)):
            asked.append(command)
        return run_process(command, *args, **kwargs)

    monkeypatch.setattr(environment.subprocess, "run", recording_run)
    monkeypatch.setenv("VIRTUAL_ENV", str(training_env))
    assert invoke("check", "--fix", "persistent-workers,amp-nms", "--jobs", "1", "a.py", "b.py", "c.py").exit_code == 1
    assert len(asked) == 1
    invoke("check", "--fix", "persistent-workers", "--jobs", "1", "a.py")
    assert len(asked) == 2  # a new run asks again: packages may have been installed in between


def test_mmcv_is_patched_in_the_active_environment_without_importing_it(training_env: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("VIRTUAL_ENV", str(training_env))
    result = invoke("apply", "--fix", "nms-dtype-cast", "--mmcv")
    assert result.exit_code == 0, result.output
    nms = next(training_env.glob("lib/python*/site-packages/mmcv/ops/nms.py"))
    assert SCORES_LINE in nms.read_text()
    _assert_not_imported()


def test_mmcv_not_found_says_where_it_was_looked_for():
    result = invoke("apply", "--fix", "nms-dtype-cast", "--mmcv")
    assert result.exit_code == 2
    assert "--mmcv: mmcv is not installed in autofix's environment" in result.stderr
    assert "activate your training environment or pass --python PATH" in result.stderr


def test_amp_nms_without_mmcv_says_nms_dtype_cast_was_not_run_and_how_to_run_it():
    Path("model.py").write_text("x = 1\n")
    result = CliRunner().invoke(app, ["apply", "--fix", "amp-nms", "--dry-run", "--statistics", "model.py"],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]] for line in result.stderr.splitlines()
            if line.count("│") == 7}
    assert rows["nms-dtype-cast"] == ["-"] * 5 and rows["split-thr"] == ["0"] * 5
    assert "note: nms-dtype-cast was not run:" in result.stderr
    assert "run `autofix apply --fix nms-dtype-cast --mmcv`" in result.stderr
    document = json.loads(invoke("apply", "--fix", "amp-nms", "--dry-run", "--format", "json", "model.py").stdout)
    assert list(document["not_run"]) == ["nms-dtype-cast"]
    assert invoke("apply", "--fix", "split-thr", "--dry-run", "model.py").stderr.count("not run") == 0


LOG = Path(__file__).parent / "fixtures" / "logs" / "report_003_amp_nms.txt"


def _commands(output: str) -> list[str]:
    return [line.strip()[2:] for line in output.splitlines() if line.strip().startswith("$ ")]


def test_diagnose_prints_commands_that_find_mmcv_from_here(training_env: Path, monkeypatch: pytest.MonkeyPatch):
    lost = invoke("diagnose", str(LOG))
    assert "autofix apply --fix nms-dtype-cast --mmcv --python PYTHON" in _commands(lost.stdout)
    assert "PYTHON: the python you train with" in lost.stdout
    python = str(training_env / "bin" / "python")
    named = _commands(invoke("diagnose", "--python", python, str(LOG)).stdout)
    assert named and all(command.endswith(f" --python {python}") for command in named)
    monkeypatch.setenv("VIRTUAL_ENV", str(training_env))
    active = invoke("diagnose", str(LOG))
    assert "autofix apply --fix nms-dtype-cast --mmcv" in _commands(active.stdout)
    assert "PYTHON" not in active.stdout
    for command in _commands(active.stdout):  # each one runs, from autofix's own environment, as printed
        if "--mmcv" in command:
            assert invoke(*command.split()[1:]).exit_code == 0
    _assert_not_imported()



def test_spawned_pool_workers_look_in_the_environment_given_with_python(training_env: Path):
    for name in ("a", "b", "c", "d"):
        Path(f"{name}.py").write_text(LEAF)
    write_spawned_cli(Path("spawned.py"), "check", "--fix", "persistent-workers", "--jobs", "2")
    command = [sys.executable, "spawned.py", "--python", str(training_env / "bin" / "python"), "a.py", "b.py", "c.py", "d.py"]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
    assert "pool of 2" in done.stderr
    assert done.returncode == 1, done.stderr
    assert done.stderr.rstrip().endswith("4 findings in 4 files, 4 files checked.")
