"""Model: what 2.x did in the pipelines and 3.x does in the model.

## What it maps
Written only in a file whose resolved config has a ``model`` and a 2.x pipeline (a dataset base gets
no ``model`` key: mmengine forbids one key in two bases), and only the values its migrated bases do
not already give (a partial ``model = dict(data_preprocessor=dict(...))`` override).

- R1: ``Normalize(mean=M, std=S, to_rgb=T)`` -> ``model.data_preprocessor=dict(type='DetDataPreprocessor',
  mean=M, std=S, bgr_to_rgb=T)``.
- R2: ``Pad(size_divisor=N)`` -> ``data_preprocessor.pad_size_divisor=N``; a train ``Pad(size=S)`` ->
  ``data_preprocessor.batch_augments=[dict(type='BatchFixedSizePad', size=S)]``, for the Pads that end
  the pixel transforms (a Pad that stays in the pipeline pads there, as in 2.x).
- R3, R43: 2.x ``Pad`` padded masks and segmentation maps too: where a Pad moves to the data preprocessor,
  ``LoadAnnotations(with_mask=True)`` -> ``pad_mask=True`` (and ``BatchFixedSizePad(pad_mask=True)``), ``with_seg=True`` -> ``pad_seg=True``.
- R33: ``SegRescale(scale_factor=f)`` -> ``model.roi_head.semantic_head.seg_scale_factor=f`` (HTC, SCNet);
  a PanopticFPNHead rescales by ``1/2**(start_level+2)`` itself, so there it maps when ``f`` is that.
- R34: the official RetinaNet, FSAF and SSD ports write ``train_cfg.sampler=dict(type='PseudoSampler')``,
  which 2.x (and 3.x) assumed when no sampler is given: written out there where the 2.x ``train_cfg`` has
  an ``assigner`` and no ``sampler``, so the model equals its port's (a no-op for training).

## Refused
- ``SegRescale`` where the model has no semantic head that rescales by that factor.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import libcst as cst

from autofix.config_edit import render
from autofix.cst_helpers import keyword_value, literal_value
from autofix.migration import FileMigration, Step
from autofix.migration.pipelines import (
    FORMATTING,
    moving_pads,
    preprocessing,
    resolved_pipelines,
    resolved_transforms,
    train_annotation_loader,
)
from autofix.rule import Example, FileKind

# DetDataPreprocessor's defaults: a key at its default need not be written.
_PREPROCESSOR_DEFAULTS = {
    "mean": None, "std": None, "bgr_to_rgb": False, "pad_size_divisor": 1, "pad_mask": False, "pad_seg": False,
    "batch_augments": None,
}
_RESCALING_SEMANTIC_HEADS = ("FusedSemanticHead", "SCNetSemanticHead")
# The detectors whose official ports write the PseudoSampler out (RetinaNet and SSD bases and their kin);
# the other single-stage ports (ATSS, GFL, PAA, VFNet, TOOD, YOLOv3, YOLOF...) leave it implied.
_PORTS_WRITING_SAMPLER = ("RetinaNet", "FSAF")
_SSD_HEADS = ("SSDHead", "PISASSDHead")


def _is_2x(config: Mapping[str, Any]) -> bool:
    """Whether the resolved config runs 2.x pipelines (formatted by Collect/DefaultFormatBundle)."""
    return any(
        isinstance(transform, Mapping) and transform.get("type") in ("Collect", *FORMATTING)
        for _, pipeline in resolved_pipelines(config)
        for transform in pipeline
    )


def _model_written(fm: FileMigration) -> cst.BaseExpression | None:
    return fm.written("model")


def _replaces_base_model(fm: FileMigration) -> bool:
    """The file's own ``model = dict(_delete_=True, ...)`` ignores what its bases give."""
    model = _model_written(fm)
    return isinstance(model, cst.Call) and literal_value(keyword_value(model.args, "_delete_") or cst.Name("None"),
                                                         None) is True


def _base_value(fm: FileMigration, *keys: str) -> Any:
    value: Any = {} if _replaces_base_model(fm) else fm.base
    for key in keys:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _set(fm: FileMigration, keys: tuple[str, ...], value: Any) -> None:
    fm.set_nested("model", keys, value if isinstance(value, cst.BaseExpression) else render(value))


def target_preprocessor(config: Mapping[str, Any]) -> dict[str, Any] | None:
    """The 3.x ``model.data_preprocessor`` the resolved 2.x ``config`` needs (None: refused, or no 2.x pipeline)."""
    fields, refusals = preprocessing(config)
    if refusals or not _is_2x(config):
        return None
    loader = train_annotation_loader(config) or {}
    panoptic = loader.get("type") == "LoadPanopticAnnotations"
    padded = bool(moving_pads(config))  # 2.x Pad padded masks and maps too; a Pad that stays still does
    if padded and loader.get("with_mask", panoptic):
        fields["pad_mask"] = True
        for augment in fields.get("batch_augments") or ():
            augment["pad_mask"] = True
    if padded and loader.get("with_seg", panoptic):
        fields["pad_seg"] = True
        for augment in fields.get("batch_augments") or ():
            augment["pad_seg"] = True
    return {"type": "DetDataPreprocessor", **fields}


def migrate_data_preprocessor(fm: FileMigration) -> None:
    if not isinstance(fm.old.get("model"), Mapping):
        return
    target = target_preprocessor(fm.old)
    if target is None:
        return
    given = _base_value(fm, "model", "data_preprocessor")
    if not isinstance(given, Mapping) or given.get("type") != "DetDataPreprocessor":
        written = {key: value for key, value in target.items() if value != _PREPROCESSOR_DEFAULTS.get(key)}
        _set(fm, ("data_preprocessor",), written)
        return
    for key in _PREPROCESSOR_DEFAULTS:
        wanted = target.get(key, _PREPROCESSOR_DEFAULTS[key])
        if given.get(key, _PREPROCESSOR_DEFAULTS[key]) != wanted:
            _set(fm, ("data_preprocessor", key), wanted)


def migrate_seg_rescale(fm: FileMigration) -> None:
    model = fm.old.get("model")
    rescales = {t.get("scale_factor", 1) for _, t in resolved_transforms(fm.old, "SegRescale")}
    if not isinstance(model, Mapping) or not rescales:
        return
    if len(rescales) > 1:
        fm.refuse("SegRescale", "the pipelines rescale segmentation maps by different factors")
        return
    factor = rescales.pop()
    roi_head = model.get("roi_head") if isinstance(model.get("roi_head"), Mapping) else {}
    semantic = roi_head.get("semantic_head") if isinstance(roi_head.get("semantic_head"), Mapping) else None
    if semantic is not None and semantic.get("type") in _RESCALING_SEMANTIC_HEADS:
        if _base_value(fm, "model", "roi_head", "semantic_head", "seg_scale_factor") != factor:
            _set(fm, ("roi_head", "semantic_head", "seg_scale_factor"), _factor_expression(factor))
        return
    panoptic = model.get("semantic_head") if isinstance(model.get("semantic_head"), Mapping) else {}
    if panoptic.get("type") == "PanopticFPNHead" and factor == 1 / 2 ** (panoptic.get("start_level", 0) + 2):
        return  # PanopticFPNHead rescales by exactly this itself
    fm.refuse("SegRescale", "the model has no semantic head that rescales the maps by this factor")


def _factor_expression(factor: Any) -> cst.BaseExpression | Any:
    """``1 / 8`` as the ports write it, for the reciprocal of a whole number."""
    if isinstance(factor, float) and factor > 0 and (1 / factor).is_integer():
        return cst.parse_expression(f"1 / {int(1 / factor)}")
    return factor


def migrate_pseudo_sampler(fm: FileMigration) -> None:
    model = fm.old.get("model")
    if not isinstance(model, Mapping) or not _is_2x(fm.old):
        return
    train_cfg = model.get("train_cfg")
    if not (isinstance(train_cfg, Mapping) and "assigner" in train_cfg and "sampler" not in train_cfg):
        return
    head = model.get("bbox_head") if isinstance(model.get("bbox_head"), Mapping) else {}
    if model.get("type") not in _PORTS_WRITING_SAMPLER and head.get("type") not in _SSD_HEADS:
        return
    if _base_value(fm, "model", "train_cfg", "sampler") == {"type": "PseudoSampler"}:
        return
    _set(fm, ("train_cfg", "sampler"), {"type": "PseudoSampler"})


STEPS = (
    Step(
        id="R1, R2, R3, R43",
        summary="Normalize and Pad of the 2.x pipelines become model.data_preprocessor",
        run=migrate_data_preprocessor,
        examples=(
            Example(
                """
                _base_ = ['./model.py', './dataset.py']
                """,
                """
                _base_ = ['./model.py', './dataset.py']
                model = dict(data_preprocessor=dict(type='DetDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_size_divisor=32, pad_mask=True))
                """,
                kind=FileKind.CONFIG,
                title="a leaf whose bases give the model and the 2.x pipelines",
                files={
                    "model.py": "model = dict(type='MaskRCNN')",
                    "dataset.py": """
                        train_pipeline = [
                            dict(type='LoadImageFromFile'),
                            dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
                            dict(type='Normalize', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True),
                            dict(type='Pad', size_divisor=32),
                            dict(type='DefaultFormatBundle'),
                            dict(type='Collect', keys=['img', 'gt_bboxes', 'gt_labels', 'gt_masks']),
                        ]
                        train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
                        """,
                },
            ),
            Example(
                """
                _base_ = './base.py'
                model = dict(backbone=dict(depth=101))
                img_norm_cfg = dict(mean=[103.53, 116.28, 123.675], std=[1.0, 1.0, 1.0], to_rgb=False)
                train_pipeline = [
                    dict(type='LoadImageFromFile'),
                    dict(type='Normalize', **img_norm_cfg),
                    dict(type='Pad', size_divisor=32),
                    dict(type='Collect', keys=['img', 'gt_bboxes', 'gt_labels']),
                ]
                """,
                """
                _base_ = './base.py'
                model = dict(backbone=dict(depth=101), data_preprocessor=dict(mean=[103.53, 116.28, 123.675], std=[1.0, 1.0, 1.0], bgr_to_rgb=False))
                train_pipeline = [
                    dict(type='LoadImageFromFile'),
                    dict(type='PackDetInputs'),
                ]
                """,
                kind=FileKind.CONFIG,
                title="a child with other normalisation: only what differs from its migrated bases",
                files={
                    "base.py": """
                        model = dict(type='FasterRCNN', backbone=dict(depth=50))
                        train_pipeline = [
                            dict(type='LoadImageFromFile'),
                            dict(type='Normalize', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True),
                            dict(type='Pad', size_divisor=32),
                            dict(type='Collect', keys=['img', 'gt_bboxes', 'gt_labels']),
                        ]
                        """,
                },
            ),
        ),
    ),
    Step(
        id="R33",
        summary="SegRescale's factor moves to the semantic head",
        run=migrate_seg_rescale,
        examples=(
            Example(
                """
                model = dict(type='HybridTaskCascade', roi_head=dict(semantic_head=dict(type='FusedSemanticHead')))
                train_pipeline = [
                    dict(type='LoadImageFromFile'),
                    dict(type='SegRescale', scale_factor=1 / 8),
                    dict(type='Collect', keys=['img', 'gt_bboxes', 'gt_labels', 'gt_semantic_seg']),
                ]
                """,
                """
                model = dict(type='HybridTaskCascade', roi_head=dict(semantic_head=dict(type='FusedSemanticHead', seg_scale_factor=1 / 8)), data_preprocessor=dict(type='DetDataPreprocessor'))
                train_pipeline = [
                    dict(type='LoadImageFromFile'),
                    dict(type='PackDetInputs'),
                ]
                """,
                kind=FileKind.CONFIG,
            ),
        ),
    ),
    Step(
        id="R34",
        summary="single-stage train_cfg writes out the PseudoSampler 2.x assumed",
        run=migrate_pseudo_sampler,
        examples=(
            Example(
                """
                model = dict(type='RetinaNet', train_cfg=dict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5)))
                train_pipeline = [dict(type='LoadImageFromFile'), dict(type='Collect', keys=['img', 'gt_bboxes'])]
                """,
                """
                model = dict(type='RetinaNet', train_cfg=dict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5), sampler=dict(type='PseudoSampler')), data_preprocessor=dict(type='DetDataPreprocessor'))
                train_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackDetInputs')]
                """,
                kind=FileKind.CONFIG,
            ),
        ),
    ),
)
