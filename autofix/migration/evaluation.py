"""Evaluation: the metric of 2.x ``evaluation`` becomes the 3.x ``val_evaluator``/``test_evaluator``.

## What it maps
The metric type follows the resolved val (test) dataset, as 2.x's ``dataset.evaluate`` did:
- R13: COCO-style sets (``CocoDataset``, ``DeepFashionDataset``, ``Objects365V1/V2Dataset``, Cityscapes boxes):
  ``evaluation = dict(metric=['bbox', 'segm'])`` -> ``val_evaluator = dict(type='CocoMetric',
  ann_file=data_root + 'annotations/instances_val2017.json', metric=['bbox', 'segm'], format_only=False)``,
  the ``ann_file`` as the val set writes it; ``proposal_fast``/``proposal`` stay CocoMetric metrics.
  LVIS sets -> ``LVISMetric`` alike.
- R14: ``VOCDataset`` ``metric='mAP'`` -> ``dict(type='VOCMetric', metric='mAP', eval_mode='11points')``
  (``'area'`` for VOC2012, as 2.x chose by year); ``WIDERFaceDataset`` -> ``VOCMetric(eval_mode='area')``.
- R15: OpenImages -> ``dict(type='OpenImagesMetric', iou_thrs=0.5, ioa_thrs=0.5, use_group_of=True,
  get_supercategory=True)``.
- R16: Cityscapes instance segmentation -> ``[CocoMetric(...), CityScapesMetric(seg_prefix=<val img_prefix with
  leftImg8bit -> gtFine>, outfile_prefix='./work_dirs/cityscapes_metric/instance')]``.
- PQ on ``CocoPanopticDataset`` -> ``CocoPanopticMetric(ann_file=..., seg_prefix=...)``.
- Options: ``classwise``, ``iou_thrs``, ``proposal_nums``, ``metric_items`` as they are;
  ``jsonfile_prefix`` -> ``outfile_prefix``; VOC/OpenImages ``iou_thr``/``ioa_thr`` -> ``iou_thrs``/``ioa_thrs``.
- ``test_evaluator = val_evaluator`` where the test set gives the same evaluator, else its own.
- A child over 3.x bases writes the partial override (``evaluation = dict(metric='segm')`` ->
  ``val_evaluator = dict(metric='segm')``), or the whole evaluator with ``_delete_=True`` where its
  dataset needs another metric type than the base's; a child that points data.val at another
  ``ann_file`` gets ``val_evaluator = dict(ann_file=...)``.
``evaluation.interval``/``dynamic_intervals`` (schedule group) and ``save_best``/``rule`` (runtime group)
are left to those groups.

## Refused (left as written, named in the file's notes)
- ``evaluation`` that is not a ``dict(...)`` literal; ``evaluation.<key>`` for EvalHook arguments with no 3.x
  evaluator equivalent (``start``, ``gpu_collect``, ``efficient_test``, ``denorm_gt_bbox``...).
- ``evaluation.metric`` that the dataset's 3.x metric does not compute (``PQ`` with boxes or masks, VOC
  ``recall`` on OpenImages...), or a dataset type with no known 3.x metric.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import libcst as cst

from autofix.config_edit import render
from autofix.cst_helpers import dict_call_keys, literal_value, mapping_value, node_code, string_value
from autofix.migration import FileMigration, Refused, Step
from autofix.migration.data import WRAPPERS, Call, Items
from autofix.mmconfig import value_at
from autofix.rule import Example

SPLITS = ("val", "test")
COCO = ("CocoDataset", "DeepFashionDataset", "Objects365V1Dataset", "Objects365V2Dataset", "CityscapesDataset")
LVIS = ("LVISDataset", "LVISV05Dataset", "LVISV1Dataset")
OPEN_IMAGES = ("OpenImagesDataset", "OpenImagesChallengeDataset")
# The metrics each 3.x metric type computes.
METRICS = {"CocoMetric": ("bbox", "segm", "proposal", "proposal_fast"), "LVISMetric": ("bbox", "segm", "proposal"),
           "VOCMetric": ("mAP", "recall"), "OpenImagesMetric": ("mAP",), "CocoPanopticMetric": ("PQ",)}
# 2.x evaluate() option -> 3.x metric argument, per metric type.
OPTIONS = {
    "CocoMetric": {"classwise": "classwise", "proposal_nums": "proposal_nums", "iou_thrs": "iou_thrs",
                   "metric_items": "metric_items", "jsonfile_prefix": "outfile_prefix"},
    "LVISMetric": {"classwise": "classwise", "proposal_nums": "proposal_nums", "iou_thrs": "iou_thrs",
                   "jsonfile_prefix": "outfile_prefix"},
    "VOCMetric": {"iou_thr": "iou_thrs", "scale_ranges": "scale_ranges", "proposal_nums": "proposal_nums"},
    "OpenImagesMetric": {"iou_thr": "iou_thrs", "ioa_thr": "ioa_thrs", "scale_ranges": "scale_ranges",
                         "use_group_of": "use_group_of"},
    "CocoPanopticMetric": {"classwise": "classwise", "jsonfile_prefix": "outfile_prefix"},
}
DEFAULT_METRIC = {"CocoMetric": "bbox", "LVISMetric": "bbox", "VOCMetric": "mAP", "OpenImagesMetric": "mAP",
                  "CocoPanopticMetric": "PQ"}
# `evaluation` keys that other groups map: the val interval (schedule) and the best checkpoint (runtime).
OTHER_GROUPS = ("interval", "dynamic_intervals", "save_best", "rule")


def _leaf(dataset: object) -> Mapping:
    while isinstance(dataset, Mapping) and dataset.get("type") in WRAPPERS:
        dataset = dataset.get("dataset")
    return dataset if isinstance(dataset, Mapping) else {}


def _metric_type(dataset: Mapping, where: str) -> str:
    kind = dataset.get("type")
    if kind in COCO:
        return "CocoMetric"
    if kind in LVIS:
        return "LVISMetric"
    if kind in ("VOCDataset", "WIDERFaceDataset"):
        return "VOCMetric"
    if kind in OPEN_IMAGES:
        return "OpenImagesMetric"
    if kind == "CocoPanopticDataset":
        return "CocoPanopticMetric"
    raise Refused(where, f"no known 3.x metric for {kind}")


def _written_dataset(fm: FileMigration, split: str) -> Mapping[str, cst.Arg]:
    """The keyword arguments of the leaf dataset of the ``<split>_dataloader`` this file writes ({} where none):
    the data group's output, which runs first."""
    node = fm.written(f"{split}_dataloader")
    if isinstance(node, cst.Name):  # test_dataloader = val_dataloader
        node = fm.written(node.value)
    node = mapping_value(node, "dataset")
    while isinstance(node, cst.Call) and "dataset" in (dict_call_keys(node) or {}):
        node = dict_call_keys(node)["dataset"].value
    return (dict_call_keys(node) or {}) if isinstance(node, cst.Call) else {}


# Where the data group put each 2.x path of a dataset: (key, data_prefix key).
MOVED = {"ann_file": ("ann_file", None), "img_prefix": ("data_prefix", "img"), "seg_prefix": ("data_prefix", "seg")}


def _path(fm: FileMigration, split: str, key: str, dataset: Mapping, whole: bool, edit=lambda path: path) -> str | None:
    """The 2.x path ``key`` of the ``split`` set as a metric reads it (joined with ``data_root``): written as
    ``data_root + 'x.json'`` where the file writes the set, else, for a whole evaluator, the resolved path.
    ``edit`` rewrites the path's text."""
    written = _written_dataset(fm, split)
    new_key, prefix_key = MOVED[key]
    node = written[new_key].value if new_key in written else None
    if prefix_key is not None:
        node = mapping_value(node, prefix_key)
    if node is None and not whole:
        return None
    if isinstance(node, cst.SimpleString) and string_value(node) is not None:
        root = written["data_root"].value if "data_root" in written else None
        path = repr(edit(string_value(node)))
        return path if root is None or string_value(root) == "" else f"{node_code(root)} + {path}"
    value = dataset.get(key)
    if value is None:
        return None
    if dataset.get("data_root") and isinstance(value, str) and not os.path.isabs(value):
        value = os.path.join(dataset["data_root"], value)
    return render(edit(value) if isinstance(value, str) else value)


def _evaluator(fm: FileMigration, split: str, options: Mapping[str, cst.Arg], whole: bool) -> Call | Items | None:
    dataset = _leaf(value_at(fm.old, ("data", split)))
    kind = _metric_type(dataset, f"data.{split}.type")
    metric_arg = options.get("metric")
    metric = literal_value(metric_arg.value, None) if metric_arg else value_at(fm.old, ("evaluation", "metric"))
    metric = DEFAULT_METRIC[kind] if metric is None else metric
    wanted = [metric] if isinstance(metric, str) else list(metric) if isinstance(metric, (list, tuple)) else None
    if wanted is None or not set(wanted) <= set(METRICS[kind]):
        raise Refused("evaluation.metric", f"{metric!r} is not a metric of {kind}")
    out = Call()
    if whole:
        if fm.inherits(f"{split}_evaluator") and isinstance(fm.base.get(f"{split}_evaluator"), Mapping):
            out.add("_delete_", "True")
        out.add("type", repr(kind))
    if kind in ("CocoMetric", "LVISMetric", "CocoPanopticMetric"):
        ann_file = _path(fm, split, "ann_file", dataset, whole)
        if ann_file is not None:
            out.add("ann_file", ann_file)
    if kind == "CocoPanopticMetric":
        seg_prefix = _path(fm, split, "seg_prefix", dataset, whole)
        if seg_prefix is not None:
            out.add("seg_prefix", seg_prefix)
    elif kind == "VOCMetric":
        if whole or metric_arg:
            out.add("metric", node_code(metric_arg.value) if metric_arg else render(metric))
        if whole:
            out.add("eval_mode", repr(_eval_mode(dataset)))
    elif kind == "OpenImagesMetric":
        if whole:
            for name, value in (("iou_thrs", 0.5), ("ioa_thrs", 0.5), ("use_group_of", True),
                                ("get_supercategory", dataset.get("get_supercategory", True))):
                if not any(OPTIONS[kind].get(option) == name for option in options):
                    out.add(name, render(value))
    elif whole or metric_arg:
        out.add("metric", node_code(metric_arg.value) if metric_arg else render(metric))
    for option, arg in options.items():
        if option in OPTIONS[kind]:
            out.add(OPTIONS[kind][option], node_code(arg.value))
        elif option != "metric" and split == "val":  # named once for both evaluators (a VOC option on COCO)
            fm.refuse(f"evaluation.{option}", f"no {kind} argument for it", keep=(f"evaluation.{option}",))
    if whole and kind == "CocoMetric" and "outfile_prefix" not in {name for name, _ in out.args}:
        out.add("format_only", "False")
    if whole and dataset.get("type") == "CityscapesDataset" and "segm" in wanted:
        return Items([out, _cityscapes(fm, split, dataset)])
    return out if out.args else None


def _eval_mode(dataset: Mapping) -> str:
    """2.x VOCDataset scored VOC2007 with 11 points and VOC2012 by area, telling them by ``img_prefix``;
    every other XML set by area."""
    if dataset.get("type") != "VOCDataset":
        return "area"
    prefix = str(dataset.get("img_prefix", ""))
    if "VOC2007" in prefix:
        return "11points"
    if "VOC2012" in prefix:
        return "area"
    raise Refused("data.val.img_prefix", "2.x VOCDataset infers the VOC year from img_prefix")


def _cityscapes(fm: FileMigration, split: str, dataset: Mapping) -> Call:
    """R16: the official ports add the Cityscapes instance metric; 2.x found its ground truth under the
    image folder with ``leftImg8bit`` -> ``gtFine``."""
    out = Call()
    out.add("type", "'CityScapesMetric'")
    seg_prefix = _path(fm, split, "img_prefix", dataset, True, lambda path: path.replace("leftImg8bit", "gtFine"))
    if seg_prefix is None:
        raise Refused(f"data.{split}.img_prefix", "the Cityscapes metric finds its ground truth beside the images")
    out.add("seg_prefix", seg_prefix)
    out.add("outfile_prefix", "'./work_dirs/cityscapes_metric/instance'")
    return out


def migrate_evaluators(fm: FileMigration) -> None:
    node = fm.written("evaluation")
    options: dict[str, cst.Arg] = {}
    if node is not None:
        keys = dict_call_keys(node) if isinstance(node, cst.Call) else None
        if keys is None:
            fm.refuse("evaluation", "not a dict(...) literal", keep=("evaluation",))
            return
        options = {name: arg for name, arg in keys.items() if name not in OTHER_GROUPS}
    known = {"metric", *(option for table in OPTIONS.values() for option in table)}
    for name in options.keys() - known:
        fm.refuse(f"evaluation.{name}", "an EvalHook argument with no 3.x evaluator equivalent",
                  keep=(f"evaluation.{name}",))
    options = {name: arg for name, arg in options.items() if name in known}
    # What this step maps: metric options, and the 2.x `data` the data group moved this run. Migrate's own
    # output has neither: it is left alone.
    data_written = fm.wrote("data")
    if not (options or data_written):
        return
    evaluators: dict[str, str] = {}
    for split in SPLITS:
        if value_at(fm.old, ("data", split)) is None:
            continue
        dataset_written = data_written and bool(_written_dataset(fm, split))
        if not (options or dataset_written or (data_written and not fm.inherits(f"{split}_evaluator"))):
            continue
        whole = not fm.inherits(f"{split}_evaluator") or _type_changed(fm, split)
        if not whole and isinstance(fm.base.get(f"{split}_evaluator"), list):
            whole = True  # a list does not merge: written whole
        try:
            evaluator = _evaluator(fm, split, options, whole)
        except Refused as refused:  # no evaluator: the metric options stay as written
            fm.refuse(refused.construct, refused.reason, keep=tuple(f"evaluation.{name}" for name in options))
            return
        if evaluator is not None:
            evaluators[split] = evaluator.code(0, len(f"{split}_evaluator = "))
    after = next((name for name in ("test_dataloader", "val_dataloader", "evaluation") if fm.written(name) is not None),
                 None)
    for split, code in evaluators.items():
        name = f"{split}_evaluator"
        if split == "test" and evaluators.get("val") == code:
            code = "val_evaluator"
        fm.set(name, code, after=after)
        after = name


def _type_changed(fm: FileMigration, split: str) -> bool:
    """The migrated bases evaluate with another metric type than this file's dataset needs."""
    try:
        kind = _metric_type(_leaf(value_at(fm.old, ("data", split))), f"data.{split}.type")
    except Refused:
        return False
    base = fm.base.get(f"{split}_evaluator")
    types = [item.get("type") for item in base] if isinstance(base, list) else [value_at(base, ("type",))]
    return kind not in types


_COCO = """
    data_root = 'data/coco/'
    data = dict(
        val=dict(
            type='CocoDataset',
            ann_file=data_root + 'annotations/instances_val2017.json',
            img_prefix=data_root + 'val2017/',
            pipeline=[]),
        test=dict(
            type='CocoDataset',
            ann_file=data_root + 'annotations/instances_val2017.json',
            img_prefix=data_root + 'val2017/',
            pipeline=[]))
    evaluation = dict(metric='bbox')
"""

STEPS = (
    Step(
        id="R13, R14, R15, R16",
        summary="the metric of `evaluation` becomes val_evaluator/test_evaluator, typed by the val dataset",
        run=migrate_evaluators,
        examples=(
            Example(
                title="a child's metric options and val set: the partial override of the base's CocoMetric",
                before="""
                _base_ = './coco.py'
                data_root = 'data/coco/'
                data = dict(
                    val=dict(ann_file=data_root + 'annotations/val_subset.json'),
                    test=dict(ann_file=data_root + 'annotations/val_subset.json'))
                evaluation = dict(metric='segm', classwise=True, jsonfile_prefix='results/segm')
                """,
                after="""
                _base_ = './coco.py'
                data_root = 'data/coco/'
                val_dataloader = dict(
                    dataset=dict(data_root=data_root, ann_file='annotations/val_subset.json'))
                test_dataloader = val_dataloader
                val_evaluator = dict(
                    ann_file=data_root + 'annotations/val_subset.json',
                    metric='segm',
                    classwise=True,
                    outfile_prefix='results/segm')
                test_evaluator = val_evaluator
                """,
                files={"coco.py": _COCO},
            ),
            Example(
                title="another dataset type needs another metric: written whole; an EvalHook argument is refused",
                before="""
                _base_ = './coco.py'
                dataset_type = 'LVISV1Dataset'
                data_root = 'data/lvis_v1/'
                data = dict(
                    val=dict(
                        type=dataset_type,
                        ann_file=data_root + 'annotations/lvis_v1_val.json',
                        img_prefix=data_root),
                    test=dict(
                        type=dataset_type,
                        ann_file=data_root + 'annotations/lvis_v1_val.json',
                        img_prefix=data_root))
                evaluation = dict(metric=['bbox', 'segm'], gpu_collect=True)
                """,
                after="""
                _base_ = './coco.py'
                dataset_type = 'LVISV1Dataset'
                data_root = 'data/lvis_v1/'
                val_dataloader = dict(
                    dataset=dict(
                        type=dataset_type,
                        data_root=data_root,
                        ann_file='annotations/lvis_v1_val.json',
                        data_prefix=dict(img='')))
                test_dataloader = val_dataloader
                val_evaluator = dict(
                    _delete_=True,
                    type='LVISMetric',
                    ann_file=data_root + 'annotations/lvis_v1_val.json',
                    metric=['bbox', 'segm'])
                test_evaluator = val_evaluator
                evaluation = dict(gpu_collect=True)
                """,
                files={"coco.py": _COCO},
            ),
            Example(
                title="a metric the dataset's 3.x metric does not compute is refused",
                before="""
                _base_ = './coco.py'
                evaluation = dict(metric='PQ')
                """,
                files={"coco.py": _COCO},
            ),
        ),
    ),
)
