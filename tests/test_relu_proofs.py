"""relu-no-inplace proved where it matters: torch's autograd and mmengine's resolved config."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from autofix.domain.activations import BY_NAME, MODULE_INPLACE_POSITION

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


def test_chained_inplace_relus_crash_backward_until_fixed(tmp_path: Path):
    pytest.importorskip("torch")
    model_file = tmp_path / "chain.py"
    model_file.write_text(CHAINED_RELUS)
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation.*Relu"):
        _chain_backward(model_file)

    result = _autofix("apply", "--fix", "inplace-relu", "chain.py", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "-        self.relu1 = nn.ReLU(inplace=True)" in result.stdout
    _chain_backward(model_file)  # no RuntimeError any more


def _inplace_activations(value, path: str = "") -> list[str]:
    """Key paths of the dicts that build a family member in place (``type`` by its class name)."""
    found = []
    if isinstance(value, dict):
        if str(value.get("type")).rsplit(".", 1)[-1] in BY_NAME and value.get("inplace") is True:
            found.append(path)
        for key, item in value.items():
            found += _inplace_activations(item, f"{path}.{key}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found += _inplace_activations(item, f"{path}[{index}]")
    return found


@pytest.mark.parametrize(
    "config",
    [
        "detr/detr_r50_8xb2-150e_coco.py",  # writes its in-place ReLUs itself
        "detr/detr_r101_8xb2-500e_coco.py",  # these inherit them
        "mask2former/mask2former_r101_8xb2-lsj-50e_coco.py",
        "sparse_rcnn/sparse-rcnn_r50_fpn_ms-480-800-3x_coco.py",
    ],
)
def test_a_real_config_given_alone_trains_without_inplace_activations_and_its_bases_are_untouched(
    corpus_copy: Path, mmdet_corpus: Path, config: str
):
    from mmengine.config import Config

    def resolved_model():
        cfg = Config.fromfile(str(corpus_copy / config), lazy_import=False, import_custom_modules=False)
        return cfg.to_dict()["model"]

    assert _inplace_activations(resolved_model()), "the stock config should start with an in-place ReLU"
    result = _autofix("apply", "--fix", "relu-no-inplace", config, cwd=corpus_copy)
    assert result.returncode == 0, result.stderr
    assert _inplace_activations(resolved_model()) == []
    changed = [p for p in corpus_copy.rglob("*.py") if p.read_bytes() != (mmdet_corpus / p.relative_to(corpus_copy)).read_bytes()]
    assert changed == [corpus_copy / config]


# --- the activation family, decided by torch ------------------------------------------------------

def _fixed(path: Path) -> str:
    """Apply relu-no-inplace to ``path`` as users do (in place); its new text."""
    from autofix.engine import run
    from autofix.registry import all_transforms

    [result] = run([path], [all_transforms()["relu-no-inplace"]()], {}, write=True).results
    assert result.status in ("changed", "unchanged"), result.error
    return path.read_text()


def _chain_output(path: Path):
    """The output of the model file's ``Chain`` (in training mode) on a fixed input."""
    import torch

    spec = importlib.util.spec_from_file_location(f"chain_{path.stem}_{path.stat().st_mtime_ns}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.manual_seed(0)
    model = module.Chain().train()
    torch.manual_seed(1)
    return model(torch.randn(8, 4))


def _chain_backward(path: Path):
    """The model file's ``Chain`` run forward and backward; its output."""
    out = _chain_output(path)
    out.sum().backward()
    return out.detach()


MODULE_CHAIN = '''
import torch
import torch.nn.functional as F
from torch import nn


class Chain(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 4)
        self.first = nn.{module}
        self.second = nn.{module}

    def forward(self, x):
        return self.second(self.first(self.linear(x)))
'''


def _module_call(name: str) -> str:
    return "Threshold(0.1, 0.0, inplace=True)" if name == "Threshold" else f"{name}(inplace=True)"


@pytest.mark.filterwarnings("ignore:dropout.d. Received a 2-D input")
@pytest.mark.parametrize("name", sorted(MODULE_INPLACE_POSITION))
def test_the_family_is_exactly_the_modules_whose_chained_inplace_form_breaks_backward(name: str, tmp_path: Path):
    """Every torch.nn module that takes `inplace`: two in a row in place raise in backward exactly for the
    family, which relu-no-inplace rewrites (and then trains); the others train and are left alone."""
    pytest.importorskip("torch")
    from autofix.catalogue.inplace_relu import INPLACE_RELU
    from autofix.diagnose import diagnose_text

    path = tmp_path / f"{name.lower()}.py"
    path.write_text(MODULE_CHAIN.format(module=_module_call(name)))
    if name not in BY_NAME:
        _chain_backward(path)
        assert _fixed(path) == MODULE_CHAIN.format(module=_module_call(name))
        return
    with pytest.raises(RuntimeError, match="modified by an inplace operation") as raised:
        _chain_backward(path)
    [match] = diagnose_text(str(raised.value)).matches  # diagnose knows the node torch names
    assert match.crash is INPLACE_RELU
    assert "inplace=True" not in _fixed(path)
    _chain_backward(path)


FUNCTION_CHAIN = '''
import torch
import torch.nn.functional as F
from torch import nn


class Chain(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 4)

    def forward(self, x):
{body}
'''
# The in-place functional forms of the family, applied twice in a row: as values, and as bare statements.
FUNCTIONAL_FORMS = [
    "F.relu(y, inplace=True)", "F.relu_(y)", "torch.relu_(y)", "y.relu_()", "F.leaky_relu(y, 0.1, True)",
    "F.leaky_relu_(y, 0.2)", "F.elu(y, inplace=True)", "F.elu_(y)", "F.celu_(y)", "torch.celu_(y)",
    "F.selu(y, inplace=True)", "torch.selu_(y)", "F.rrelu(y, training=True, inplace=True)", "torch.rrelu_(y)",
]


@pytest.mark.parametrize("form", FUNCTIONAL_FORMS)
@pytest.mark.parametrize("bare", [False, True], ids=["value", "bare-statement"])
def test_functional_inplace_forms_break_backward_until_fixed_and_compute_the_same(form: str, bare: bool, tmp_path: Path):
    torch = pytest.importorskip("torch")
    body = [f"y = {form}", f"y = {form}"] if not bare else [form, form]
    path = tmp_path / "chain.py"
    path.write_text(FUNCTION_CHAIN.format(body=textwrap.indent("\n".join(["y = self.linear(x)", *body, "return y * 2"]), " " * 8)))
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        _chain_backward(path)
    with torch.no_grad():  # the values before the fix (no autograd to object)
        expected = _chain_output(path)
    _fixed(path)
    forward = path.read_text().split("def forward")[1]
    assert "_(" not in forward and "inplace" not in forward and ", True)" not in forward
    out = _chain_backward(path)
    if "rrelu" not in form:  # RReLU draws its slopes at random in training
        assert torch.allclose(out, expected)


BASE_WITH_INPLACE_LEAKY_RELU = """
model = dict(
    type='TinyDetector',
    backbone=dict(type='Darknet', act_cfg=dict(type='LeakyReLU', negative_slope=0.1, inplace=True)),
    neck=dict(type='PAFPN', act_cfg=dict(type='ELU', inplace=True)))
"""


def test_an_inherited_inplace_activation_breaks_backward_until_the_child_is_fixed(tmp_path: Path):
    """The config form: activations built from the resolved config (as mmcv's build_activation_layer
    does, by type) break backward chained in place; the fix lands in the child, the base is untouched."""
    torch = pytest.importorskip("torch")
    from mmengine.config import Config

    (tmp_path / "base.py").write_text(BASE_WITH_INPLACE_LEAKY_RELU)
    child = tmp_path / "child.py"
    child.write_text("_base_ = './base.py'\nmodel = dict(neck=dict(num_outs=3))\n")

    def backward_through_built_activations() -> None:
        model = Config.fromfile(str(child), lazy_import=False).to_dict()["model"]
        layers = []
        for part in ("backbone", "neck"):
            cfg = dict(model[part]["act_cfg"])
            layers.append(getattr(torch.nn, cfg.pop("type"))(**cfg))
        x = torch.nn.Linear(4, 4)(torch.randn(2, 4))
        for layer in layers:
            x = layer(x)
        x.sum().backward()

    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        backward_through_built_activations()
    assert "inplace=False" in _fixed(child)
    assert (tmp_path / "base.py").read_text() == BASE_WITH_INPLACE_LEAKY_RELU
    backward_through_built_activations()


LEAKY_THEN_ADD = """
import torch
from torch import nn


class Chain(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 4)
        self.act = nn.LeakyReLU(0.1, inplace=True)

    def forward(self, x):
        y = self.act(self.linear(x))
        y += 1
        return y
"""


def test_check_finds_an_add_on_an_inplace_leaky_relu_output_which_the_out_of_place_module_fixes(tmp_path: Path):
    """check's dataflow knows the family: an in-place LeakyReLU saves its output, out of place its input,
    so making the module out of place removes the crash the later `y += 1` causes."""
    pytest.importorskip("torch")
    import libcst as cst

    from autofix.domain.relu_flow import inplace_relu_overwrites

    path = tmp_path / "leaky.py"
    path.write_text(LEAKY_THEN_ADD)
    [found] = inplace_relu_overwrites(cst.parse_module(LEAKY_THEN_ADD))
    assert (found.line, found.relu.activation, found.fix) == (14, "LeakyReLU", "relu-no-inplace")
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        _chain_backward(path)
    _fixed(path)
    assert inplace_relu_overwrites(cst.parse_module(path.read_text())) == []
    _chain_backward(path)
