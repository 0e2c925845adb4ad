"""Crash fix and rule ``num-classes``: the dataset's classes and the heads' ``num_classes`` disagree."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from autofix.crashes import CrashFix, LogSignature, Remedy
from autofix.domain.datasets import (
    COCO_CLASS_COUNT,
    COCO_TYPE,
    DatasetSite,
    dataset_sites,
    is_coco_data,
    trained_classes,
)
from autofix.domain.heads import class_counts
from autofix.rule import (
    Applicability,
    ConfigRule,
    Example,
    FileKind,
    Finding,
    KeyPath,
    Option,
    SetKey,
    Severity,
    dotted_key,
)

NUM_CLASSES = CrashFix(
    id="num-classes",
    summary="The dataset's classes and heads' num_classes disagree.",
    crash="ValueError: need at least one array to concatenate (mmdet 3.x, a custom dataset without metainfo); "
    "AssertionError: The num_classes (80) in Shared2FCBBoxHead ... does not matches the length of CLASSES (mmdet 2.x)",
    what_happened=(
        "The heads of the model were built for one number of classes and the datasets name another. "
        "A custom COCO-format dataset without metainfo=dict(classes=...) keeps COCO's 80 class names; none "
        "of them is in the user's annotations, so every image is filtered out as empty and mmengine has "
        "nothing to concatenate (3.x). mmdet 2.x's NumClassCheckHook asserts the counts are equal; otherwise "
        "a label beyond the classifier trips CUDA's assertion that labels stay below n_classes in training, or a "
        "label beyond the evaluation dataset's names raises IndexError where COCO evaluation looks up its cat_ids."
    ),
    default_transforms=("num-classes",),
    remedies=(
        Remedy(
            "num-classes",
            "give every object-classifying head num_classes=len(classes), and the train, val and test "
            "datasets metainfo=dict(classes=...) (2.x: classes=)",
            "none when the classes are right; name them with --classes a,b,c when the config does not",
        ),
    ),
    signatures=(
        LogSignature(
            message=r"need at least one array to concatenate",
            raised_in=("_serialize_data",),
            place="mmengine's BaseDataset._serialize_data (mmengine/dataset/base_dataset.py), with no image left",
            raised_in_file="mmengine/dataset/base_dataset.py",
        ),
        LogSignature(
            message=r"The `?num_classes`? \(\d+\) in \w+ of \w+ does not matches the length of `?CLASSES",
            raised_in=("_check_head",),
            place="mmdet 2.x's NumClassCheckHook (mmdet/datasets/utils.py)",
            family=r"does not match(?:es)? the length of `?CLASSES",
        ),
        LogSignature(
            message=r"self\.cat_ids\[label\] IndexError: list index out of range",
            raised_in=("_det2json", "_segm2json", "results2json"),
            place="the COCO evaluation (mmdet CocoMetric.results2json, 2.x CocoDataset._det2json)",
        ),
        LogSignature(
            message=r"Assertion `t >= 0 && t < n_classes` failed",
            raised_in=("cross_entropy", "nll_loss"),
            place="torch's cross-entropy loss kernel (CUDA), with a label beyond the classifier",
        ),
    ),
    path_hint="CONFIG",
    log_examples=(
        """
        loading annotations into memory...
        Done (t=0.00s)
        creating index...
        index created!
        Traceback (most recent call last):
          File "tools/train.py", line 133, in <module>
            main()
          File "tools/train.py", line 129, in main
            runner.train()
          File "/opt/conda/lib/python3.8/site-packages/mmengine/runner/runner.py", line 1703, in train
            self._train_loop = self.build_train_loop(
          File "/opt/conda/lib/python3.8/site-packages/mmengine/runner/runner.py", line 1353, in build_dataloader
            dataset = DATASETS.build(dataset_cfg)
          File "/opt/conda/lib/python3.8/site-packages/mmengine/dataset/base_dataset.py", line 250, in __init__
            self.full_init()
          File "/opt/conda/lib/python3.8/site-packages/mmengine/dataset/base_dataset.py", line 312, in full_init
            self.data_bytes, self.data_address = self._serialize_data()
          File "/opt/conda/lib/python3.8/site-packages/mmengine/dataset/base_dataset.py", line 768, in _serialize_data
            data_bytes = np.concatenate(data_list)
          File "<__array_function__ internals>", line 180, in concatenate
        ValueError: need at least one array to concatenate
        """,
        """
        [rank0]: Traceback (most recent call last):
        [rank0]:   File "D:\\mmdetection\\tools\\train.py", line 121, in <module>
        [rank0]:     main()
        [rank0]:   File "C:\\Users\\me\\anaconda3\\envs\\openmmlab\\lib\\site-packages\\mmengine\\dataset\\base_dataset.py", line 768, in _serialize_data
        [rank0]:     data_bytes = np.concatenate(data_list)
        [rank0]: ValueError: need at least one array to concatenate
        """,
        """
        训练自己的数据集时报错，求助：
        2023-05-11 10:02:13,511 - mmdet - INFO - workflow: [('train', 1)], max: 12 epochs
        Traceback (most recent call last):
          File "tools/train.py", line 244, in <module>
            main()
          File "/home/user/mmdetection/mmdet/apis/train.py", line 244, in train_detector
            runner.run(data_loaders, cfg.workflow)
          File "/home/user/.local/lib/python3.7/site-packages/mmcv/runner/hooks/hook.py", line 72, in before_train_epoch
            self.before_epoch(runner)
          File "/home/user/mmdetection/mmdet/datasets/utils.py", line 160, in before_train_epoch
            self._check_head(runner)
          File "/home/user/mmdetection/mmdet/datasets/utils.py", line 147, in _check_head
            assert module.num_classes == len(dataset.CLASSES), \\
        AssertionError: The `num_classes` (80) in Shared2FCBBoxHead of MMDataParallel does not matches the length of `CLASSES` 4) in CocoDataset
        """,
        """
        AssertionError: The num_classes (80) in Shared2FCBBoxHead of MMDataParallel does not matches the length of CLASSES 4) in CocoDataset
        """,
        """
          File "/usr/local/lib/python3.10/dist-packages/mmdet/evaluation/metrics/coco_metric.py", line 432, in compute_metrics
            result_files = self.results2json(preds, outfile_prefix)
          File "/usr/local/lib/python3.10/dist-packages/mmdet/evaluation/metrics/coco_metric.py", line 261, in results2json
            data['category_id'] = self.cat_ids[label]
        IndexError: list index out of range
        """,
        """
        /pytorch/aten/src/ATen/native/cuda/Loss.cu:242: nll_loss_forward_reduce_cuda_kernel_2d: block: [0,0,0], thread: [3,0,0] Assertion `t >= 0 && t < n_classes` failed.
        Traceback (most recent call last):
          File "tools/train.py", line 121, in <module>
            main()
        RuntimeError: CUDA error: device-side assert triggered
        """,
    ),
)


def parse_classes(value: Any) -> tuple[str, ...]:
    """``"balloon,kangaroo"`` (or a list from TOML) -> ``('balloon', 'kangaroo')``; ValueError naming what is wrong."""
    names = value.split(",") if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)):
        raise ValueError(f"{value!r} is not a comma-separated list of class names")
    classes = tuple(str(name).strip() for name in names if str(name).strip())
    if not classes:
        raise ValueError(f"{value!r} names no class")
    repeated = sorted({name for name in classes if classes.count(name) > 1})
    if repeated:
        raise ValueError(f"{', '.join(repeated)} named more than once")
    return classes


def resized_class_weights(weights: Sequence[Any], count: int) -> list[Any] | None:
    """``[w] * old + [background]`` -> ``[w] * count + [background]``; None when the classes' weights differ
    (each belongs to one class, and the new classes' cannot be guessed)."""
    if len(set(weights[:-1])) > 1:
        return None
    return [*weights[:1]] * count + [weights[-1]]


def _agrees(value: Any, count: int) -> bool:
    return len(value) == count + 1 if isinstance(value, (list, tuple)) else value == count


def _head_finding(path: KeyPath, value: Any, classes: tuple[str, ...], source: str) -> Finding:
    count = len(classes)
    if isinstance(value, (list, tuple)):
        weights = resized_class_weights(value, count)
        message = f"{dotted_key(path)} weighs {len(value) - 1} classes but {source} names {count}"
        if weights is None:
            message += "; per-class weights cannot be guessed: write them for the new classes"
        return Finding(message, Severity.CRASH, details={"key": dotted_key(path), "classes": count},
                       edits=(SetKey(path, weights),) if weights is not None else ())
    return Finding(
        f"{dotted_key(path)} is {value} but {source} names {count} {'class' if count == 1 else 'classes'}",
        Severity.CRASH,
        details={"key": dotted_key(path), "num_classes": value, "classes": count},
        edits=(SetKey(path, count),),
        detail=f"set {path[-1]}={count}",
    )


# A base the examples inherit: COCO's 80 classes in the head, datasets that name none.
RETINANET_BASE = """
model = dict(type='RetinaNet', bbox_head=dict(type='RetinaHead', num_classes=80))
train_dataloader = dict(dataset=dict(type='CocoDataset', ann_file='train.json'))
val_dataloader = dict(dataset=dict(type='CocoDataset', ann_file='val.json'))
test_dataloader = dict(dataset=dict(type='CocoDataset', ann_file='val.json'))
"""


class NumClasses(ConfigRule):
    """Make the heads' num_classes match the dataset classes.

    ## What it does
    Takes the classes from `--classes a,b,c`, else from the classes the train datasets declare
    (`metainfo=dict(classes=...)`, mmdet 2.x `classes=`), and sets `num_classes=len(classes)` on every head
    that classifies objects: single-stage and DETR-style `bbox_head`s, each of Cascade's and Sparse R-CNN's
    list of bbox heads, `mask_head` (also SOLO's, YOLACT's and HTC's list), `mask_iou_head`, `point_head`,
    SCNet's `glbctx_head`, LAD's teacher head, a class-counting loss (`SeesawLoss`) and Mask2Former's thing
    classes in instance segmentation (its `class_weight=[1.0] * num_classes + [0.1]` resized alike). Then it
    gives every train, val and test dataset those classes, through `RepeatDataset`, `ConcatDataset`,
    `ClassBalancedDataset` and `MultiImageMixDataset` wrappers (2.x: `data.train/val/test.classes`).
    `rpn_head`, HTC's 183-class `semantic_head`, panoptic models (things and stuff), re-identification and
    tracking heads and text-prompted heads (GLIP, Grounding DINO) are left alone.

    A config that trains a `CocoDataset` with COCO's 80 default classes while its heads count otherwise, or on
    data that is not COCO's (its `data_root`/`ann_file` do not name coco), is reported: name its classes
    with `--classes`.

    ## Why
    A custom COCO-format dataset without `metainfo` keeps COCO's 80 names, none of which is in the user's
    annotations: mmdet 3.x filters out every image and mmengine fails with "ValueError: need at least one
    array to concatenate". mmdet 2.x asserts "The num_classes (80) in Shared2FCBBoxHead ... does not matches
    the length of CLASSES"; otherwise labels beyond the classifier fail CUDA's `t < n_classes` assertion,
    and labels beyond the evaluation dataset's names raise IndexError at `self.cat_ids[label]`.

    ## Fix safety
    Changes training results when the old counts were meant: the classifiers get new output sizes (a
    checkpoint's `fc_cls` no longer loads into them, as for any fine-tuning on new classes) and the datasets
    read other categories from the annotations. `--classes` must list the names in the annotation file's
    category order of choice; check them before training.
    """

    id = "num-classes"
    summary = "Sets every head's num_classes and every dataset's classes to the same class list"
    crash = NUM_CLASSES.crash
    tradeoff = "Changes results when the old counts were meant: classifiers get new sizes, datasets other categories"
    applicability = Applicability.CHANGES_RESULTS
    prefilter = ("_base_", "read_base", "num_classes", "num_things_classes", "classes", "dataset")
    chain_prefilter = ("num_classes", "num_things_classes")
    override_comment = "the heads and datasets share one class list"
    # A fixed base reaches its inheritors' copies too (yolox-tiny's stale `train_dataset` variable): only
    # class lists and class counts, nested anywhere.
    intended_keys = (
        re.compile(r".+\.(?:metainfo(?:\.classes)?|classes|num_classes|num_things_classes|class_weight)(?:\[\d+\])?"),
    )
    options = (
        Option(
            "classes",
            "the dataset's class names, in order (default: the classes the train datasets declare)",
            parse=parse_classes,
            metavar="a,b,c",
        ),
    )
    examples = (
        Example(
            kind=FileKind.CONFIG,
            title="a custom COCO-format dataset named with --classes: the head and the three datasets",
            options={"classes": "balloon,kite"},
            before="""
            model = dict(
                type='FasterRCNN',
                rpn_head=dict(type='RPNHead', in_channels=256),
                roi_head=dict(bbox_head=dict(type='Shared2FCBBoxHead', num_classes=80)))
            train_dataloader = dict(dataset=dict(type='CocoDataset', data_root='data/balloon/', ann_file='train.json'))
            val_dataloader = dict(dataset=dict(type='CocoDataset', data_root='data/balloon/', ann_file='val.json'))
            test_dataloader = dict(dataset=dict(type='CocoDataset', data_root='data/balloon/', ann_file='val.json'))
            """,
            after="""
            model = dict(
                type='FasterRCNN',
                rpn_head=dict(type='RPNHead', in_channels=256),
                roi_head=dict(bbox_head=dict(type='Shared2FCBBoxHead', num_classes=2)))
            train_dataloader = dict(dataset=dict(type='CocoDataset', data_root='data/balloon/', ann_file='train.json', metainfo=dict(classes=('balloon', 'kite'))))
            val_dataloader = dict(dataset=dict(type='CocoDataset', data_root='data/balloon/', ann_file='val.json', metainfo=dict(classes=('balloon', 'kite'))))
            test_dataloader = dict(dataset=dict(type='CocoDataset', data_root='data/balloon/', ann_file='val.json', metainfo=dict(classes=('balloon', 'kite'))))
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="classes declared in metainfo, Cascade's three bbox heads and the mask head inherited at 80",
            files={
                "base.py": """
                model = dict(
                    type='CascadeRCNN',
                    rpn_head=dict(type='RPNHead', in_channels=256),
                    roi_head=dict(
                        type='CascadeRoIHead',
                        bbox_head=[
                            dict(type='Shared2FCBBoxHead', num_classes=80),
                            dict(type='Shared2FCBBoxHead', num_classes=80),
                            dict(type='Shared2FCBBoxHead', num_classes=80),
                        ],
                        mask_head=dict(type='FCNMaskHead', num_classes=80)))
                train_dataloader = dict(dataset=dict(type='CocoDataset', ann_file='train.json'))
                val_dataloader = dict(dataset=dict(type='CocoDataset', ann_file='val.json'))
                test_dataloader = val_dataloader
                """,
            },
            before="""
            _base_ = './base.py'
            metainfo = dict(classes=('cat', 'dog', 'fox'))
            train_dataloader = dict(dataset=dict(metainfo=metainfo))
            val_dataloader = dict(dataset=dict(metainfo=metainfo))
            test_dataloader = dict(dataset=dict(metainfo=metainfo))
            """,
            after="""
            _base_ = './base.py'
            metainfo = dict(classes=('cat', 'dog', 'fox'))
            train_dataloader = dict(dataset=dict(metainfo=metainfo))
            val_dataloader = dict(dataset=dict(metainfo=metainfo))
            test_dataloader = dict(dataset=dict(metainfo=metainfo))

            # autofix num-classes: the heads and datasets share one class list
            _base_.model.roi_head.bbox_head[0].num_classes = 3
            _base_.model.roi_head.bbox_head[1].num_classes = 3
            _base_.model.roi_head.bbox_head[2].num_classes = 3
            _base_.model.roi_head.mask_head.num_classes = 3
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="_base_.x attribute style: the forgotten count is rewritten where the file sets it",
            files={"base.py": RETINANET_BASE},
            before="""
            _base_ = './base.py'
            metainfo = dict(classes=('cat', 'dog'))
            _base_.train_dataloader.dataset.metainfo = metainfo
            _base_.val_dataloader.dataset.metainfo = metainfo
            _base_.test_dataloader.dataset.metainfo = metainfo
            _base_.model.bbox_head.num_classes = 80
            """,
            after="""
            _base_ = './base.py'
            metainfo = dict(classes=('cat', 'dog'))
            _base_.train_dataloader.dataset.metainfo = metainfo
            _base_.val_dataloader.dataset.metainfo = metainfo
            _base_.test_dataloader.dataset.metainfo = metainfo
            _base_.model.bbox_head.num_classes = 2
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="new style (read_base): the train dataset's classes reach the head, val and test",
            files={"base.py": RETINANET_BASE},
            before="""
            from mmengine.config import read_base

            with read_base():
                from .base import *

            train_dataloader.dataset.metainfo = dict(classes=('cat', 'dog'))
            """,
            after="""
            from mmengine.config import read_base

            with read_base():
                from .base import *

            train_dataloader.dataset.metainfo = dict(classes=('cat', 'dog'))

            # autofix num-classes: the heads and datasets share one class list
            model.bbox_head.num_classes = 2
            val_dataloader.dataset.metainfo = dict(classes=('cat', 'dog'))
            test_dataloader.dataset.metainfo = dict(classes=('cat', 'dog'))
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="mmdet 2.x data= with a RepeatDataset: classes= on val and test, the heads' counts",
            before="""
            classes = ('a', 'b', 'c')
            model = dict(
                type='MaskRCNN',
                roi_head=dict(
                    bbox_head=dict(type='Shared2FCBBoxHead', num_classes=80),
                    mask_head=dict(type='FCNMaskHead', num_classes=80)))
            data = dict(
                samples_per_gpu=2,
                train=dict(type='RepeatDataset', times=3, dataset=dict(type='CocoDataset', classes=classes, ann_file='train.json')),
                val=dict(type='CocoDataset', ann_file='val.json'),
                test=dict(type='CocoDataset', ann_file='val.json'))
            """,
            after="""
            classes = ('a', 'b', 'c')
            model = dict(
                type='MaskRCNN',
                roi_head=dict(
                    bbox_head=dict(type='Shared2FCBBoxHead', num_classes=3),
                    mask_head=dict(type='FCNMaskHead', num_classes=3)))
            data = dict(
                samples_per_gpu=2,
                train=dict(type='RepeatDataset', times=3, dataset=dict(type='CocoDataset', classes=classes, ann_file='train.json')),
                val=dict(type='CocoDataset', ann_file='val.json', classes=('a', 'b', 'c')),
                test=dict(type='CocoDataset', ann_file='val.json', classes=('a', 'b', 'c')))
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="ConcatDataset and ClassBalancedDataset wrappers: every dataset they wrap",
            options={"classes": "cat,dog"},
            before="""
            model = dict(type='YOLOX', bbox_head=dict(type='YOLOXHead', num_classes=2))
            train_dataloader = dict(dataset=dict(
                type='ConcatDataset',
                datasets=[
                    dict(type='CocoDataset', ann_file='a.json', metainfo=dict(classes=('cat', 'dog'))),
                    dict(type='CocoDataset', ann_file='b.json'),
                ]))
            val_dataloader = dict(dataset=dict(
                type='ClassBalancedDataset', oversample_thr=1e-3, dataset=dict(type='CocoDataset', ann_file='v.json')))
            """,
            after="""
            model = dict(type='YOLOX', bbox_head=dict(type='YOLOXHead', num_classes=2))
            train_dataloader = dict(dataset=dict(
                type='ConcatDataset',
                datasets=[
                    dict(type='CocoDataset', ann_file='a.json', metainfo=dict(classes=('cat', 'dog'))),
                    dict(type='CocoDataset', ann_file='b.json', metainfo=dict(classes=('cat', 'dog'))),
                ]))
            val_dataloader = dict(dataset=dict(
                type='ClassBalancedDataset', oversample_thr=1e-3, dataset=dict(type='CocoDataset', ann_file='v.json', metainfo=dict(classes=('cat', 'dog')))))
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="Mask2Former instance segmentation: thing classes and the class weights sized by them",
            options={"classes": "cat,dog"},
            before="""
            num_things_classes = 80
            num_stuff_classes = 0
            num_classes = num_things_classes + num_stuff_classes
            model = dict(
                type='Mask2Former',
                panoptic_head=dict(
                    type='Mask2FormerHead',
                    num_things_classes=num_things_classes,
                    num_stuff_classes=num_stuff_classes,
                    loss_cls=dict(type='CrossEntropyLoss', class_weight=[1.0] * num_classes + [0.1])),
                panoptic_fusion_head=dict(
                    type='MaskFormerFusionHead',
                    num_things_classes=num_things_classes,
                    num_stuff_classes=num_stuff_classes))
            train_dataloader = dict(dataset=dict(type='CocoDataset', ann_file='a.json', metainfo=dict(classes=('cat', 'dog'))))
            """,
            after="""
            num_things_classes = 80
            num_stuff_classes = 0
            num_classes = num_things_classes + num_stuff_classes
            model = dict(
                type='Mask2Former',
                panoptic_head=dict(
                    type='Mask2FormerHead',
                    num_things_classes=2,
                    num_stuff_classes=num_stuff_classes,
                    loss_cls=dict(type='CrossEntropyLoss', class_weight=[1.0, 1.0, 0.1])),
                panoptic_fusion_head=dict(
                    type='MaskFormerFusionHead',
                    num_things_classes=2,
                    num_stuff_classes=num_stuff_classes))
            train_dataloader = dict(dataset=dict(type='CocoDataset', ann_file='a.json', metainfo=dict(classes=('cat', 'dog'))))
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="left alone: heads and datasets agree; rpn_head and HTC's 183-class semantic head do not count",
            before="""
            metainfo = dict(classes=('cat', 'dog'))
            model = dict(
                type='HybridTaskCascade',
                rpn_head=dict(type='RPNHead', in_channels=256),
                roi_head=dict(
                    bbox_head=[dict(type='Shared2FCBBoxHead', num_classes=2)],
                    semantic_head=dict(type='FusedSemanticHead', num_classes=183)))
            train_dataloader = dict(dataset=dict(type='CocoDataset', ann_file='a.json', metainfo=metainfo))
            val_dataloader = dict(dataset=dict(type='CocoDataset', ann_file='b.json', metainfo=metainfo))
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="left alone: COCO itself, trained with COCO's 80 classes",
            before="""
            model = dict(type='RetinaNet', bbox_head=dict(type='RetinaHead', num_classes=80))
            train_dataloader = dict(dataset=dict(type='CocoDataset', data_root='data/coco/', ann_file='annotations/instances_train2017.json'))
            """,
        ),
    )

    def findings(self, config: Mapping[str, Any], options: Mapping[str, Any]) -> list[Finding]:
        counts = list(class_counts(config))
        if not counts:  # no head counts classes (text-prompted models name them per dataset)
            return []
        sites = list(dataset_sites(config))
        given = options.get("classes")
        classes = parse_classes(given) if given else trained_classes(sites)
        if classes is None:
            return self._custom_coco(sites, counts)
        source = "--classes" if given else "the train dataset"
        found = [_head_finding(path, value, classes, source) for path, value in counts if not _agrees(value, len(classes))]
        for site in sites:
            declared = site.declared_classes
            # A dataset that declares none has its type's classes: known to differ for CocoDataset's 80, else
            # only replaced when --classes names them (MOTChallengeDataset's own are the train set's 'pedestrian').
            inherits_type_classes = declared is None and site.type != COCO_TYPE and not given
            if declared != classes and not inherits_type_classes:
                found.append(Finding(
                    f"{dotted_key(site.path)} ({site.split}) "
                    + (f"declares {len(declared)} other classes" if declared else "declares no classes"),
                    Severity.CRASH,
                    details={"dataset": dotted_key(site.path), "classes": len(classes)},
                    edits=(site.classes_edit(classes),),
                    detail=f"give it the {len(classes)} of {source}",
                ))
        return found

    def _custom_coco(self, sites: list[DatasetSite], counts: list[tuple[KeyPath, Any]]) -> list[Finding]:
        """A train CocoDataset left with COCO's 80 names while the heads count otherwise or the data is not COCO's."""
        defaults = [site for site in sites if site.split == "train" and site.type == COCO_TYPE
                    and site.declared_classes is None]
        if not defaults:
            return []
        other_counts = sorted({value for path, value in counts if isinstance(value, int) and value != COCO_CLASS_COUNT})
        custom = [site for site in defaults if not is_coco_data(site.dataset)]
        if not other_counts and not custom:
            return []
        why = f"its heads count {', '.join(map(str, other_counts))} classes" if other_counts else (
            f"{dotted_key(custom[0].path)} reads {custom[0].dataset.get('data_root') or custom[0].dataset.get('ann_file')!r}")
        return [Finding(
            f"{dotted_key(defaults[0].path)} keeps COCO's {COCO_CLASS_COUNT} classes but {why}",
            Severity.CRASH,
            details={"dataset": dotted_key(defaults[0].path), "head_counts": other_counts},
            detail=f"a CocoDataset trains with COCO's {COCO_CLASS_COUNT} default classes unless it names its own; "
                   "name them with --classes a,b,c",
        )]
