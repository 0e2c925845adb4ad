"""relu-no-inplace proved where it matters: torch's autograd and mmengine's resolved config."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

CHAINED_RELUS = '''
import torch
from torch import nn


class Chain(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 4)
        self.relu1 = nn.ReLU(inplace=True)
        self.relu2 = nn.ReLU(True)

    def forward(self, x):
        y = self.relu1(self.linear(x))
        return self.relu2(y) * y
'''


def _autofix(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "autofix", *args], cwd=cwd, capture_output=True, text=True
    )


def _backward(path: Path) -> None:
    import torch

    spec = importlib.util.spec_from_file_location(f"chain_{path.stat().st_mtime_ns}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.manual_seed(0)
    model = module.Chain()
    model(torch.randn(2, 4)).sum().backward()


def test_chained_inplace_relus_crash_backward_until_fixed(tmp_path: Path):
    pytest.importorskip("torch")
    model_file = tmp_path / "chain.py"
    model_file.write_text(CHAINED_RELUS)
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation.*Relu"):
        _backward(model_file)

    result = _autofix("apply", "--fix", "inplace-relu", "chain.py", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "-        self.relu1 = nn.ReLU(inplace=True)" in result.stdout
    _backward(model_file)  # no RuntimeError any more


def _inplace_relus(value, path: str = "") -> list[str]:
    found = []
    if isinstance(value, dict):
        if value.get("type") == "ReLU" and value.get("inplace") is True:
            found.append(path)
        for key, item in value.items():
            found += _inplace_relus(item, f"{path}.{key}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found += _inplace_relus(item, f"{path}[{index}]")
    return found


@pytest.mark.parametrize(
    "config",
    ["detr/detr_r50_8xb2-150e_coco.py", "mask2former/mask2former_r50_8xb2-lsj-50e_coco.py",
     "sparse_rcnn/sparse-rcnn_r50_fpn_1x_coco.py"],
)
def test_resolved_real_config_has_no_inplace_relu_after_fix(corpus_copy: Path, config: str):
    from mmengine.config import Config

    def resolved_model():
        cfg = Config.fromfile(str(corpus_copy / config), lazy_import=False, import_custom_modules=False)
        return cfg.to_dict()["model"]

    assert _inplace_relus(resolved_model()), "the stock config should start with an in-place ReLU"
    result = _autofix("apply", "--fix", "relu-no-inplace", ".", cwd=corpus_copy)
    assert result.returncode == 0, result.stderr
    assert _inplace_relus(resolved_model()) == []
