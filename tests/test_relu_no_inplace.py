"""relu-no-inplace beyond its examples: bare statements it must not silence, and check over an inherited config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autofix.cli import app

LOOP_AND_PARAMETER = """\
import torch.nn.functional as F
from torch import nn


class Head(nn.Module):

    def __init__(self):
        super().__init__()
        self.act = nn.ELU(inplace=True)

    def forward(self, feats):
        for feat in feats:
            F.leaky_relu_(feat)
        return feats
{extra}"""
THROUGH_THE_MODULE = """
    def activate(self, x):
        self.act(x)
"""


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def test_a_bare_inplace_call_on_a_loop_item_is_left_in_place_with_a_note(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """`feat = F.leaky_relu(feat)` would leave `feats` unchanged: the call stays as it is, and says so."""
    monkeypatch.chdir(tmp_path)
    Path("head.py").write_text(LOOP_AND_PARAMETER.format(extra=""))
    result = invoke("apply", "--fix", "relu-no-inplace", "head.py")
    assert result.exit_code == 0, result.stderr
    assert "left 'F.leaky_relu_(feat)' in place" in result.stderr
    assert Path("head.py").read_text() == LOOP_AND_PARAMETER.format(extra="").replace("nn.ELU(inplace=True)", "nn.ELU()")


def test_a_module_the_rule_makes_out_of_place_may_not_silence_a_bare_call_on_a_parameter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """`self.act(x)` changes the caller's tensor through an in-place module; with the module out of place it
    would do nothing, and `x = self.act(x)` would not reach the caller: an error, the file left alone."""
    monkeypatch.chdir(tmp_path)
    text = LOOP_AND_PARAMETER.format(extra=THROUGH_THE_MODULE)
    Path("head.py").write_text(text)
    result = invoke("apply", "--fix", "relu-no-inplace", "head.py")
    assert result.exit_code == 2
    assert "'self.act(x)' changes an argument, parameter or loop item in place" in result.stderr
    assert Path("head.py").read_text() == text


def test_check_reports_an_inherited_inplace_activation_where_apply_overrides_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    Path("base.py").write_text(
        "model = dict(type='RTMDet', neck=dict(type='CSPNeXtPAFPN', act_cfg=dict(type='RReLU', inplace=True)))\n"
    )
    Path("leaf.py").write_text("_base_ = './base.py'\ntrain_cfg = dict(max_epochs=12)\n")
    check = invoke("check", "--fix", "relu-no-inplace", "--format", "json", "leaf.py")
    apply = invoke("apply", "--fix", "relu-no-inplace", "--dry-run", "leaf.py")
    assert (check.exit_code, apply.exit_code) == (1, 1)
    [finding] = json.loads(check.stdout)["findings"]
    assert (finding["path"], finding["line"], finding["severity"]) == ("leaf.py", 2, "latent")  # an appended override: the end of the file
    assert finding["details"] == {"key": "model.neck.act_cfg", "activation": "RReLU"}
    assert "+model = dict(neck=dict(act_cfg=dict(inplace=False)))" in apply.stdout
    assert Path("base.py").read_text().count("inplace=True") == 1
