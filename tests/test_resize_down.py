"""resize-down: the size rules, the keys it may change, its golden configs judged by mmengine, and
the report's case end to end through the CLI on real mmdet 3.3.0 configs."""

from __future__ import annotations

import json
import math
import shutil
from fractions import Fraction
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


def test_the_issues_multi_scale_range_keeps_its_spread():
    """[(2048, 800), (2048, 1024)] at 1333x800 used to become [(1333, 800), (1333, 800)]."""
    assert fitted([(2048, 800), (2048, 1024)], kind="RandomResize") == [(1333, 625), (1333, 800)]
    assert fitted([(2048, 800), (2048, 1024)], kind="RandomChoiceResize", key="scales") == [(1333, 625), (1333, 800)]


def test_lists_of_sizes_scale_each_edge_by_one_factor_over_the_list():
    # long edges 1333 and 2000 by 1333/2000, short edges 640 and 1200 by 800/1200
    assert fitted([(1333, 640), (2000, 1200)], key="img_scale") == [(888, 426), (1333, 800)]
    # the order of each pair is kept: portrait members scale their first edge as the short one
    assert fitted([(400, 4200), (600, 4200)], kind="RandomChoiceResize", key="scales") == [(400, 1333), (600, 1333)]
    assert fitted([(1333, 640), (1333, 1200)], kind="RandomResize") == [(1333, 426), (1333, 800)]
    # a list that fits, or only an int member over it
    assert fitted([(480, 1333), (800, 1333)], kind="RandomChoiceResize", key="scales") == [(480, 1333), (800, 1333)]
    assert fitted([640, 1024], kind="RandomChoiceResize", key="scales") == [(640, 500), (1024, 800)]
    # keep_ratio=False: one factor for both edges, 1333 / 2000 < 800 / 1200, rounded down
    assert fitted([(1000, 600), (2000, 1200)], keep_ratio=False, kind="RandomResize") == [(666, 399), (1333, 799)]
    assert fitted([(1000, 600), (2000, 1200)], keep_ratio=False, key="img_scale") == [(666, 399), (1333, 799)]


def test_a_list_of_25_scales_stays_25_distinct_scales():
    scales = [(2000, 800 + 20 * i) for i in range(25)]  # short edges 800..1280
    new = fitted(scales, kind="RandomChoiceResize", key="scales")
    assert len(set(new)) == 25 and new[-1] == (1333, 800) and all(w == 1333 and h <= 800 for w, h in new)


def test_a_random_resize_range_is_scaled_where_mmcv_draws_its_edges():
    """mmcv draws width between the ends' widths and height between their heights: the largest draw
    (max w, max h) must fit, each position scaled by one factor."""
    assert fitted([(1000, 1600), (1800, 1200)], kind="RandomResize") == [(740, 800), (1333, 600)]


def _ratio(size, ratio_range, kind="RandomResize", key="scale", keep_ratio=True):
    return _fitted({"type": kind, key: size, "ratio_range": ratio_range, "keep_ratio": keep_ratio}, key, TARGET)


def test_ratio_range_reaches_scale_times_its_max_which_must_fit():
    assert _ratio((1024, 1024), (0.1, 2.0)) == (666, 400)  # LSJ: (1332, 800) at most
    assert _ratio((2048, 512), (0.5, 2.0)) == (666, 400)
    assert _ratio((2048, 2048), (0.5, 1.5)) == (888, 533)
    assert _ratio((1600, 1600), (0.5, 0.8)) == (1600, 1000)  # a max below 1: (1280, 800) at most
    assert _ratio((640, 400), (0.1, 2.0)) == (640, 400)  # (1280, 800) fits
    assert _ratio((2000, 1200), (0.8, 1.2), kind="Resize", key="img_scale") == (1110, 666)  # mmdet 2.x
    assert _ratio([(2000, 1200)], (0.8, 1.2), kind="Resize", key="img_scale") == [(1110, 666)]
    assert _ratio((2000, 1000), (0.5, 2.0), keep_ratio=False) == (666, 333)


def test_ratio_range_counts_only_where_mmcv_uses_it():
    assert _ratio([(1333, 640), (1333, 800)], (0.1, 2.0)) == [(1333, 640), (1333, 800)]  # a range ignores it
    assert _ratio([(1333, 800)], (0.1, 2.0), kind="RandomChoiceResize", key="scales") == [(1333, 800)]
    assert _ratio((1333, 800), (0.1, 2.0), kind="Resize") == (1333, 800)


members = st.lists(st.tuples(st.integers(1, 5000), st.integers(1, 5000)), min_size=1, max_size=8)
targets = st.tuples(st.integers(1, 3000), st.integers(1, 3000))


@given(members, targets, st.booleans())
def test_every_member_fits_each_edge_moves_by_one_factor_and_a_second_pass_changes_nothing(sizes, scale, keep_ratio):
    target = _Target(*scale)
    new = fitted(sizes, keep_ratio, kind="RandomChoiceResize", key="scales", target=target)
    assert all(max(size) <= target.long and min(size) <= target.short for size in new)
    # (old, new) for the long and the short edges, each at the place it has in its pair
    longs = [(max(old), new_size[old.index(max(old))]) for old, new_size in zip(sizes, new)]
    shorts = [(min(old), new_size[1 - old.index(max(old))]) for old, new_size in zip(sizes, new)]
    # the issue's rule: long edges by min(1, long bound / largest long edge), short edges likewise;
    # without keep_ratio the smaller factor for both
    factors = [min(Fraction(1), Fraction(bound, max(old for old, _ in group)))
               for group, bound in ((longs, target.long), (shorts, target.short))]
    for group, factor in zip((longs, shorts), factors if keep_ratio else [min(factors)] * 2):
        assert all(new_edge == max(1, math.floor(old_edge * factor)) for old_edge, new_edge in group)
    assert fitted(new, keep_ratio, kind="RandomChoiceResize", key="scales", target=target) == new


@given(st.lists(st.tuples(st.integers(1, 5000), st.integers(1, 5000)), min_size=2, max_size=2), targets, st.booleans())
def test_a_random_resize_ranges_largest_draw_fits(ends, scale, keep_ratio):
    target = _Target(*scale)
    new = fitted(ends, keep_ratio, kind="RandomResize", target=target)
    largest = (max(new[0][0], new[1][0]), max(new[0][1], new[1][1]))
    assert max(largest) <= target.long and min(largest) <= target.short
    assert fitted(new, keep_ratio, kind="RandomResize", target=target) == new


@given(st.tuples(st.integers(1, 5000), st.integers(1, 5000)), st.sampled_from([0.5, 1.0, 1.2, 1.5, 2.0, 3.0]), targets)
def test_a_scale_times_ratio_ranges_max_fits(pair, most, scale):
    target = _Target(*scale)
    new = _fitted({"type": "RandomResize", "scale": pair, "ratio_range": (0.1, most), "keep_ratio": True}, "scale",
                  target)
    # what mmcv computes at the top of the range fits, edge by edge (an edge is never below 1)
    assert all(int(edge * most) <= cap or edge == 1 for edge, cap in zip(new, target.caps_for(pair)))
    assert _fitted({"type": "RandomResize", "scale": new, "ratio_range": (0.1, most), "keep_ratio": True}, "scale",
                   target) == new


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


def test_every_pipeline_the_train_loop_can_run_counts_stage_2_ones_included():
    over = [{"type": "RandomResize", "scale": (1280, 1280), "ratio_range": (0.1, 2.0), "keep_ratio": True}]
    fits = [{"type": "Resize", "scale": (640, 640), "keep_ratio": True}]
    config = {
        "train_dataloader": {"dataset": {"pipeline": fits}},
        "custom_hooks": [
            {"type": "EMAHook", "momentum": 0.0002},
            {"type": "mmdet.PipelineSwitchHook", "switch_epoch": 280, "switch_pipeline": over},
            {"type": "YOLOXModeSwitchHook", "num_last_epochs": 15, "new_train_pipeline": over},  # mmyolo
            {"type": "YOLOXPoseModeSwitchHook", "new_train_dataset": {"pipeline": over}},  # mmpose
            {"type": "SomeHook", "val_pipeline": over, "test_dataset": {"pipeline": over}},
        ],
    }
    findings = ResizeDown().findings(config, {})
    assert [finding.details["path"] for finding in findings] == [
        "custom_hooks[1].switch_pipeline[0].scale",
        "custom_hooks[2].new_train_pipeline[0].scale",
        "custom_hooks[3].new_train_dataset.pipeline[0].scale",
    ]
    assert {finding.details["fitted"] for finding in findings} == {(666, 400)}
    assert "x 2.0 (ratio_range)" in findings[0].message
    may_change = ResizeDown().intended(config, {})
    assert not unexpected_changes({"custom_hooks[1].switch_pipeline[0].scale[0]": 1280},
                                  {"custom_hooks[1].switch_pipeline[0].scale[0]": 666}, may_change)[1]
    for key in ("custom_hooks[4].val_pipeline[0].scale[0]", "custom_hooks[1].switch_epoch"):
        assert unexpected_changes({key: 0}, {key: 1}, may_change)[1] == [key]


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


RTMDET_P6 = ["rtmdet/rtmdet_x_p6_4xb8-300e_coco.py", "rtmdet/rtmdet_l_swin_b_p6_4xb16-100e_coco.py"]


def _stage_2_resize(config: dict) -> dict:
    [hook] = [hook for hook in config["custom_hooks"] if hook["type"] == "PipelineSwitchHook"]
    [resize] = [step for step in hook["switch_pipeline"] if step["type"] == "RandomResize"]
    return resize


@pytest.mark.parametrize("relative", RTMDET_P6)
def test_rtmdet_p6_stage_2_pipeline_is_fixed_over_the_mmdet_tree(relative, corpus_fixed_by, mmdet_corpus_resolved):
    """RTMDet P6 switches to a (1280, 1280) x 2.0 pipeline for its last epochs; the whole-tree run must
    shrink it too, where the hook reads it, and leave the test pipeline alone."""
    before = mmdet_corpus_resolved[relative]
    assert _stage_2_resize(before)["scale"] == (1280, 1280) and _stage_2_resize(before)["ratio_range"] == (0.1, 2.0)
    after = resolve(corpus_fixed_by("resize-down").folder / relative, {})
    assert _stage_2_resize(after) == {**_stage_2_resize(before), "scale": (666, 400)}  # (1332, 800) at most
    assert ResizeDown().problem(after, {}) is None
    assert not unexpected_changes(before, after, ResizeDown().intended(before, {}))[1]
    assert value_at(after, ("test_dataloader",)) == value_at(before, ("test_dataloader",))


def test_explain_text_is_dedented_with_its_sections():
    doc = ResizeDown.doc()
    for section in ("\n## What it does\n", "\n## Why\n", "\n## Fix safety\n"):
        assert section in doc
    assert "\n    " not in doc.split("## What it does")[0]
