"""Tell an OpenMMLab config from ordinary Python (backbones, heads, scripts, mmcv sources)."""

from __future__ import annotations

import re

from autofix.rule import FileKind

_INHERITS = re.compile(r"^(_base_\s*=|with\s+read_base\s*\(\s*\)\s*:)", re.MULTILINE)
_DEFINES_CODE = re.compile(r"^(class|def|async\s+def)\s", re.MULTILINE)
# Top-level keys that mmengine (3.x) or mmcv/mmdet 2.x configs set.
_CONFIG_KEYS = (
    "model|optim_wrapper|optimizer|optimizer_config|lr_config|param_scheduler|train_cfg|val_cfg"
    "|test_cfg|train_dataloader|val_dataloader|test_dataloader|train_pipeline|test_pipeline|data"
    "|dataset_type|data_root|default_scope|default_hooks|runner|log_config|checkpoint_config"
    "|auto_scale_lr|fp16|load_from|resume_from|work_dir|workflow|evaluation"
)
_SETS_CONFIG_KEY = re.compile(rf"^({_CONFIG_KEYS})\s*=", re.MULTILINE)


def detect_kind(text: str) -> FileKind:
    """A config inherits (``_base_``/``read_base``) or sets config keys without defining code."""
    if _INHERITS.search(text):
        return FileKind.CONFIG
    if _SETS_CONFIG_KEY.search(text) and not _DEFINES_CODE.search(text):
        return FileKind.CONFIG
    return FileKind.MODEL
