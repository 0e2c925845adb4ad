"""Rule ``pipeline-rebind``: a redefined pipeline variable that no dataloader reads.

No error comes of it: training silently runs the base's pipeline. So there is no crash for
``diagnose`` to match; ``check`` finds it in the resolved config.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import libcst as cst

from autofix.config_edit import ConfigStyle, config_style
from autofix.domain.datasets import stage_datasets
from autofix.domain.pipelines import dataset_pipelines
from autofix.provenance import binds_name, mapping_items, sequence_items, written_path
from autofix.rule import (
    Applicability,
    Code,
    ConfigEdit,
    ConfigRule,
    Example,
    FileKind,
    Finding,
    KeyPath,
    SetKey,
    Severity,
    dotted_key,
)

# The pipeline variables OpenMMLab configs define and the loops whose dataloaders should read them.
PIPELINE_STAGES = {"train_pipeline": ("train",), "val_pipeline": ("val",), "test_pipeline": ("val", "test")}
_LOOPS = {"train": "training", "val": "validation", "test": "testing"}


def is_read(config: Mapping[str, Any], variable: str) -> bool:
    """Whether a dataloader of the loops ``variable`` is for holds a pipeline equal to it."""
    return any(
        held == config[variable]
        for stage in PIPELINE_STAGES[variable]
        for root, dataset in stage_datasets(config, stage)
        for _, held in dataset_pipelines(dataset, root)
    )


def stale_pipelines(config: Mapping[str, Any], stages: tuple[str, ...]) -> list[KeyPath] | None:
    """Where the ``stages``' dataloaders hold a pipeline that a variable should replace: the outermost
    pipelines of each dataset (a MultiImageMixDataset's own, a RepeatDataset's inner one, every
    dataset of a ConcatDataset). None when they hold no pipeline at all."""
    paths = []
    for root, dataset in (found for stage in stages for found in stage_datasets(config, stage)):
        pipelines = [path for path, _ in dataset_pipelines(dataset, root)]
        outermost = min(map(len, pipelines), default=0)
        paths += [path for path in pipelines if len(path) == outermost]
    return paths or None


# The base of several examples: its dataloader reads its train_pipeline.
_COCO_BASE = """
train_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(1333, 800))]
train_dataloader = dict(dataset=dict(type='CocoDataset', pipeline=train_pipeline))
"""


class PipelineRebind(ConfigRule):
    """Wire a redefined pipeline into its dataloaders.

    ## What it does
    Finds a pipeline variable (`train_pipeline`, `val_pipeline`, `test_pipeline`) that the effective
    config holds while no dataloader of its loop reads it (`train_dataloader` for the first, the
    val and test dataloaders for the others; mmdet 2.x `data.train`, `data.val`, `data.test`), and
    makes the dataloaders read it: `train_dataloader = dict(dataset=dict(pipeline=train_pipeline))`
    after the file's last assignment of the variable, through dataset wrappers (the
    MultiImageMixDataset's own pipeline, the dataset a RepeatDataset or ClassBalancedDataset wraps,
    each dataset of a ConcatDataset). New-style (`read_base`) configs get an attribute assignment;
    a file that inherits the variable without assigning it reads it as `_base_.train_pipeline`. A
    dataloader pipeline the file writes inline (not the variable) is meant and left alone.

    ## Why
    mmengine runs a config file top to bottom after its bases: the base's dataloader was built from
    the base's `train_pipeline`, and a child that assigns `train_pipeline` again (or changes
    `_base_.train_pipeline[1].scale`) only changes the variable. Training runs the base's pipeline
    with no error or warning: a changed Resize, crop or augmentation silently does nothing. A file
    that assigns its dataloader twice, the second time without `dataset=`, loses its pipeline the
    same way.

    ## Fix safety
    The training changes: that is the point. The dataloader runs the pipeline the file defines
    instead of the one its base defines, so sizes, augmentations and evaluation change; if the base's
    pipeline was what you meant, delete the variable rather than apply the fix.
    """

    id = "pipeline-rebind"
    summary = "Makes dataloaders read the pipeline variable the config redefines"
    crash = "no error: a redefined train_pipeline/test_pipeline silently changes nothing"
    tradeoff = "Training runs the pipeline the config defines instead of its base's: results change"
    applicability = Applicability.CHANGES_RESULTS
    prefilter = ("_base_", "read_base", "_pipeline")
    chain_prefilter = ("_pipeline",)
    override_comment = "the dataloaders read the pipelines this config defines"
    # A second place the same fix writes (another dataloader of the finding's loops).
    latent_message = "this dataloader, too, is made to read the pipeline the config defines"
    examples = (
        Example(
            kind=FileKind.CONFIG,
            title="a child redefines train_pipeline: its base's dataloader keeps the base's copy",
            files={"base.py": _COCO_BASE},
            before="""
            _base_ = './base.py'
            train_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(1000, 600))]
            """,
            after="""
            _base_ = './base.py'
            train_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(1000, 600))]

            # autofix pipeline-rebind: the dataloaders read the pipelines this config defines
            train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="test_pipeline reaches the val and test dataloaders",
            files={
                "base.py": """
                test_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(1333, 800))]
                val_dataloader = dict(dataset=dict(type='CocoDataset', pipeline=test_pipeline))
                test_dataloader = val_dataloader
                """,
            },
            before="""
            _base_ = './base.py'
            test_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(1600, 896))]
            """,
            after="""
            _base_ = './base.py'
            test_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(1600, 896))]

            # autofix pipeline-rebind: the dataloaders read the pipelines this config defines
            val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
            test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="a dataloader assigned again without its dataset: the last assignment gains it",
            files={
                "base.py": """
                train_pipeline = [dict(type='LoadImageFromFile'), dict(type='RandomCrop', crop_size=(512, 512))]
                train_dataloader = dict(batch_size=4, dataset=dict(type='ADE20KDataset', pipeline=train_pipeline))
                """,
            },
            before="""
            _base_ = './base.py'
            train_pipeline = [dict(type='LoadImageFromFile'), dict(type='RandomCrop', crop_size=(640, 640))]
            train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
            train_dataloader = dict(batch_size=2, num_workers=2)
            """,
            after="""
            _base_ = './base.py'
            train_pipeline = [dict(type='LoadImageFromFile'), dict(type='RandomCrop', crop_size=(640, 640))]
            train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
            train_dataloader = dict(batch_size=2, num_workers=2, dataset=dict(pipeline=train_pipeline))
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="assigned again after the dataloader read it: the override follows the last assignment",
            files={"base.py": _COCO_BASE},
            before="""
            _base_ = './base.py'
            train_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(1000, 600))]
            train_dataloader = dict(batch_size=4, dataset=dict(pipeline=train_pipeline))
            train_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(800, 480))]
            """,
            after="""
            _base_ = './base.py'
            train_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(1000, 600))]
            train_dataloader = dict(batch_size=4, dataset=dict(pipeline=train_pipeline))
            train_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(800, 480))]

            # autofix pipeline-rebind: the dataloaders read the pipelines this config defines
            train_dataloader['dataset']['pipeline'] = train_pipeline
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="_base_ attribute style: an edit of _base_.train_pipeline reaches only the variable",
            files={"base.py": _COCO_BASE},
            before="""
            _base_ = './base.py'
            _base_.train_pipeline[1].scale = (1000, 600)
            """,
            after="""
            _base_ = './base.py'
            _base_.train_pipeline[1].scale = (1000, 600)

            # autofix pipeline-rebind: the dataloaders read the pipelines this config defines
            train_dataloader = dict(dataset=dict(pipeline=_base_.train_pipeline))
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="new style (read_base): the imported dataloader keeps the imported list",
            files={"base.py": _COCO_BASE},
            before="""
            from mmengine.config import read_base

            with read_base():
                from .base import *

            train_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(1000, 600))]
            """,
            after="""
            from mmengine.config import read_base

            with read_base():
                from .base import *

            train_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(1000, 600))]

            # autofix pipeline-rebind: the dataloaders read the pipelines this config defines
            train_dataloader.dataset.pipeline = train_pipeline
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="new style: an item of the imported train_pipeline changed in place",
            files={"base.py": _COCO_BASE},
            before="""
            from mmengine.config import read_base

            with read_base():
                from .base import *

            train_pipeline[1].scale = (1000, 600)
            """,
            after="""
            from mmengine.config import read_base

            with read_base():
                from .base import *

            train_pipeline[1].scale = (1000, 600)

            # autofix pipeline-rebind: the dataloaders read the pipelines this config defines
            train_dataloader.dataset.pipeline = train_pipeline
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="mmdet 2.x data=, through a RepeatDataset",
            files={
                "base.py": """
                train_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', img_scale=(1333, 800))]
                data = dict(
                    samples_per_gpu=2,
                    train=dict(type='RepeatDataset', times=3, dataset=dict(type='CocoDataset', pipeline=train_pipeline)))
                """,
            },
            before="""
            _base_ = './base.py'
            train_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', img_scale=(1000, 600))]
            """,
            after="""
            _base_ = './base.py'
            train_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', img_scale=(1000, 600))]

            # autofix pipeline-rebind: the dataloaders read the pipelines this config defines
            data = dict(train=dict(dataset=dict(pipeline=train_pipeline)))
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="MultiImageMixDataset: its own pipeline, not the loading one of the dataset it wraps",
            files={
                "base.py": """
                train_pipeline = [dict(type='Mosaic', img_scale=(640, 640)), dict(type='PackDetInputs')]
                train_dataloader = dict(
                    dataset=dict(
                        type='MultiImageMixDataset',
                        dataset=dict(type='CocoDataset', pipeline=[dict(type='LoadImageFromFile')]),
                        pipeline=train_pipeline))
                """,
            },
            before="""
            _base_ = './base.py'
            train_pipeline = [dict(type='Mosaic', img_scale=(1600, 896)), dict(type='PackDetInputs')]
            """,
            after="""
            _base_ = './base.py'
            train_pipeline = [dict(type='Mosaic', img_scale=(1600, 896)), dict(type='PackDetInputs')]

            # autofix pipeline-rebind: the dataloaders read the pipelines this config defines
            train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="ConcatDataset: every dataset it concatenates",
            files={
                "base.py": """
                train_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(1333, 800))]
                train_dataloader = dict(
                    dataset=dict(
                        type='ConcatDataset',
                        datasets=[
                            dict(type='CocoDataset', pipeline=train_pipeline),
                            dict(type='CocoDataset', pipeline=train_pipeline),
                        ]))
                """,
            },
            before="""
            _base_ = './base.py'
            train_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(1000, 600))]
            """,
            after="""
            _base_ = './base.py'
            train_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(1000, 600))]

            # autofix pipeline-rebind: the dataloaders read the pipelines this config defines
            _base_.train_dataloader.dataset.datasets[0].pipeline = train_pipeline
            _base_.train_dataloader.dataset.datasets[1].pipeline = train_pipeline
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="left alone: the redefined pipeline is wired, or a dataloader of its loop reads it",
            files={
                "base.py": """
                train_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(1333, 800))]
                test_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(1333, 800))]
                train_dataloader = dict(dataset=dict(type='CityscapesDataset', pipeline=train_pipeline))
                val_dataloader = dict(dataset=dict(type='CityscapesDataset', pipeline=test_pipeline))
                test_dataloader = val_dataloader
                """,
            },
            before="""
            _base_ = './base.py'
            train_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(1000, 600))]
            train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
            test_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(1920, 1080))]
            test_dataloader = dict(dataset=dict(type='DarkZurichDataset', pipeline=test_pipeline))
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="left alone: a dataloader pipeline the file writes inline is meant, though the base's variable is unread",
            files={"base.py": _COCO_BASE},
            before="""
            _base_ = './base.py'
            train_dataloader = dict(dataset=dict(pipeline=[dict(type='LoadImageFromFile'), dict(type='PackDetInputs')]))
            """,
        ),
    )

    def findings(self, config: Mapping[str, Any], options: Mapping[str, Any]) -> list[Finding]:
        found = []
        for variable, stages in PIPELINE_STAGES.items():
            if not isinstance(config.get(variable), list):
                continue
            stale = None if is_read(config, variable) else stale_pipelines(config, stages)
            if stale:
                where = ", ".join(dotted_key(path) for path in stale)
                found.append(Finding(
                    f"no dataloader reads {variable}, so {' and '.join(_LOOPS[stage] for stage in stages)} "
                    f"run{'s' if len(stages) == 1 else ''} without it",
                    Severity.SILENT,
                    details={"variable": variable, "stale": [dotted_key(path) for path in stale]},
                    edits=tuple(SetKey(path, Code(variable)) for path in stale),
                    detail=f"{where} hold{'s' if len(stale) == 1 else ''} another pipeline",
                ))
        return found

    def file_findings(self, module: cst.Module, config: Mapping[str, Any], options: Mapping[str, Any]) -> list[Finding]:
        """A dataloader pipeline this file writes itself, as anything but the variable, is meant: left alone."""
        meant = []
        for finding in self.findings(config, options):
            edits = tuple(_readable_in(module, edit) for edit in finding.edits if not _written_otherwise(module, edit))
            if edits:
                meant.append(replace(finding, edits=edits))
        return meant


def _written_otherwise(module: cst.Module, edit: ConfigEdit) -> bool:
    """Whether a top-level assignment of ``module`` puts something other than the edit's variable at its path
    (an inline pipeline the user wrote on purpose, e.g. ``train_dataloader = dict(dataset=dict(pipeline=[...]))``)."""
    variable = edit.value.expression if isinstance(edit, SetKey) and isinstance(edit.value, Code) else None
    for statement in module.body:
        for small in statement.body if isinstance(statement, cst.SimpleStatementLine) else ():
            if not (isinstance(small, cst.Assign) and len(small.targets) == 1):
                continue
            target = written_path(small.targets[0].target) or ()
            target = target[1:] if target[:1] == ("_base_",) else target
            node = _at(small.value, edit.path[len(target):]) if target and edit.path[: len(target)] == target else None
            if node is not None and not _names_variable(node, variable):
                return True
    return False


def _at(node: cst.BaseExpression, rest: KeyPath) -> cst.BaseExpression | None:
    """The expression a literal holds at the key path ``rest`` below it, if it writes one there."""
    for key in rest:
        items = mapping_items(node) if isinstance(key, str) else dict(enumerate(sequence_items(node)))
        if key not in items:
            return None
        node = items[key]
    return node


def _names_variable(node: cst.BaseExpression, variable: str | None) -> bool:
    """``train_pipeline``, ``_base_.train_pipeline`` or ``{{_base_.train_pipeline}}``: the variable itself."""
    while isinstance(node, cst.Set) and len(node.elements) == 1:  # {{_base_.x}} parses as a set in a set
        node = node.elements[0].value
    name = node.attr.value if isinstance(node, cst.Attribute) else node.value if isinstance(node, cst.Name) else None
    return name is not None and name == variable


def _readable_in(module: cst.Module, edit: ConfigEdit) -> ConfigEdit:
    """The edit with its variable named as ``module`` can read it: an old-style file that does not
    assign the variable reads the merged base's as ``_base_.<name>``."""
    if not isinstance(edit, SetKey) or not isinstance(edit.value, Code) or config_style(module) is ConfigStyle.LAZY:
        return edit
    name = edit.value.expression
    if any(binds_name(statement, name) for statement in module.body):
        return edit
    return SetKey(edit.path, Code(f"_base_.{name}"))

