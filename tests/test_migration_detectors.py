"""The detectors group beyond its examples: what ``check`` names, and a model base with nothing else 2.x in it."""

from __future__ import annotations

from pathlib import Path

from autofix.catalogue.legacy_2x_keys import Legacy2xKeys, legacy_constructs
from autofix.engine import run
from autofix.migration.detectors import legacy_model_arguments
from autofix.mmconfig import resolve

SPARSE_RCNN_2X = {
    "type": "SparseRCNN",
    "pretrained": None,
    "neck": {"type": "CTResNetNeck", "in_channel": 512},
    "train_cfg": {"rcnn": [{"assigner": {"type": "HungarianAssigner", "cls_cost": {"type": "FocalLossCost"}}}]},
}


def test_the_2x_model_arguments_are_named_as_the_steps_refuse_them():
    assert legacy_model_arguments(SPARSE_RCNN_2X) == [
        "model.pretrained", "CTResNetNeck(in_channel=)", "HungarianAssigner(cls_cost=)",
    ]
    assert legacy_model_arguments({"type": "DETR", "train_cfg": {"assigner": {"type": "MaskHungarianAssigner"}}}) == [
        "MaskHungarianAssigner"
    ]


def test_a_3x_model_holds_none():
    model = {"type": "DETR", "neck": {"type": "CTResNetNeck", "in_channels": 512},
             "train_cfg": {"assigner": {"type": "HungarianAssigner", "match_costs": [{"type": "FocalLossCost"}]}}}
    assert legacy_model_arguments(model) == []


def _migrated(tmp_path: Path, files: dict[str, str]) -> tuple[dict[str, str], list]:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    report = run([tmp_path], [Legacy2xKeys()], {}, write=True)
    return {name: (tmp_path / name).read_text() for name in files}, report.results


def test_a_model_base_with_only_2x_model_arguments_is_migrated(tmp_path: Path):
    """A model base has no other 2.x key: its assigner alone makes it a 2.x config."""
    base = ("model = dict(type='DETR', train_cfg=dict(assigner=dict(type='HungarianAssigner', "
            "cls_cost=dict(type='ClassificationCost', weight=1.0))))\n")
    texts, _ = _migrated(tmp_path, {"detr.py": base, "leaf.py": "_base_ = './detr.py'\n"})
    assert texts["detr.py"] == (
        "model = dict(type='DETR', train_cfg=dict(assigner=dict(type='HungarianAssigner', match_costs=["
        "dict(type='ClassificationCost', weight=1.0), dict(type='BBoxL1Cost', weight=1.0), "
        "dict(type='IoUCost', iou_mode='giou', weight=1.0)])))\n"
    )
    assert legacy_constructs(resolve(tmp_path / "leaf.py", {})) == []


def test_a_refused_argument_stays_named_by_check(tmp_path: Path):
    base = ("model = dict(type='RetinaNet', backbone=dict(type='ResNet', depth=50, "
            "init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')))\n")
    leaf = "_base_ = './retinanet.py'\nmodel = dict(pretrained='torchvision://resnet101', backbone=dict(depth=101))\n"
    texts, results = _migrated(tmp_path, {"retinanet.py": base, "leaf.py": leaf})
    assert texts["leaf.py"] == leaf
    assert [r.refused for r in results if r.shown.endswith("leaf.py")] == [("model.pretrained",)]
    assert legacy_constructs(resolve(tmp_path / "leaf.py", {})) == ["model.pretrained"]


def test_pretrained_none_is_dropped_and_other_backbones_refused(tmp_path: Path):
    texts, results = _migrated(tmp_path, {
        "none.py": "model = dict(type='RetinaNet', pretrained=None, backbone=dict(type='ResNet', depth=50))\n",
        "swin.py": "model = dict(type='RetinaNet', pretrained='swin.pth', backbone=dict(type='SwinTransformer'))\n",
    })
    assert texts["none.py"] == "model = dict(type='RetinaNet', backbone=dict(type='ResNet', depth=50))\n"
    assert texts["swin.py"].startswith("model = dict(type='RetinaNet', pretrained='swin.pth'")
    assert {Path(r.shown).name: r.refused for r in results} == {"none.py": (), "swin.py": ("model.pretrained",)}


def test_an_argument_a_base_of_the_same_class_writes_is_dropped_there(tmp_path: Path):
    """Only a base of another class (FPN under a NASFPN) makes a child write its neck out whole."""
    base = "model = dict(type='RetinaNet', neck=dict(type='NASFPN', stack_times=7, add_extra_convs=True))\n"
    leaf = "_base_ = './nasfpn.py'\nmodel = dict(neck=dict(type='NASFPN', stack_times=5))\n"
    texts, _ = _migrated(tmp_path, {"nasfpn.py": base, "leaf.py": leaf})
    assert texts == {"nasfpn.py": "model = dict(type='RetinaNet', neck=dict(type='NASFPN', stack_times=7))\n",
                     "leaf.py": leaf}
