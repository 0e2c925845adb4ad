"""amp-off beyond its golden texts: the fixed configs resolve to full precision and build.

The golden files pin the exact text; these tests check what the text means, with mmengine
(resolved configs) and torch (the optimizer wrapper it builds).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from autofix.catalogue.amp_off import AmpOff
from autofix.engine import ConfigSession, rewrite_at, rewrite_source, run
from autofix.filekind import detect_kind
from autofix.mmconfig import resolve, unexpected_changes
from autofix.rule import FileKind

GOLDEN = Path(__file__).parent / "golden" / "amp-off"
CONFIG_CASES = sorted(
    p for p in GOLDEN.glob("*.py")
    if not p.name.endswith(".expected.py") and detect_kind(p.read_text()) is FileKind.CONFIG
)


@pytest.mark.parametrize("case", CONFIG_CASES, ids=lambda p: p.stem)
def test_golden_config_is_full_precision_and_changes_only_intended_keys(case: Path):
    fixer = AmpOff()
    expected = case.with_name(case.stem + ".expected.py")
    before, after = resolve(case, {}), resolve(expected, {})
    if expected.read_text() == case.read_text():
        assert fixer.problem(before, {}) is None  # left alone because there was nothing to do
        return
    assert fixer.problem(before, {}), "a golden case that changes should start with AMP on"
    assert fixer.problem(after, {}) is None
    changed, unexpected = unexpected_changes(before, after, fixer.intended_keys)
    assert changed and not unexpected


def _build_optim_wrapper(config_path: Path):
    import torch
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper

    config = Config.fromfile(config_path, lazy_import=False, import_custom_modules=False)
    return build_optim_wrapper(torch.nn.Linear(2, 2), config.optim_wrapper)


# Real mmdet 3.3.0 configs, one per shape: inherited through a chain with loss_scale (ocsort ->
# bytetrack -> yolox), in-file with loss_scale (yolov3), `_base_.optim_wrapper.type` (faster
# rcnn), inherited without loss_scale and with paramwise_cfg (swin-s -> swin-t amp), a full
# dict with clip_grad (solo).
REAL_CONFIGS = [
    "ocsort/ocsort_yolox_x_8xb4-amp-80e_crowdhuman-mot17halftrain_test-mot17halfval.py",
    "yolo/yolov3_d53_8xb8-amp-ms-608-273e_coco.py",
    "faster_rcnn/faster-rcnn_r50_fpn_amp-1x_coco.py",
    "swin/mask-rcnn_swin-s-p4-w7_fpn_amp-ms-crop-3x_coco.py",
    "solo/solo_r50_fpn_8xb8-lsj-200e_coco.py",
]


@pytest.mark.parametrize("relative", REAL_CONFIGS)
def test_fixed_real_config_builds_a_full_precision_optim_wrapper(relative: str, corpus_copy: Path):
    from mmengine.optim import OptimWrapper

    leaf = corpus_copy / relative
    original = leaf.read_text()
    report = run([leaf], [AmpOff()], {}, write=True)  # this one file: its bases stay as shipped
    assert [r.status for r in report.results] == ["changed"]
    assert leaf.read_text() != original
    wrapper = _build_optim_wrapper(leaf)
    assert type(wrapper) is OptimWrapper  # AmpOptimWrapper is a subclass: insist on the class itself


def test_a_naive_type_swap_over_a_loss_scale_base_does_not_build(corpus_copy: Path):
    """Why amp-off removes the AMP-only keys: the child is merged into the base, keeping loss_scale."""
    leaf = corpus_copy / REAL_CONFIGS[0]
    leaf.write_text(leaf.read_text() + "\noptim_wrapper = dict(type='OptimWrapper')\n")
    naive = resolve(leaf, {})
    assert naive["optim_wrapper"]["loss_scale"] == "dynamic"
    assert "loss_scale" in AmpOff().problem(naive, {})
    with pytest.raises(TypeError, match="loss_scale"):
        _build_optim_wrapper(leaf)


def test_batch_run_fixes_the_base_where_it_lives_and_leaves_its_children_alone(tmp_path: Path):
    for name in ("schedule_1x.py", "yolox_amp.py"):
        shutil.copy(GOLDEN / "_base_" / name, tmp_path / name)
    leaves = {
        "plain_leaf.py": "_base_ = './yolox_amp.py'\ntrain_dataloader = dict(batch_size=4)\n",
        "own_amp_leaf.py": "_base_ = './yolox_amp.py'\noptim_wrapper = dict(type='AmpOptimWrapper', optimizer=dict(lr=0.01))\n",
    }
    for name, text in leaves.items():
        (tmp_path / name).write_text(text)
    report = run([tmp_path], [AmpOff()], {}, write=True)

    statuses = {Path(r.shown).name: r.status for r in report.results}
    assert statuses == {
        "schedule_1x.py": "unchanged",
        "yolox_amp.py": "changed",
        "plain_leaf.py": "unchanged",  # inherits the fixed base: nothing of its own to do
        "own_amp_leaf.py": "changed",  # sets AMP itself: edited in place, no pop needed any more
    }
    assert "optim_wrapper = dict(type='OptimWrapper')" in (tmp_path / "yolox_amp.py").read_text()
    assert (tmp_path / "own_amp_leaf.py").read_text() == leaves["own_amp_leaf.py"].replace("AmpOptimWrapper", "OptimWrapper")
    for name in leaves:
        assert AmpOff().problem(resolve(tmp_path / name, {}), {}) is None


def test_an_amp_type_computed_from_a_variable_is_replaced_in_its_definition(tmp_path: Path):
    """The shared planner sets the key in the file's own definition, whatever expression it held."""
    (tmp_path / "base.py").write_text("optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.01))\n")
    config = tmp_path / "config.py"
    config.write_text("_base_ = './base.py'\nwrapper_type = 'Amp' + 'OptimWrapper'\noptim_wrapper = dict(type=wrapper_type)\n")
    result = rewrite_at(config, config.read_text(), [AmpOff()], {}, ConfigSession())
    assert result.text.endswith("optim_wrapper = dict(type='OptimWrapper')\n")
    config.write_text(result.text)
    assert AmpOff().problem(resolve(config, {}), {}) is None


def test_a_call_with_unpacked_arguments_is_left_alone_with_a_note():
    source = "from mmengine.optim import AmpOptimWrapper\n\ndef build(**cfg):\n    return AmpOptimWrapper(**cfg)\n"
    result = rewrite_source(source, [AmpOff()], kind=FileKind.MODEL)
    assert result.text == source
    assert any("**kwargs" in note for note in result.notes)


def test_changed_configs_carry_the_run_time_amp_warning():
    case = GOLDEN / "inherited_loss_scale.py"
    result = rewrite_at(case, case.read_text(), [AmpOff()], {}, ConfigSession())
    assert any("--amp" in note for note in result.notes)
    assert any("GPU memory" in note for note in result.notes)


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        (
            "dict(loss_scale='dynamic',\n    # the full-precision type\n    type='AmpOptimWrapper')",
            "dict(\n    # the full-precision type\n    type='OptimWrapper')",
        ),
        (
            "{\n    'loss_scale': 'dynamic',  # AMP only\n    # the full-precision type\n    'type': 'AmpOptimWrapper'}",
            "{\n    # the full-precision type\n    'type': 'OptimWrapper'}",
        ),
        (
            "dict(\n    type='AmpOptimWrapper',\n    loss_scale='dynamic',\n    # end of the wrapper\n)",
            "dict(\n    type='OptimWrapper',\n    # end of the wrapper\n)",
        ),
        (
            "dict(\n    type='AmpOptimWrapper',\n    loss_scale='dynamic'\n    # end of the wrapper\n)",
            "dict(\n    type='OptimWrapper',\n    # end of the wrapper\n)",
        ),
    ],
    ids=["first-key-call", "first-key-dict", "last-key", "last-key-no-comma"],
)
def test_comment_lines_beside_a_removed_key_stay(literal: str, expected: str):
    """The removed key's own trailing comment may go; the lines about the key after it, or closing the
    literal, may not."""
    source = f"wrapper = {literal}\nrunner = build(wrapper)\n"
    result = rewrite_source(source, [AmpOff()], kind=FileKind.SCRIPT)
    assert result.text == f"wrapper = {expected}\nrunner = build(wrapper)\n"
