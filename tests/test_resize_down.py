"""resize-down: the size rules, the keys it may change, its golden configs judged by mmengine, and
the report's case end to end through the CLI on real mmdet 3.3.0 configs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from autofix.catalogue.resize_down import ResizeDown, _fitted, _Target
from autofix.cli import app
from autofix.engine import ConfigSession, rewrite_at
from autofix.mmconfig import resolve, unexpected_changes, value_at
from autofix.rule import TransformFailed

TARGET = _Target(1333, 800)
GOLDEN = Path(__file__).parent / "golden" / "resize-down"


def fitted(size, keep_ratio=True, kind="Resize", key="scale", target=TARGET):
    return _fitted({"type": kind, key: size, "keep_ratio": keep_ratio}, key, target)


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((2666, 1600), (1333, 800)),  # the report
        ((1600, 2666), (800, 1333)),  # order kept
        ((600, 4200), (600, 1333)),  # DETR: the short edge fits and stays
        ([2666, 1600], [1333, 800]),  # written form kept
        ((1333, 800), (1333, 800)),
        ((1024, 1024), (1024, 800)),
        (1024, (1024, 800)),  # an int n means (n, n)
        (800, 800),
    ],
)
def test_keep_ratio_caps_each_edge_in_the_pairs_order(size, expected):
    result = fitted(size)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize(
    ("size", "expected"),
    [((2666, 1600), (1333, 800)), ((2000, 1000), (1333, 666)), ((1600, 1600), (800, 800)), ((1000, 600), (1000, 600))],
)
def test_exact_sizes_shrink_by_one_factor_rounded_down(size, expected):
    assert fitted(size, keep_ratio=False) == expected


def test_defaults_follow_the_library_mmcv2_exact_mmdet2_keep_ratio():
    assert _fitted({"type": "Resize", "scale": (2000, 1000)}, "scale", TARGET) == (1333, 666)
    assert _fitted({"type": "Resize", "img_scale": (2000, 1000)}, "img_scale", TARGET) == (1333, 800)


def test_lists_of_sizes():
    assert fitted([(480, 1333), (600, 4200)], kind="RandomChoiceResize", key="scales") == [(480, 1333), (600, 1333)]
    assert fitted([(1333, 640), (2000, 1200)], key="img_scale") == [(1333, 640), (1333, 800)]
    # RandomResize draws each position between the ends, so the largest draw is (max, max).
    assert fitted([(1333, 640), (1333, 1200)], kind="RandomResize") == [(1333, 640), (1333, 800)]
    assert fitted([(2048, 800), (2048, 1024)], kind="RandomResize") == [(1333, 800), (1333, 800)]
    # 1333 / 2000 < 800 / 1200: one factor for both ends, rounded down
    assert fitted([(1000, 600), (2000, 1200)], keep_ratio=False, kind="RandomResize") == [(666, 399), (1333, 799)]


@given(
    st.tuples(st.integers(1, 5000), st.integers(1, 5000)),
    st.tuples(st.integers(1, 3000), st.integers(1, 3000)),
)
def test_keep_ratio_bounds_hold_and_no_edge_that_fits_shrinks(pair, scale):
    target = _Target(*scale)
    new = fitted(pair, target=target)
    assert max(new) <= target.long and min(new) <= target.short
    caps = target.caps_for(pair)
    for old_edge, new_edge, cap in zip(pair, new, caps):
        assert new_edge == min(old_edge, cap)
    assert fitted(new, target=target) == new


@given(
    st.tuples(st.integers(1, 5000), st.integers(1, 5000)),
    st.tuples(st.integers(1, 3000), st.integers(1, 3000)),
)
def test_exact_sizes_fit_keep_their_aspect_and_are_the_largest_that_do(pair, scale):
    target = _Target(*scale)
    new = fitted(pair, keep_ratio=False, target=target)
    assert max(new) <= target.long and min(new) <= target.short
    if new != pair:
        factor = min(target.long / max(pair), target.short / min(pair))
        assert all(abs(n - o * factor) < 1 for n, o in zip(new, pair))
    assert fitted(new, keep_ratio=False, target=target) == new


TRAIN_PIPELINE = [{"type": "LoadImageFromFile"}, {"type": "Resize", "scale": (2666, 1600), "keep_ratio": True}]
INTENDED_CONFIG = {
    "img_scale": (2666, 1600),
    "train_pipeline": TRAIN_PIPELINE,
    "train_dataloader": {"batch_size": 2, "dataset": {"pipeline": TRAIN_PIPELINE}},
    "test_pipeline": [{"type": "Resize", "scale": (1333, 800), "keep_ratio": True}],
    "test_dataloader": {"dataset": {"pipeline": [{"type": "Resize", "scale": (2666, 1600), "keep_ratio": True}]}},
}
MAY_CHANGE = [
    "train_dataloader.dataset.pipeline[1].scale",
    "train_dataloader.dataset.pipeline[1].scale[0]",
    "train_pipeline[1].scale[1]",  # the variable the file writes the pipeline in
    "img_scale[0]",  # the variable the file may write the size in
]
MUST_NOT_CHANGE = [
    "test_dataloader.dataset.pipeline[0].scale[0]",
    "test_pipeline[0].scale[0]",
    "train_dataloader.dataset.pipeline[1].keep_ratio",
    "train_dataloader.dataset.pipeline[0].type",
    "train_pipeline[1].type",
    "train_dataloader.batch_size",
]


@pytest.mark.parametrize("key", MAY_CHANGE)
def test_intended_keys_cover_train_sizes_and_their_variables(key):
    assert not unexpected_changes({key: 0}, {key: 1}, ResizeDown().intended(INTENDED_CONFIG, {}))[1]


@pytest.mark.parametrize("key", MUST_NOT_CHANGE)
def test_intended_keys_never_cover_test_val_or_other_keys(key):
    assert unexpected_changes({key: 0}, {key: 1}, ResizeDown().intended(INTENDED_CONFIG, {}))[1] == [key]


def test_problem_reads_only_train_pipelines_and_takes_the_scale_option_as_a_list():
    pipeline = [{"type": "Resize", "scale": (2666, 1600), "keep_ratio": True}]
    train = {"train_dataloader": {"dataset": {"type": "RepeatDataset", "dataset": {"pipeline": pipeline}}}}
    test = {"test_dataloader": {"dataset": {"pipeline": pipeline}}, "data": {"test": {"pipeline": pipeline}}}
    assert "train_dataloader.dataset.dataset.pipeline[0]" in ResizeDown().problem(train, {})
    assert ResizeDown().problem(test, {}) is None
    assert ResizeDown().problem(train, {"scale": [2666, 1600]}) is None


CONFIG_CASES = [
    case for case in sorted(GOLDEN.glob("*.py")) if not case.name.endswith(".expected.py") and "script" not in case.name
]


@pytest.mark.parametrize("case", CONFIG_CASES, ids=lambda case: case.stem)
def test_golden_configs_change_only_train_sizes_and_leave_no_oversize(case: Path, tmp_path: Path):
    """mmengine's view of each golden pair: the expected file must really fix the input."""
    options_file = case.with_suffix(".options.json")
    options = json.loads(options_file.read_text()) if options_file.exists() else {}
    fixed = case.with_name(case.stem + ".expected.py")
    before = resolve(case, {})
    after = resolve(case, {str(case.resolve()): fixed.read_text()})
    changed, unexpected = unexpected_changes(before, after, ResizeDown().intended(before, options))
    assert not unexpected
    assert ResizeDown().problem(after, options) is None
    assert bool(changed) == bool(ResizeDown().problem(before, options))
    for loader in ("test_dataloader", "val_dataloader"):
        assert value_at(after, loader.split(".")) == value_at(before, loader.split("."))
    assert value_at(after, ("data", "test")) == value_at(before, ("data", "test"))


def test_a_pipeline_shared_with_validation_cannot_be_fixed_and_says_why(tmp_path: Path):
    config = tmp_path / "shared.py"
    config.write_text(
        "train_pipeline = [dict(type='Resize', scale=(2666, 1600), keep_ratio=True)]\n"
        "train_dataloader = dict(dataset=dict(pipeline=train_pipeline))\n"
        "val_dataloader = dict(dataset=dict(pipeline=train_pipeline))\n"
    )
    with pytest.raises(TransformFailed, match="val_dataloader"):
        rewrite_at(config, config.read_text(), [ResizeDown()], {}, ConfigSession())


# --- end to end, on mmdet 3.3.0's own configs ---------------------------------------------------

REPORT_LEAF = """\
_base_ = './faster-rcnn_r50_fpn_1x_coco.py'

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(2666, 1600), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(type='AmpOptimWrapper')
"""


@pytest.fixture
def faster_rcnn_tree(mmdet_corpus: Path, tmp_path: Path) -> Path:
    """The mmdet configs a Faster R-CNN run needs: ``_base_``, ``common`` and ``faster_rcnn``."""
    for folder in ("_base_", "common", "faster_rcnn"):
        shutil.copytree(mmdet_corpus / folder, tmp_path / folder)
    return tmp_path


def test_cli_fixes_the_reports_config_and_leaves_the_test_pipeline(faster_rcnn_tree: Path):
    leaf = faster_rcnn_tree / "faster_rcnn" / "faster-rcnn_r50_fpn_2666x1600-amp_coco.py"
    leaf.write_text(REPORT_LEAF)
    before = resolve(leaf, {})
    assert value_at(before, ("train_dataloader", "dataset", "pipeline"))[2]["scale"] == (2666, 1600)

    result = CliRunner().invoke(app, ["apply", "--fix", "resize-down", "--verify", str(leaf)])

    assert result.exit_code == 0, result.output
    assert "-    dict(type='Resize', scale=(2666, 1600), keep_ratio=True),\n" in result.stdout
    assert "+    dict(type='Resize', scale=(1333, 800), keep_ratio=True),\n" in result.stdout
    assert "changes training results" in result.stderr
    after = resolve(leaf, {})
    assert value_at(after, ("train_dataloader", "dataset", "pipeline"))[2] == {
        "type": "Resize", "scale": (1333, 800), "keep_ratio": True
    }
    for loader in ("val_dataloader", "test_dataloader"):
        assert value_at(after, loader.split(".")) == value_at(before, loader.split("."))
    assert value_at(after, ("test_dataloader", "dataset", "pipeline"))[1]["scale"] == (1333, 800)
    changed, _ = unexpected_changes(before, after, [])
    assert changed == ["train_dataloader.dataset.pipeline[2].scale[0]", "train_dataloader.dataset.pipeline[2].scale[1]",
                       "train_pipeline[2].scale[0]", "train_pipeline[2].scale[1]"]
    assert CliRunner().invoke(app, ["apply", "--fix", "resize-down", "--dry-run", str(leaf)]).exit_code == 0


def test_cli_on_a_folder_fixes_the_shared_base_once_and_not_its_leaves(faster_rcnn_tree: Path):
    base = faster_rcnn_tree / "_base_" / "datasets" / "coco_detection.py"
    shipped = base.read_text()
    base.write_text(shipped.replace(
        "dict(type='Resize', scale=(1333, 800), keep_ratio=True),\n    dict(type='RandomFlip'",
        "dict(type='Resize', scale=(2666, 1600), keep_ratio=True),\n    dict(type='RandomFlip'", 1
    ))
    configs = sorted((faster_rcnn_tree / "faster_rcnn").glob("*.py"))
    before = {path: resolve(path, {}) for path in configs}
    leaf = faster_rcnn_tree / "faster_rcnn" / "faster-rcnn_r50_fpn_1x_coco.py"
    leaf_text = leaf.read_text()
    assert ResizeDown().problem(before[leaf], {})

    result = CliRunner().invoke(app, ["apply", "--fix", "resize-down", str(base), str(faster_rcnn_tree / "faster_rcnn")])

    assert result.exit_code == 0, result.output
    assert base.read_text() == shipped  # the train Resize is (1333, 800) again; the test one never moved
    assert leaf.read_text() == leaf_text  # it inherits the fix: no override stamped into it
    for path, config in before.items():
        after = resolve(path, {})
        assert ResizeDown().problem(after, {}) is None, path.name
        assert not unexpected_changes(config, after, ResizeDown().intended(config, {}))[1], path.name
        assert value_at(after, ("test_dataloader",)) == value_at(config, ("test_dataloader",)), path.name


def test_explain_text_is_dedented_with_its_sections():
    doc = ResizeDown.doc()
    for section in ("\n## What it does\n", "\n## Why\n", "\n## Fix safety\n"):
        assert section in doc
    assert "\n    " not in doc.split("## What it does")[0]
