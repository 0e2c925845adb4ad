"""File kinds come from the syntax tree: configs are loaded (executed) by mmengine, nothing else is."""

from __future__ import annotations

import ast
import textwrap

import pytest

from autofix.filekind import detect_kind
from autofix.rule import FileKind

CONFIGS = {
    "inherits": "_base_ = './base.py'\nmodel = dict(bbox_head=dict(num_classes=3))\n",
    "keys and builders in values": """
        import os
        data_root = os.path.join('data', 'coco')
        depths = [2, 2, 18, 2]
        custom_keys = {f'stage_{i}': dict(decay_mult=0.0) for i in range(len(depths))}
        stages = list(range(4))
        pipeline = [dict(type='Resize', scale=s) for s in [(1333, 800), (1000, 600)]]
        num_classes = len(('cat', 'dog'))
        model = dict(backbone=dict(depths=depths), head={{_base_.head}})
    """,
    "edits in place": """
        _base_ = './base.py'
        model = _base_.model.copy()
        model.update(dict(num_classes=3))
        model['roi_head'].bbox_head.update(num_classes=3)
        _base_.model.pop('neck')
        optim_wrapper.paramwise_cfg.custom_keys += {}
        del _base_.val_cfg
    """,
    "new style": """
        from mmengine.config import read_base

        with read_base():
            from .base import *

        model.train_cfg.rpn_proposal.nms.split_thr = 12001
    """,
    "branches": """
        try:
            import mmdet
            scope = 'mmdet'
        except ImportError:
            scope = None
        if scope:
            default_scope = scope
    """,
}
MODELS = {
    "classes": """
        import logging
        from torch import nn

        logger = logging.getLogger(__name__)


        class Head(nn.Module):
            pass
    """,
    "a package's __init__": "from .head import Head\n__all__ = ['Head']\n",
    "empty": "",
    "not Python": "def (:\n",
}
SCRIPTS = {
    "builds and runs": """
        train_cfg = dict(rpn_proposal=dict(nms_pre=2000, nms=dict(type='nms', iou_threshold=0.7)))
        runner = build_runner(train_cfg)
    """,
    "a call statement": "cfg = dict(a=1)\nRunner.from_cfg(cfg).train()\n",
    "main guard": "import sys\n\n\ndef main():\n    pass\n\n\nif __name__ == '__main__':\n    main()\n",
    "raises": "model = dict(a=1)\nraise SystemExit\n",
    "loops": "model = dict(a=1)\nfor i in range(3):\n    model[i] = i\n",
    "module-level layers": "from torch import nn\nrelu = nn.ReLU(inplace=True)\n",
}
CASES = [
    *(pytest.param(text, FileKind.CONFIG, id=f"config-{name}") for name, text in CONFIGS.items()),
    *(pytest.param(text, FileKind.MODEL, id=f"model-{name}") for name, text in MODELS.items()),
    *(pytest.param(text, FileKind.SCRIPT, id=f"script-{name}") for name, text in SCRIPTS.items()),
]


@pytest.mark.parametrize(("text", "kind"), CASES)
def test_kind(text: str, kind: FileKind):
    assert detect_kind(textwrap.dedent(text)) is kind


@pytest.mark.parametrize(("text", "kind"), [case for case in CASES if "not Python" not in case.id])
def test_kind_from_a_parsed_tree(text: str, kind: FileKind):
    source = textwrap.dedent(text)
    assert detect_kind(source, ast.parse(source)) is kind


def test_every_shipped_mmdet_config_is_a_config(mmdet_corpus):
    kinds = {p.relative_to(mmdet_corpus).as_posix(): detect_kind(p.read_text()) for p in mmdet_corpus.rglob("*.py")}
    scripts = {path for path, kind in kinds.items() if kind is FileKind.SCRIPT}
    # The three command-line tools shipped among the configs (argparse, main()), and nothing else.
    assert scripts == {f"{folder}/odinw/override_category.py" for folder in ("glip", "grounding_dino", "mm_grounding_dino")}
    assert all(kind is FileKind.CONFIG for path, kind in kinds.items() if path not in scripts)
