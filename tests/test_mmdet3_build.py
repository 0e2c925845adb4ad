"""Oracle 2 of ``autofix migrate``: a migrated config builds under mmdet 3.3.0 on CPU wherever its official port
does (``mmdet3_build``; mmdet lives in ``.cache/mmdet3-site``, never in autofix's environment)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

import pytest
from corpus import MMDET
from migration.frozen import OLD, frozen_pairs
from mmdet3_build import PARTS, build, lost_parts

from autofix.engine import run
from autofix.mmconfig import base_paths
from autofix.registry import resolve_fix_ids

# Official 3.3.0 configs of different families and dataset wrappers, built in the default run.
OFFICIAL_SAMPLE = (
    "faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py",
    "mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py",
    "cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py",
    "htc/htc_r50_fpn_1x_coco.py",
    "retinanet/retinanet_r50_fpn_1x_coco.py",
    "retinanet/retinanet_r18_fpn_8xb8-amp-lsj-200e_coco.py",  # AmpOptimWrapper, RepeatDataset
    "fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py",
    "detr/detr_r50_8xb2-150e_coco.py",
    "deformable_detr/deformable-detr-refine-twostage_r50_16xb2-50e_coco.py",
    "yolox/yolox_s_8xb8-300e_coco.py",  # MultiImageMixDataset
    "yolo/yolov3_d53_8xb8-ms-608-273e_coco.py",
    "ssd/ssd300_coco.py",
    "solo/solo_r50_fpn_1x_coco.py",
    "pascal_voc/faster-rcnn_r50_fpn_1x_voc0712.py",  # ConcatDataset inside RepeatDataset, VOCMetric
    "strong_baselines/mask-rcnn_r50_fpn_rpn-2conv_4conv1fc_syncbn-all_lsj-100e_coco.py",  # mmcv's SyncBatchNorm
)
# 2.28.2 configs migrated in the default run, with their official 3.3.0 ports.
MIGRATED_SAMPLE = {
    "faster_rcnn/faster_rcnn_r50_fpn_1x_coco.py": "faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py",
    "mask_rcnn/mask_rcnn_r50_fpn_1x_coco.py": "mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py",
    "retinanet/retinanet_r50_fpn_1x_coco.py": "retinanet/retinanet_r50_fpn_1x_coco.py",
    "cascade_rcnn/cascade_mask_rcnn_r50_fpn_1x_coco.py": "cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py",
    "fcos/fcos_r50_caffe_fpn_gn-head_1x_coco.py": "fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py",
}
# Configs the checker must judge as failing: (file, text, the part that fails, a missing package or download).
# ``{base}`` stands for the official Faster R-CNN config.
BROKEN = {
    "legacy_pipeline.py": (
        (
            "_base_ = {base}\n"
            "train_dataloader = dict(dataset=dict(pipeline=[dict(type='LoadImageFromFile'), dict(type='Collect')]))\n"
        ),
        "transforms", False,
    ),
    "missing_base.py": ("_base_ = './nowhere.py'\n", "load", False),
    "needs_mmpretrain.py": ("_base_ = {base}\ncustom_imports = dict(imports=['mmpretrain.models'])\n", "load", True),
    "kills_its_process.py": ("stop = __import__('os')._exit(3)\n", "process", False),
}


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """The broken configs, then the official sample, in one batch (one process, one mmdet import)."""
    folder = tmp_path_factory.mktemp("broken")
    base = repr(str(MMDET.configs() / OFFICIAL_SAMPLE[0]))
    for name, (text, _, _) in BROKEN.items():
        (folder / name).write_text(text.replace("{base}", base))
    official = [MMDET.configs() / name for name in OFFICIAL_SAMPLE]
    results = build([*(folder / name for name in BROKEN), *official], cwd=MMDET.configs().parent)
    return {path.name if path.parent == folder else path.relative_to(MMDET.configs()).as_posix(): result
            for path, result in results.items()}


def test_official_sample_builds(checked: dict[str, dict]) -> None:
    failed = {name: checked[name]["error"] for name in OFFICIAL_SAMPLE if not checked[name]["ok"]}
    assert failed == {}
    # Each part was there to build: an empty pipeline or a missing optim wrapper would pass vacuously.
    assert {name: [part for part in PARTS if checked[name]["parts"][part] != "ok"] for name in OFFICIAL_SAMPLE} == {
        name: [] for name in OFFICIAL_SAMPLE
    }


@pytest.mark.parametrize("name", BROKEN)
def test_a_failing_config_is_reported_and_the_batch_goes_on(checked: dict[str, dict], name: str) -> None:
    _, part, environment = BROKEN[name]
    assert (checked[name]["ok"], checked[name]["failed"], checked[name]["environment"]) == (False, part, environment)


def test_the_failure_names_its_cause(checked: dict[str, dict]) -> None:
    assert checked["legacy_pipeline.py"]["error"].startswith("KeyError: 'Collect is not in the mmdet::transform")
    assert checked["legacy_pipeline.py"]["parts"]["model"] == "ok"
    assert "mmpretrain" in checked["needs_mmpretrain.py"]["error"]
    assert checked["kills_its_process.py"]["error"] == "exit status 3"


def test_autofix_never_imports_mmdet(checked: dict[str, dict]) -> None:
    assert "mmdet" not in sys.modules and importlib.util.find_spec("mmdet") is None


def test_a_part_is_lost_where_the_port_builds_it_and_the_migrated_config_does_not() -> None:
    port = {"parts": {"model": "ok", "transforms": "ok", "optim_wrapper": "ok", "evaluator": "ImportError: x"}}
    migrated = {"parts": {"model": "ok", "transforms": "KeyError: 'Collect'", "optim_wrapper": "absent",
                          "evaluator": "KeyError: y"}}
    assert lost_parts(migrated, port) == {"transforms": "KeyError: 'Collect'", "optim_wrapper": "absent"}


def migrate_copy(tree: Path, names: list[str], target: Path) -> Path:
    """Copy ``names`` and every file they inherit from into ``target`` (same relative paths), and migrate it."""
    pending = [tree / name for name in names]
    while pending:
        path = pending.pop()
        copy = target / path.relative_to(tree)
        if not copy.exists():
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, copy)
            pending += base_paths(path, path.read_text())
    run([target], resolve_fix_ids(["migrate-2to3"]), {}, write=True, jobs=1)
    return target


def test_migrated_sample_builds_where_the_official_port_does(tmp_path: Path) -> None:
    migrated = migrate_copy(OLD.configs(), list(MIGRATED_SAMPLE), tmp_path / "configs")
    results = build([*(migrated / name for name in MIGRATED_SAMPLE), *(MMDET.configs() / name for name in
                                                                        MIGRATED_SAMPLE.values())])
    lost = {old: lost_parts(results[migrated / old], results[MMDET.configs() / new])
            for old, new in MIGRATED_SAMPLE.items()}
    assert lost == {old: {} for old in MIGRATED_SAMPLE}
    assert all(results[MMDET.configs() / new]["ok"] for new in MIGRATED_SAMPLE.values())


def test_migrated_corpus_builds_where_the_official_ports_do(corpus_fixed_by) -> None:
    """Every paired 2.x config, migrated, builds every part its official 3.x port builds."""
    pairs = [(pair.old, pair.new) for pair in frozen_pairs()]
    fixed = corpus_fixed_by("legacy-2x-keys", OLD.name)
    migrated = fixed.folder
    jobs = os.cpu_count() or 1
    # Relative paths inside configs (a teacher's config) start above each tree's configs/ folder.
    results = {
        **build([migrated / old for old, _ in pairs], jobs, cwd=migrated.parent),
        **build([MMDET.configs() / new for _, new in pairs], jobs, cwd=MMDET.configs().parent),
    }
    refused = {os.path.realpath(result.shown): result.refused for result in fixed.report.results}
    lost = {
        old: {"lost": parts, "refused": refused.get(os.path.realpath(migrated / old), ())}
        for old, new in pairs
        if (parts := lost_parts(results[migrated / old], results[MMDET.configs() / new]))
    }
    assert lost == {}, f"{len(lost)} of {len(pairs)} migrated configs fail parts their ports build"
