"""`autofix check`: the rules' findings (the files `apply --dry-run` would change) with their severity:
the amp-nms box count on real mmdet configs and enlarged variants, and the inplace-relu dataflow on
model files, each finding proved by torch's autograd where it can run."""

from __future__ import annotations

import importlib.util
import json
import shutil
import textwrap
from pathlib import Path

import libcst as cst
import pytest
from typer.testing import CliRunner

from autofix.cli import app
from autofix.domain.pipelines import train_image_transforms
from autofix.domain.relu_flow import inplace_relu_overwrites
from autofix.domain.rpn import anchors_per_cell, largest_train_sizes, pipeline_sizes, rpn_loads
from autofix.mmconfig import resolve

FASTER_AMP = "faster_rcnn/faster-rcnn_r50_fpn_amp-1x_coco.py"
C4 = "faster_rcnn/faster-rcnn_r50-caffe_c4-1x_coco.py"
LSJ_AMP = "faster_rcnn/faster-rcnn_r50_fpn_8xb8-amp-lsj-200e_coco.py"


@pytest.fixture(scope="module")
def corpus(mmdet_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy of the mmdet 3.3.0 configs for this module's leaves to inherit from."""
    target = tmp_path_factory.mktemp("corpus") / "configs"
    shutil.copytree(mmdet_corpus, target)
    return target


def check(*args: str):
    return CliRunner().invoke(app, ["check", *args])


def boxes(config: Path) -> list[int | None]:
    return [load.boxes for load in rpn_loads(resolve(config, {}))]


def leaf(folder: Path, base: Path, body: str, name: str = "leaf.py") -> Path:
    """A config in ``folder`` inheriting ``base`` (absolute path), with ``body`` after its ``_base_`` line."""
    path = folder / name
    path.write_text(f"_base_ = {str(base)!r}\n" + textwrap.dedent(body).lstrip("\n"))
    return path


RESIZED = """\
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    {resize},
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline){loader})
"""


def resized(folder: Path, base: Path, resize: str, loader: str = "") -> Path:
    return leaf(folder, base, RESIZED.format(resize=resize, loader=loader))


# --- amp-nms: the box count ---------------------------------------------------------------------


def test_stock_faster_rcnn_amp_hands_nms_8819_boxes_and_is_clean(corpus: Path, monkeypatch: pytest.MonkeyPatch):
    [load] = rpn_loads(resolve(corpus / FASTER_AMP, {}))
    # 1333x800 padded to 32 is 1344x800; only P6 (stride 64: 21 x 13 cells x 3 anchors) is below nms_pre.
    assert (load.boxes, load.per_level, load.batch) == (8819, (2000, 2000, 2000, 2000, 819), (1344, 800))
    monkeypatch.chdir(corpus)
    result = check(FASTER_AMP)  # split-thr would still raise split_thr 10000 above the RPN's 10000 at most
    assert result.exit_code == 1, result.output
    assert result.stdout.startswith(f"{FASTER_AMP}:") and " split-thr " in result.stdout and "\n  latent: " in result.stdout
    assert result.stderr == "1 finding in 1 file, 1 file checked.\n"


def test_report_scale_2666x1600_hands_nms_10000_boxes_found_where_the_fix_goes(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    config = resized(tmp_path, corpus / FASTER_AMP, "dict(type='Resize', scale=(2666, 1600), keep_ratio=True)")
    assert boxes(config) == [10000]
    monkeypatch.chdir(tmp_path)
    result = check("leaf.py")
    assert result.exit_code == 1
    # Placed where the fix goes: the override appended at the end of the file (its 9th line).
    assert result.stdout.splitlines() == [
        "leaf.py:9:1: split-thr 10000 RPN boxes reach batched_nms under AMP, split_thr 10000",
        "  crash: AMP (AmpOptimWrapper); model.train_cfg.rpn_proposal: 2000 + 2000 + 2000 + 2000 + 2000 boxes over "
        "5 levels for 2666x1600 train images, batch padded to 2688x1600 (AspectRatioBatchSampler: a batch holds one "
        "orientation); "
        "set split_thr 10001",
        "  help: autofix apply --fix split-thr leaf.py",
    ]
    assert len(result.stdout.splitlines()[0]) <= 100 and "1 finding in 1 file, 1 file checked." in result.stderr

    # The command the finding gives removes the risk.
    assert CliRunner().invoke(app, ["apply", "--fix", "amp-nms", "leaf.py"]).exit_code == 0
    assert check("leaf.py").exit_code == 0


def test_caffe_c4_rpn_reaches_12000_boxes_at_the_default_scale(corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    assert boxes(corpus / C4) == [12000]  # one level, 15 anchors a cell, nms_pre 12000
    monkeypatch.chdir(corpus)
    assert "\n  latent: " in check(C4).stdout  # no AMP in the config itself...
    with_amp_flag = check("--amp", C4)  # ...but tools/train.py --amp would crash it
    assert with_amp_flag.exit_code == 1
    assert " split-thr 12000 RPN boxes reach batched_nms under AMP, split_thr " in with_amp_flag.stdout
    assert "\n  crash: AMP (--amp); " in with_amp_flag.stdout and ": 12000 boxes over 1 level for " in with_amp_flag.stdout

    amp_leaf = leaf(tmp_path, corpus / C4, "optim_wrapper = dict(type='AmpOptimWrapper')\n")
    monkeypatch.chdir(tmp_path)
    result = check(amp_leaf.name)
    assert result.exit_code == 1
    assert result.stdout.startswith("leaf.py:2:1: split-thr ") and "\n  crash: " in result.stdout


@pytest.mark.parametrize(
    ("resize", "loader", "expected"),
    [
        # 2016x1216 after padding: P6 has 32 x 19 x 3 = 1824 anchors.
        ("dict(type='Resize', scale=(2000, 1200), keep_ratio=True)", "", 9824),
        # Without AspectRatioBatchSampler a landscape and a portrait image share a 2016x2016 batch.
        ("dict(type='Resize', scale=(2000, 1200), keep_ratio=True)", ", batch_sampler=None", 10000),
        ("dict(type='Resize', scale=(2000, 1200), keep_ratio=True)", ", batch_size=1, batch_sampler=None", 9824),
        # RandomResize draws up to 2 x (1333, 800).
        ("dict(type='RandomResize', scale=(1333, 800), ratio_range=(0.1, 2.0), keep_ratio=True)", "", 10000),
        ("dict(type='RandomResize', scale=[(1333, 640), (1333, 800)], keep_ratio=True)", "", 8819),
        # A batch may hold a 2000x600 and a 1200x1000 image: padded to 2016x1024 (P6: 32 x 16 x 3 = 1536).
        ("dict(type='RandomChoiceResize', scales=[(2000, 600), (1000, 1200)], keep_ratio=True)", "", 9536),
        ("dict(type='RandomChoiceResize', scales=[(2000, 600), (1000, 1200)], keep_ratio=True)", ", batch_size=1", 8960),
        ("dict(type='RandomChoice', transforms=[[dict(type='Resize', scale=(1333, 800), keep_ratio=True)], "
         "[dict(type='Resize', scale=(4000, 2400), keep_ratio=True), "
         "dict(type='RandomCrop', crop_type='absolute', crop_size=(1333, 800))]])", "", 8819),
        # Smaller, as in the report's second remedy: 1344x608, P6 is 21 x 10 x 3 = 630.
        ("dict(type='Resize', scale=(1333, 600), keep_ratio=True)", "", 8630),
    ],
)
def test_enlarged_and_multiscale_variants(corpus: Path, tmp_path: Path, resize: str, loader: str, expected: int):
    config = resized(tmp_path, corpus / FASTER_AMP, resize, loader)
    assert boxes(config) == [expected]


def test_large_scale_jitter_is_cropped_back_to_1024(corpus: Path):
    # RandomResize up to 2048x2048, then RandomCrop to at most 1024x1024: P6 is 16 x 16 x 3 = 768.
    assert boxes(corpus / LSJ_AMP) == [8768]


def test_an_amp_config_without_a_resize_counts_every_level_full(corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    leaf(tmp_path, corpus / FASTER_AMP, """
    train_dataloader = dict(dataset=dict(pipeline=[dict(type='LoadImageFromFile'), dict(type='PackDetInputs')]))
    """)
    monkeypatch.chdir(tmp_path)
    result = check("leaf.py")
    assert result.exit_code == 1
    assert "10000 RPN boxes reach batched_nms under AMP" in result.stdout
    assert ": 5 levels x nms_pre 2000; the train image size is unknown" in result.stdout
    assert "\n  crash: " in result.stdout


def test_json_reports_the_numbers(corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    resized(tmp_path, corpus / FASTER_AMP, "dict(type='Resize', scale=(2666, 1600), keep_ratio=True)")
    monkeypatch.chdir(tmp_path)
    result = check("leaf.py", "--format", "json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    [finding] = document["findings"]
    assert finding["path"] == "leaf.py" and finding["line"] == 9 and finding["rule"] == "split-thr"
    assert finding["severity"] == "crash" and finding["fix"] == "autofix apply --fix split-thr leaf.py"
    assert finding["details"]["boxes"] == 10000 and finding["details"]["split_thr"] == 10000
    assert finding["details"]["image"] == [2666, 1600] and finding["details"]["batch"] == [2688, 1600]
    assert document["files_checked"] == 1 and document["errors"] == []


def test_pipeline_sizes_follow_resizes_crops_and_pads():
    keep = pipeline_sizes([dict(type="Resize", scale=(1333, 800), keep_ratio=True)])
    assert [(s.width, s.height) for s in keep] == [(1333, 800), (800, 1333)]
    exact = pipeline_sizes([dict(type="mmdet.Resize", scale=(640, 480))])
    assert [(s.width, s.height) for s in exact] == [(640, 480)]
    padded = pipeline_sizes([dict(type="FixShapeResize", width=1000, height=600), dict(type="Pad", size_divisor=64)])
    assert [(s.width, s.height) for s in padded] == [(1024, 640)]
    square = pipeline_sizes([dict(type="Resize", scale=(640, 480)), dict(type="Pad", pad_to_square=True)])
    assert [(s.width, s.height) for s in square] == [(640, 640)]
    assert pipeline_sizes([dict(type="LoadImageFromFile"), dict(type="RandomFlip")]) is None
    assert pipeline_sizes([dict(type="Resize", scale_factor=0.5)]) is None


def test_train_images_go_through_dataset_wrappers():
    load = dict(type="LoadImageFromFile")
    mosaic = dict(type="Mosaic")
    dataset = dict(
        type="MultiImageMixDataset",
        pipeline=[mosaic],
        dataset=dict(type="ConcatDataset", datasets=[dict(pipeline=[load]), dict(type="RepeatDataset", dataset=dict(pipeline=[]))]),
    )
    assert list(train_image_transforms({"train_dataloader": {"dataset": dataset}})) == [[load, mosaic], [mosaic]]
    assert list(train_image_transforms({"data": {"train": [dict(pipeline=[load]), dict(pipeline=[mosaic])]}})) == [[load], [mosaic]]


def test_train_image_sizes_include_the_pipeline_a_hook_switches_to():
    """PipelineSwitchHook replaces the loader's dataset's own pipeline: stage 2's resize counts in the box count."""
    load = dict(type="LoadImageFromFile")
    stage_one = [load, dict(type="Resize", scale=(640, 640), keep_ratio=True)]
    stage_two = [load, dict(type="Resize", scale=(1280, 1280), keep_ratio=True)]
    config = {
        "train_dataloader": {"dataset": dict(type="CocoDataset", pipeline=stage_one)},
        "custom_hooks": [dict(type="EMAHook"), dict(type="PipelineSwitchHook", switch_epoch=280, switch_pipeline=stage_two)],
    }
    assert list(train_image_transforms(config)) == [stage_one, stage_two]
    assert max(size.width for size in largest_train_sizes(config)) == 1280


def test_anchors_per_cell():
    assert anchors_per_cell(dict(scales=[8], ratios=[0.5, 1.0, 2.0])) == 3
    assert anchors_per_cell(dict(scales=[2, 4, 8, 16, 32], ratios=[0.5, 1.0, 2.0])) == 15
    assert anchors_per_cell(dict(octave_base_scale=4, scales_per_octave=3, ratios=[0.5, 1.0, 2.0])) == 9
    assert anchors_per_cell(dict(type="MlvlPointGenerator")) is None


# --- inplace-relu: the dataflow, proved by autograd -----------------------------------------------

TORCH_MODEL = '''\
import torch
import torch.nn.functional as F
from torch import nn


class Net(nn.Module):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 4)
        self.other = nn.Linear(4, 4)
        self.relu = nn.ReLU(inplace=True)
        self.relu_copy = nn.ReLU()
        self.flag = True

    def forward(self, x):
{body}
'''

# name -> (forward body, lines of findings in the file, the fix they name)
MODELS = {
    "add_after_relu": ("""
        out = self.relu(self.linear(x))
        out += x
        return out
    """, [18], "inplace-add"),
    "relu_on_relu_output": ("""
        y = self.relu_copy(self.linear(x))
        return self.relu(y) * y
    """, [18], "relu-no-inplace"),
    "method_on_functional_relu": ("""
        y = F.relu(self.linear(x))
        y.mul_(2)
        return y
    """, [18], None),
    "item_assignment": ("""
        y = torch.relu(self.linear(x))
        y[0] = 0
        return y
    """, [18], None),
    "inplace_relu_makes_its_input_the_output": ("""
        y = self.linear(x)
        self.relu(y)
        y -= 1
        return y
    """, [19], "inplace-add"),
    "in_one_branch": ("""
        out = self.linear(x)
        if self.flag:
            out = F.relu(out)
        out *= 2
        return out
    """, [20], "inplace-add"),
    "next_loop_pass": ("""
        y = self.linear(x)
        for step in range(2):
            if step:
                y += 1
            y = F.relu(y)
        return y
    """, [20], "inplace-add"),
    "rebound_before_the_write": ("""
        out = self.relu(self.linear(x))
        out = self.other(out)
        out += x
        return out
    """, [], None),
    "out_of_place": ("""
        out = self.relu(self.linear(x))
        out = out + x
        count = 0
        count += 1
        return self.relu_copy(out) * count
    """, [], None),
}


def _import_model(path: Path):
    spec = importlib.util.spec_from_file_location(f"model_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Net


@pytest.mark.parametrize("name", sorted(MODELS))
def test_findings_are_exactly_the_models_whose_backward_fails(name: str, tmp_path: Path):
    torch = pytest.importorskip("torch")
    body, lines, fix = MODELS[name]
    path = tmp_path / f"{name}.py"
    path.write_text(TORCH_MODEL.format(body=textwrap.indent(textwrap.dedent(body).strip("\n"), " " * 8)))
    found = inplace_relu_overwrites(cst.parse_module(path.read_text()))
    assert [f.line for f in found] == lines
    if fix:
        assert [f.fix for f in found] == [fix]
        assert check("--fix", fix, str(path)).stdout.count("\n  crash: ") == 1
    torch.manual_seed(0)
    model = _import_model(path)()
    if lines:
        with pytest.raises(RuntimeError, match=r"modified by an inplace operation.*Relu"):
            model(torch.randn(2, 4)).sum().backward()
    else:
        model(torch.randn(2, 4)).sum().backward()


def test_the_named_fix_removes_the_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    torch = pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    for name in ("add_after_relu", "relu_on_relu_output"):
        body, _, fix = MODELS[name]
        path = tmp_path / f"{name}.py"
        path.write_text(TORCH_MODEL.format(body=textwrap.indent(textwrap.dedent(body).strip("\n"), " " * 8)))
        if name == "add_after_relu":  # a ReLU's output is saved even when the ReLU is not in place
            CliRunner().invoke(app, ["apply", "--fix", "relu-no-inplace", path.name])
            assert check("--fix", "relu-no-inplace,inplace-add", path.name).exit_code == 1
        assert CliRunner().invoke(app, ["apply", "--fix", fix, path.name]).exit_code == 0
        assert check("--fix", "relu-no-inplace,inplace-add", path.name).exit_code == 0
        _import_model(path)()(torch.randn(2, 4)).sum().backward()


def test_mmcv_conv_module_and_layers_from_a_base_class():
    source = textwrap.dedent('''
        from mmcv.cnn import ConvModule, build_activation_layer
        from torch import nn


        class Base(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = ConvModule(4, 4, 3, padding=1)  # ReLU by default
                self.plain = ConvModule(4, 4, 3, act_cfg=None)
                self.act = build_activation_layer(dict(type='ReLU', inplace=True))
                self.block = nn.Sequential(nn.Conv2d(4, 4, 1), nn.ReLU())


        class Child(Base):
            def forward(self, x):
                a = self.conv(x)
                a += x
                b = self.plain(x)
                b += x
                c = self.act(self.block(x))
                def inner(y):
                    y *= 2
                    return y
                return a, b, c, inner(self.conv(x))
    ''')
    found = inplace_relu_overwrites(cst.parse_module(source))
    assert [(f.line, f.value, f.operation, f.relu.line, f.relu.source) for f in found] == [
        (18, "a", "augmented assignment", 17, "self.conv (ConvModule)"),
        (21, "self.block(x)", "in-place ReLU", 21, "self.block (nn.Sequential)"),
    ]


def test_cli_output_exit_codes_and_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "clean.py").write_text("import torch\n\ndef f(x):\n    return torch.relu(x) + 1\n")
    clean = check("clean.py")
    assert (clean.exit_code, clean.stdout) == (0, "")
    (tmp_path / "broken.py").write_text("def f(x:\n    x.relu_()\n")
    broken = check("clean.py", "broken.py", "missing.py")
    assert broken.exit_code == 2
    assert "error: broken.py: syntax error" in broken.stderr and "error: missing.py: no such file" in broken.stderr
    assert "nothing found in the 1 file checked, 2 errors." in broken.stderr


def test_the_bundled_examples_each_show_their_crash():
    examples = Path(__file__).parent.parent / "examples"
    result = check("--format", "json", str(examples))
    assert result.exit_code == 1
    findings = json.loads(result.stdout)["findings"]
    crashes = [(Path(f["path"]).name, f["line"], f["rule"]) for f in findings if f["severity"] == "crash"]
    assert crashes == [("bottleneck.py", 17, "relu-no-inplace")]
    # The AMP config's RPN is fixed in its _base_, as apply fixes it: one change for every inheritor.
    assert ("faster-rcnn_r50_fpn.py", "split-thr") in [(Path(f["path"]).name, f["rule"]) for f in findings]
    alone = check("--format", "json", str(examples / "configs" / "faster_rcnn_amp_2666x1600.py"))
    [finding] = json.loads(alone.stdout)["findings"]
    assert (finding["rule"], finding["severity"], finding["details"]["boxes"]) == ("split-thr", "crash", 10000)
