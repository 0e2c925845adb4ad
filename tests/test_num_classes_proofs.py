"""num-classes proved on the resolved config and on classifiers sized from it as mmdet sizes them (torch, CPU).

mmdet's models cannot be built in the test environment: they import mmcv, which has no CPU wheel for the torch
the tests install (mmcv-lite lacks the ops). So each head's classifier is built with torch by mmdet 3.3.0's own
formula, read from its source: ``BBoxHead`` (mmdet/models/roi_heads/bbox_heads/bbox_head.py) makes
``fc_cls = Linear(in_channels, num_classes + 1)`` (softmax, the background last; ``custom_cls_channels`` losses
aside), and ``AnchorHead`` (mmdet/models/dense_heads/anchor_head.py) ``cls_out_channels = num_classes`` when
``loss_cls.use_sigmoid`` else ``num_classes + 1``. The label of every class the dataset names must fit it.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

from autofix.catalogue.num_classes import NumClasses  # noqa: E402
from autofix.domain.datasets import dataset_sites  # noqa: E402
from autofix.domain.heads import class_counts  # noqa: E402
from autofix.engine import run  # noqa: E402
from autofix.mmconfig import resolve, value_at  # noqa: E402

BASE = """
model = dict(
    type='CascadeRCNN',
    rpn_head=dict(type='RPNHead', in_channels=256, loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True)),
    roi_head=dict(
        type='CascadeRoIHead',
        bbox_head=[
            dict(type='Shared2FCBBoxHead', fc_out_channels=1024, num_classes=80,
                 loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False)) for _ in range(3)
        ]))
train_dataloader = dict(dataset=dict(type='RepeatDataset', times=2, dataset=dict(type='CocoDataset', ann_file='t.json')))
val_dataloader = dict(dataset=dict(type='CocoDataset', ann_file='v.json'))
test_dataloader = val_dataloader
"""

# The user named four classes for training and set the heads to two: labels 2 and 3 fall outside them.
CONFIG = """
_base_ = './base.py'
metainfo = dict(classes=('cat', 'dog', 'fox', 'owl'))
train_dataloader = dict(dataset=dict(dataset=dict(metainfo=metainfo)))
head = dict(type='Shared2FCBBoxHead', fc_out_channels=1024, num_classes=2,
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False))
model = dict(roi_head=dict(bbox_head=[head, head, head]))
"""


def classifier_outputs(head: dict) -> int:
    """mmdet's classifier width for a head config (see the module docstring)."""
    sigmoid = (head.get("loss_cls") or {}).get("use_sigmoid", False)
    return head["num_classes"] + (0 if sigmoid else 1)


def class_losses(config: dict, classes: tuple[str, ...]) -> list[float]:
    """Each counted head's classifier built at mmdet's width, scored on one sample of every class."""
    torch.manual_seed(0)
    labels = torch.arange(len(classes))
    losses = []
    for path, count in class_counts(config):
        head = value_at(config, path[:-1])
        fc_cls = torch.nn.Linear(head["fc_out_channels"], classifier_outputs(head))
        assert fc_cls.out_features == count + 1
        losses.append(F.cross_entropy(fc_cls(torch.randn(len(classes), fc_cls.in_features)), labels).item())
    return losses


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    (tmp_path / "base.py").write_text(textwrap.dedent(BASE))
    (tmp_path / "config.py").write_text(textwrap.dedent(CONFIG))
    return tmp_path / "config.py"


def test_classifiers_fit_every_class_after_the_fix_and_not_before(config_path: Path):
    classes = ("cat", "dog", "fox", "owl")
    before = resolve(config_path, {})
    with pytest.raises(IndexError, match="Target 3 is out of bounds"):
        class_losses(before, classes)

    [result] = run([config_path], [NumClasses()], {}, write=True).results
    assert result.status == "changed", result.error
    after = resolve(config_path, {})

    assert [count for _, count in class_counts(after)] == [4, 4, 4]
    assert all(loss > 0 for loss in class_losses(after, classes))
    assert {site.split: site.declared_classes for site in dataset_sites(after)} == dict.fromkeys(
        ("train", "val", "test"), classes
    )
    assert value_at(after, ("model", "rpn_head")) == value_at(before, ("model", "rpn_head"))
    assert NumClasses().findings(after, {}) == []
