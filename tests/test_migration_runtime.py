"""The runtime group on the real trees: the migrated 2.x default runtime resolves to the 3.x one, and the
configs that write their own runtime keys resolve to what their official 3.x ports give (where the port kept
the 2.x setting: its deviations, such as the SSD ports' cudnn_benchmark=False, are the oracle's allowlist)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from corpus import CORPORA, MMDET

from autofix.migration.runtime import legacy_hooks
from autofix.mmconfig import resolve

OLD = CORPORA["mmdet-2.28.2"]
RUNTIME_KEYS = ("default_scope", "default_hooks", "env_cfg", "vis_backends", "visualizer", "log_processor",
                "log_level", "load_from", "resume", "custom_hooks")
# 2.x config -> (official 3.x port, the runtime keys the 2.x config writes or changes and the port kept).
PORTS = {
    "retinanet/retinanet_r50_fpn_90k_coco.py": (
        "retinanet/retinanet_r50_fpn_90k_coco.py", ("default_hooks", "log_processor")),  # IterBasedRunner
    "faster_rcnn/faster_rcnn_r50_caffe_fpn_90k_coco.py": (
        "faster_rcnn/faster-rcnn_r50-caffe_fpn_90k_coco.py", ("default_hooks", "log_processor")),
    "efficientnet/retinanet_effb3_fpn_crop896_8x4_1x_coco.py": (
        "efficientnet/retinanet_effb3_fpn_8xb4-crop896-1x_coco.py", ("env_cfg",)),  # cudnn_benchmark
    "nas_fpn/retinanet_r50_fpn_crop640_50e_coco.py": ("nas_fpn/retinanet_r50_fpn_crop640-50e_coco.py", ("env_cfg",)),
    "tood/tood_r50_fpn_1x_coco.py": ("tood/tood_r50_fpn_1x_coco.py", ("custom_hooks",)),  # SetEpochInfoHook
    "ssd/ssd300_coco.py": ("ssd/ssd300_coco.py", ("custom_hooks", "default_hooks")),
    "yolox/yolox_s_8x8_300e_coco.py": ("yolox/yolox_s_8xb8-300e_coco.py", ("custom_hooks",)),
    "grid_rcnn/grid_rcnn_r50_fpn_gn-head_1x_coco.py": (
        "grid_rcnn/grid-rcnn_r50_fpn_gn-head_1x_coco.py", ("default_hooks",)),
}


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping) and value:
        return {key: item for name, child in value.items() for key, item in _flat(child, f"{prefix}.{name}").items()}
    return {prefix.lstrip("."): value}


def _runtime(config: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return _flat({key: config.get(key, "absent") for key in keys})


@pytest.fixture(scope="module")
def migrated(corpus_fixed_by):
    return corpus_fixed_by("legacy-2x-keys", OLD.name).folder


def test_the_migrated_2x_default_runtime_is_the_3x_one(migrated):
    new = resolve(migrated / "_base_/default_runtime.py", {})
    official = resolve(MMDET.configs() / "_base_/default_runtime.py", {})
    assert _runtime(new, RUNTIME_KEYS) == _runtime(official, RUNTIME_KEYS)


@pytest.mark.parametrize("old_path", sorted(PORTS))
def test_runtime_keys_equal_the_official_port(migrated, old_path):
    port, keys = PORTS[old_path]
    new = resolve(migrated / old_path, {})
    official = resolve(MMDET.configs() / port, {})
    assert _runtime(new, keys) == _runtime(official, keys)


@pytest.mark.parametrize(
    ("config", "runtime", "expected"),
    [
        ({"custom_hooks": [{"type": "SetEpochInfoHook"}], "model": {"type": "TOOD"}}, False, ["SetEpochInfoHook"]),
        ({"custom_hooks": [{"type": "SetEpochInfoHook"}], "model": {"type": "MyDetector"}}, False, []),
        ({"custom_hooks": [{"type": "SyncNormHook", "num_last_epochs": 15}]}, False, ["SyncNormHook"]),
        ({"custom_hooks": [{"type": "SyncNormHook", "priority": 48}]}, False, []),
        ({"custom_hooks": [{"type": "EMAHook", "momentum": 0.001}]}, False, ["EMAHook"]),
        ({"custom_hooks": [{"type": "EMAHook", "ema_type": "ExpMomentumEMA"}]}, False, []),
        ({"custom_hooks": [{"type": "NumClassCheckHook"}]}, False, []),
        ({"custom_hooks": [{"type": "NumClassCheckHook"}]}, True, ["NumClassCheckHook"]),
        ({"custom_hooks": [{"type": "ExpMomentumEMAHook"}, {"type": "MeanTeacherHook"}]}, False,
         ["ExpMomentumEMAHook"]),
    ],
)
def test_legacy_hooks_names_what_the_migration_changes(config, runtime, expected):
    assert legacy_hooks(config, runtime) == expected
