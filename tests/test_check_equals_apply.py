"""`check` is the apply pipeline in report-only mode: for the same rules it reports findings in exactly
the files `apply --dry-run` would change (or names as left as they were: a refused construct is reported,
never pending), exits 1 exactly when it does, and shares apply's guards."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autofix.cli import app
from autofix.registry import all_transforms

EXAMPLES = Path(__file__).parent.parent / "examples"
EVERY_RULE = ",".join(all_transforms())


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def checked_and_changed(fix: str, *paths: str) -> tuple[set[str], set[str], int, int]:
    """The files check reports and the files apply --dry-run changes or leaves with a refusal, and both exit codes."""
    check = invoke("check", "--fix", fix, "--format", "json", *paths)
    apply = invoke("apply", "--fix", fix, "--dry-run", "--format", "json", *paths)
    reported = {f["path"] for f in json.loads(check.stdout)["findings"]}
    changed = {f["path"] for f in json.loads(apply.stdout)["files"] if f["status"] == "changed" or f["refused"]}
    return reported, changed, check.exit_code, apply.exit_code


@pytest.mark.parametrize("fix", [*all_transforms(), EVERY_RULE])
def test_check_reports_exactly_the_files_a_dry_run_changes_in_the_examples(fix: str):
    reported, changed, check_code, apply_code = checked_and_changed(fix, str(EXAMPLES))
    assert reported == changed
    assert check_code == apply_code


@pytest.mark.parametrize("rule_id", list(all_transforms()))
def test_check_equals_apply_on_every_rule_example(rule_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    rule = all_transforms()[rule_id]
    for number, example in enumerate(rule.examples):
        folder = tmp_path / str(number)
        folder.mkdir()
        for name, text in example.files_dedented().items():
            (folder / name).write_text(text)
        (folder / "config.py").write_text(example.source)
        options = [f"--{key.replace('_', '-')}={value}" for key, value in example.options.items()]
        monkeypatch.chdir(folder)
        reported, changed, check_code, apply_code = checked_and_changed(rule_id, *options, "config.py")
        assert reported == changed == ({"config.py"} if example.after is not None else set()), example.title
        assert check_code == apply_code


def test_an_amp_config_at_1333x800_is_found_by_check_as_apply_fixes_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """P1: check said "no risks" (exit 0) where apply --fix amp-nms added split_thr (exit 1)."""
    config = (EXAMPLES / "configs" / "faster_rcnn_amp_2666x1600.py").read_text().replace("(2666, 1600)", "(1333, 800)")
    (tmp_path / "_base_").mkdir()
    base = (EXAMPLES / "configs" / "_base_" / "faster-rcnn_r50_fpn.py").read_text()
    (tmp_path / "_base_" / "faster-rcnn_r50_fpn.py").write_text(base)
    (tmp_path / "amp_1333x800.py").write_text(config)
    monkeypatch.chdir(tmp_path)
    check = invoke("check", "--fix", "amp-nms", "amp_1333x800.py")
    apply = invoke("apply", "--fix", "amp-nms", "--dry-run", "amp_1333x800.py")
    assert (check.exit_code, apply.exit_code) == (1, 1)
    assert "\n  latent: " in check.stdout and "split_thr=10001" in apply.stdout


def test_check_refuses_pathological_nesting_cleanly(tmp_path: Path):
    """P2: check segfaulted (exit 139) on a file apply refuses with a one-line error."""
    chain = " and ".join(["x"] * 10_000)
    model = tmp_path / "deep.py"
    model.write_text(f"import torch.nn.functional as F\n\ndef f(x):\n    y = F.relu(x, inplace=True)\n    y += 1\n    return {chain}\n")
    result = subprocess.run(
        [sys.executable, "-m", "autofix", "check", "--fix", "relu-no-inplace,inplace-add", str(model)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "nested more than" in result.stderr and "Traceback" not in result.stderr


def test_check_honours_skip_comments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """P3: check reported a file whose `# autofix: skip` makes apply leave it alone."""
    (tmp_path / "skipped.py").write_text("# autofix: skip\nimport torch.nn.functional as F\n\n"
                                         "def f(x):\n    return F.relu(x, inplace=True)\n")
    (tmp_path / "line.py").write_text("import torch.nn.functional as F\n\n"
                                      "def f(x):\n    return F.relu(x, inplace=True)  # autofix: skip\n")
    monkeypatch.chdir(tmp_path)
    result = invoke("check", "--fix", "relu-no-inplace", "skipped.py", "line.py")
    assert (result.exit_code, result.stdout) == (0, "")


@pytest.mark.corpus
def test_check_equals_apply_over_the_mmdet_corpus(mmdet_corpus: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(mmdet_corpus)
    reported, changed, check_code, apply_code = checked_and_changed(EVERY_RULE, ".")
    assert changed and reported == changed
    assert check_code == apply_code == 1  # the 9 corpus configs mmengine cannot load are warnings for both
