"""Crash fixes: a known crash, named by id, and the transforms that fix it by default."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CrashFix:
    id: str
    crash: str
    default_transforms: tuple[str, ...]
    remedies: str


CRASH_FIXES: tuple[CrashFix, ...] = (
    CrashFix(
        id="amp-nms",
        crash="RuntimeError: Index put requires the source and destination dtypes match, "
        "got Half for the destination and Float for the source (mmcv batched_nms under AMP)",
        default_transforms=("split-thr", "nms-dtype-cast"),
        remedies="split-thr on configs, nms-dtype-cast on mmcv's ops/nms.py; "
        "amp-off and resize-down are one --fix away but change training results",
    ),
    CrashFix(
        id="inplace-relu",
        crash="RuntimeError: one of the variables needed for gradient computation has been "
        "modified by an inplace operation ... ReluBackward",
        default_transforms=("relu-no-inplace",),
        remedies="relu-no-inplace",
    ),
)
