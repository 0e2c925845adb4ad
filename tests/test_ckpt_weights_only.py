"""ckpt-weights-only from the command line: `--mmengine` finds mmengine's runner/checkpoint.py where `--mmcv`
finds mmcv's ops/nms.py (the training environment, else autofix's own), and `diagnose` tells the crash from
the same refusal raised by a torch.load of the user's own.

The installed mmengine of autofix's environment is read, never written: only dry runs reach it.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest
from test_environment import _make_venv
from typer.testing import CliRunner

from autofix import environment
from autofix.cli import app
from autofix.diagnose import diagnose_text

OWN_MMENGINE = environment.package_dir("mmengine")
OWN_CHECKPOINT = OWN_MMENGINE / "runner" / "checkpoint.py" if OWN_MMENGINE else None
PATCHED_CALL = "checkpoint = torch.load(filename, map_location=map_location, weights_only=False)"
MMENGINE_LOG = """
Traceback (most recent call last):
  File "tools/test.py", line 142, in <module>
    main()
  File "/opt/conda/lib/python3.10/site-packages/mmengine/runner/checkpoint.py", line 347, in load_from_local
    checkpoint = torch.load(filename, map_location=map_location)
  File "/opt/conda/lib/python3.10/site-packages/torch/serialization.py", line 1524, in load
    raise pickle.UnpicklingError(_get_wo_message(str(e))) from None
_pickle.UnpicklingError: Weights only load failed. This file can still be loaded, to do so you have two options.
\tWeightsUnpickler error: Unsupported global: GLOBAL mmengine.logging.history_buffer.HistoryBuffer was not an allowed global by default.
"""
# The same words raised from the user's own torch.load (a conversion script), and another global refused.
OWN_TORCH_LOAD_LOG = MMENGINE_LOG.replace(
    '/opt/conda/lib/python3.10/site-packages/mmengine/runner/checkpoint.py", line 347, in load_from_local',
    'tools/model_converters/publish_model.py", line 25, in process_checkpoint',
)
OTHER_GLOBAL_LOG = """
Traceback (most recent call last):
  File "tools/train.py", line 14, in <module>
    ckpt = torch.load(ckpt_file, map_location="cpu")
  File "/usr/local/lib/python3.11/site-packages/torch/serialization.py", line 1524, in load
    raise pickle.UnpicklingError(_get_wo_message(str(e))) from None
_pickle.UnpicklingError: Weights only load failed. WeightsUnpickler error: Unsupported global: GLOBAL argparse.Namespace was not an allowed global by default.
"""


def invoke(*args: str, stdin: str | None = None):
    return CliRunner().invoke(app, list(args), input=stdin)


@pytest.fixture(autouse=True)
def no_active_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    monkeypatch.delenv("CONDA_PREFIX", raising=False)
    monkeypatch.setattr(environment, "_chosen", environment._UNCHOSEN)
    monkeypatch.chdir(tmp_path)


def _training_env(folder: Path, checkpoint: bytes | None) -> Path:
    """A virtualenv whose mmengine (raising on import) has this runner/checkpoint.py, or none."""
    runner = _make_venv(folder) / "mmengine" / "runner"
    runner.mkdir(parents=True)
    (runner.parent / "__init__.py").write_text("raise ImportError('mmengine must not be imported by autofix')\n")
    if checkpoint is not None:
        (runner / "checkpoint.py").write_bytes(checkpoint)
    return folder


@pytest.mark.skipif(OWN_CHECKPOINT is None, reason="mmengine is not installed beside autofix")
def test_mmengine_option_patches_the_active_environments_mmengine_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    venv = _training_env(tmp_path / "train-env", OWN_CHECKPOINT.read_bytes())
    monkeypatch.setenv("VIRTUAL_ENV", str(venv))
    result = invoke("apply", "--fix", "ckpt-weights-only", "--mmengine")
    assert result.exit_code == 0, result.output
    patched = next(venv.glob("lib/python*/site-packages/mmengine/runner/checkpoint.py"))
    assert PATCHED_CALL in patched.read_text()
    assert patched.read_text().count("weights_only=False") == OWN_CHECKPOINT.read_text().count("torch.load(")
    again = invoke("apply", "--fix", "ckpt-weights-only", "--mmengine", "--dry-run")
    assert again.exit_code == 0 and again.stdout == ""


@pytest.mark.skipif(OWN_CHECKPOINT is None, reason="mmengine is not installed beside autofix")
def test_without_a_training_environment_autofixs_own_mmengine_is_found(monkeypatch: pytest.MonkeyPatch):
    before = OWN_CHECKPOINT.read_bytes()
    result = invoke("check", "--fix", "ckpt-weights-only", "--mmengine", "--format", "json")
    assert result.exit_code == 1
    [finding] = {f["path"] for f in json.loads(result.stdout)["findings"]}
    assert finding.endswith("mmengine/runner/checkpoint.py")
    diff = invoke("apply", "--fix", "ckpt-weights-only", "--mmengine", "--dry-run")
    assert diff.exit_code == 1 and f"+    {PATCHED_CALL}" in diff.stdout
    assert OWN_CHECKPOINT.read_bytes() == before


def test_an_mmengine_without_checkpoint_py_is_an_error_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("VIRTUAL_ENV", str(_training_env(tmp_path / "train-env", None)))
    result = invoke("apply", "--fix", "ckpt-weights-only", "--mmengine")
    assert result.exit_code == 2
    assert "--mmengine: the mmengine at " in result.stderr and "has no runner/checkpoint.py: nothing to patch" in result.stderr


def test_without_the_flag_it_says_how_to_run_it():
    Path("model.py").write_text("x = 1\n")
    result = invoke("apply", "--fix", "ckpt-weights-only", "--dry-run", "model.py")
    assert result.exit_code == 0
    assert "run `autofix apply --fix ckpt-weights-only --mmengine`" in " ".join(result.stderr.split())


def test_diagnose_prints_both_remedies_best_first_with_their_commands():
    result = invoke("diagnose", "-", stdin=MMENGINE_LOG)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Recognised ckpt-weights-only: line 9 of standard input" in out
    assert "raised in load_from_local (/opt/conda/lib/python3.10/site-packages/mmengine/runner/checkpoint.py, line 347)" in out
    commands = ["$ autofix apply --fix ckpt-weights-only --mmengine\n",
                "$ TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 python tools/train.py CONFIG\n"]
    positions = [out.index(command) for command in commands]
    assert positions == sorted(positions)
    assert "not in this version" not in out
    document = json.loads(invoke("diagnose", "-", "--format", "json", stdin=MMENGINE_LOG).stdout)
    [match] = document["matches"]
    assert [(r["fix"], r["available"]) for r in match["remedies"]] == [
        ("ckpt-weights-only", True), ("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", True)]
    assert match["command"] == "autofix apply --fix ckpt-weights-only --mmengine"
    named = invoke("diagnose", "-", "--python", sys.executable, stdin=MMENGINE_LOG).stdout
    assert f"$ TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 {sys.executable} tools/train.py CONFIG" in named
    assert f"$ autofix apply --fix ckpt-weights-only --mmengine --python {sys.executable}" in named


def test_a_torch_load_of_the_users_own_is_a_near_miss_that_still_gets_the_environment_variable():
    result = invoke("diagnose", "-", stdin=OWN_TORCH_LOAD_LOG)
    assert result.exit_code == 1
    flat = " ".join(result.stdout.split())
    assert "has ckpt-weights-only's message, but its traceback ends in load" in flat
    assert "pass weights_only=False to your own torch.load, or run with TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1" in flat


def test_another_refused_global_resembles_it_and_gets_the_same_advice():
    [near] = diagnose_text(OTHER_GLOBAL_LOG).near_misses
    assert diagnose_text(OTHER_GLOBAL_LOG).matches == []
    assert near.reason.startswith("resembles ckpt-weights-only but is not it")
    assert "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1" in near.reason


@pytest.mark.parametrize("global_name", [
    "mmengine.logging.history_buffer.HistoryBuffer", "numpy.core.multiarray._reconstruct",
    "numpy._core.multiarray.scalar", "numpy.dtype",
])
def test_each_global_mmengine_checkpoints_hold_is_the_crash_cut_to_the_message(global_name: str):
    text = f"WeightsUnpickler error: Unsupported global: GLOBAL {global_name} was not an allowed global by default."
    [match] = diagnose_text(textwrap.dedent(text)).matches
    assert match.crash.id == "ckpt-weights-only" and match.sighting.raised_in is None


def test_a_config_given_to_diagnose_is_not_put_in_the_library_fixs_commands():
    Path("my_cfg.py").write_text("model = dict(type='FasterRCNN')\n")
    result = invoke("diagnose", "-", "--config", "my_cfg.py", stdin=MMENGINE_LOG)
    commands = [line.strip() for line in result.stdout.splitlines() if line.strip().startswith("$ autofix")]
    assert commands and all(command.endswith("--mmengine") for command in commands)
    assert "--config" not in result.stdout
    assert "Dry run of the default remedy" not in result.stderr  # nothing of it is in the config
    assert result.exit_code == 0
