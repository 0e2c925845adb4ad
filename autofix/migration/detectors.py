"""Detectors: model arguments mmdet 3.x renamed, regrouped or no longer takes.

Rewritten where the file writes them, in its own ``model = dict(...)`` (nested dicts, lists and list
comprehensions such as ``rcnn=[dict(assigner=...) for _ in range(num_stages)]`` included); the class
of each dict is its written ``type``, else the type mmengine resolves at that place.

## What it maps
- R32: ``HungarianAssigner(cls_cost=C, reg_cost=R, iou_cost=I)`` -> ``HungarianAssigner(match_costs=[C, R, I])``
  and ``MaskHungarianAssigner(cls_cost=C, mask_cost=M, dice_cost=D)`` -> ``HungarianAssigner(match_costs=[C, M,
  D])``, as the 3.3.0 ports of DETR, Sparse R-CNN, QueryInst, MaskFormer and Mask2Former write them; a cost
  left out takes mmdet 2.28.2's default, one a child overrides in part its resolved value.
- ``CTResNetNeck(in_channel=)`` -> ``in_channels``; ``CenterNetHead(in_channel=, feat_channel=)`` ->
  ``in_channels``, ``feat_channels`` (renamed, same meaning).
- ``NASFPN(add_extra_convs=)``: 2.x stored it and never read it; dropped. Inherited from an FPN base the
  child's neck becomes ``_delete_=True`` with the other resolved arguments written out.
- ``StageCascadeRPNHead(sampling=True)``: 3.x samples wherever ``train_cfg`` gives a sampler, as 2.x did
  with ``sampling=True``; dropped.
- A detector's ``pretrained=P``: 2.x handed it to the backbone, whose ResNet-family code turned it into
  ``init_cfg=dict(type='Pretrained', checkpoint=P)``: written so (``backbone.init_cfg``); ``pretrained=None``
  did nothing and is dropped.

## Refused
- ``HungarianAssigner.<cost>`` written where no ``dict(...)`` of the model reaches it (a variable, ``**``).
- ``StageCascadeRPNHead.sampling`` when False: 2.x averaged the loss over anchors/200, 3.x over the samples.
- ``model.pretrained`` beside a backbone ``init_cfg`` (2.x asserted: they cannot be given together), with a
  backbone type outside the ResNet family, or a ``roi_head.shared_head`` (2.x passed it there too).
- ``model.bbox_head`` in a two-stage detector (``rpn_head``/``roi_head``): 2.x refused it as well; the config
  was broken as written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import libcst as cst

from autofix.config_edit import render
from autofix.cst_helpers import (
    literal_value,
    mapping_items,
    remove_mapping_keys,
    set_mapping_value,
    set_nested_value,
    string_value,
)
from autofix.migration import FileMigration, Step
from autofix.mmconfig import registry_name, value_at
from autofix.rule import Example, FileKind, TransformFailed

Path = tuple[str | int, ...]

# 2.x assigner -> its cost arguments in match_costs order, with mmdet 2.28.2's defaults.
HUNGARIAN_COSTS = {
    "HungarianAssigner": (
        ("cls_cost", "dict(type='ClassificationCost', weight=1.)"),
        ("reg_cost", "dict(type='BBoxL1Cost', weight=1.0)"),
        ("iou_cost", "dict(type='IoUCost', iou_mode='giou', weight=1.0)"),
    ),
    "MaskHungarianAssigner": (
        ("cls_cost", "dict(type='ClassificationCost', weight=1.0)"),
        ("mask_cost", "dict(type='FocalLossCost', weight=1.0, binary_input=True)"),
        ("dice_cost", "dict(type='DiceCost', weight=1.0)"),
    ),
}
COST_KEYS = frozenset(key for costs in HUNGARIAN_COSTS.values() for key, _ in costs)
# (class, 2.x argument) -> its 3.x name.
RENAMED = {
    ("CTResNetNeck", "in_channel"): "in_channels",
    ("CenterNetHead", "in_channel"): "in_channels",
    ("CenterNetHead", "feat_channel"): "feat_channels",
}
# (class, 2.x argument) -> the values whose dropping is exact (None: any, 2.x never read it), why others are not.
DROPPED: dict[tuple[str, str], tuple[tuple[Any, ...] | None, str]] = {
    ("NASFPN", "add_extra_convs"): (None, ""),
    ("StageCascadeRPNHead", "sampling"): (
        (True,), "2.x averaged the loss over anchors / 200 without sampling, 3.x over the sampled anchors"),
}
# Backbones whose 2.28.2 code turns a str ``pretrained`` into ``init_cfg=dict(type='Pretrained', checkpoint=...)``
# (ResNet and its subclasses, which hand it on; RegNet has its own copy of that code).
PRETRAINED_TO_INIT_CFG = ("ResNet", "ResNetV1d", "ResNeXt", "Res2Net", "ResNeSt", "RegNet")
TWO_STAGE_PARTS = ("rpn_head", "roi_head")
# The names a file must hold for any of these to be written in it (legacy-2x-keys' text prefilter).
ARGUMENT_NAMES = (
    "MaskHungarianAssigner", "pretrained", *sorted(COST_KEYS), *sorted({argument for _, argument in [*RENAMED, *DROPPED]})
)


def legacy_model_arguments(model: Any, path: Path = ()) -> list[str]:
    """The 2.x arguments of a resolved model that 3.x refuses, named as the steps refuse them."""
    found: list[str] = []
    if isinstance(model, (list, tuple)):
        for index, item in enumerate(model):
            found += legacy_model_arguments(item, (*path, index))
    if not isinstance(model, Mapping):
        return found
    kind = registry_name(model.get("type"))
    if kind == "MaskHungarianAssigner" or (kind in HUNGARIAN_COSTS and COST_KEYS & set(model)):
        found += [f"{kind}({key}=)" for key in sorted(COST_KEYS & set(model))] or [kind]
    found += [f"{kind}({argument}=)" for owner, argument in [*RENAMED, *DROPPED] if owner == kind and argument in model]
    if not path and "pretrained" in model:
        found.append("model.pretrained")
    for key, value in model.items():
        found += legacy_model_arguments(value, (*path, key))
    return found


def _kind(written: Mapping[str, cst.BaseExpression], old: Mapping[str, Any]) -> str | None:
    """The registry name of a model dict: its written ``type``, else the resolved one."""
    written_type = string_value(written.get("type"))
    return registry_name(written_type if written_type is not None else old.get("type"))


_UNKNOWN = object()


def _plain_value(node: cst.BaseExpression) -> Any:
    """The value of a literal made of ``dict(...)`` calls, dicts, lists and constants; else ``_UNKNOWN``."""
    items = mapping_items(node)
    if items is not None:
        values = {key: _plain_value(value) for key, value in items.items()}
        return _UNKNOWN if _UNKNOWN in values.values() else values
    if isinstance(node, (cst.List, cst.Tuple)):
        elements = [_plain_value(element.value) if isinstance(element, cst.Element) else _UNKNOWN
                    for element in node.elements]
        if _UNKNOWN in elements:
            return _UNKNOWN
        return tuple(elements) if isinstance(node, cst.Tuple) else elements
    return literal_value(node, _UNKNOWN)


def _dotted(path: Path) -> str:
    return "model" + "".join(f"[{key}]" if isinstance(key, int) else f".{key}" for key in path)


class _ModelWalk:
    """Walks the file's written ``model`` expression, each dict knowing its place in the resolved model, and
    rewrites each dict with ``rewrite(fm, node, place)``."""

    def __init__(self, fm: FileMigration, rewrite) -> None:
        self.fm = fm
        self.rewrite = rewrite
        self.old_model = fm.old.get("model") if isinstance(fm.old.get("model"), Mapping) else {}

    def expression(self, node: cst.BaseExpression, path: Path, in_comprehension: bool = False) -> cst.BaseExpression:
        if isinstance(node, (cst.List, cst.Tuple)):
            elements = [element.with_changes(value=self.expression(element.value, (*path, index), in_comprehension))
                        if isinstance(element, cst.Element) else element
                        for index, element in enumerate(node.elements)]
            return node.with_changes(elements=elements)
        if isinstance(node, cst.ListComp):  # every element alike: resolved as the first
            return node.with_changes(elt=self.expression(node.elt, (*path, 0), True))
        items = mapping_items(node) if isinstance(node, (cst.Call, cst.Dict)) else None
        if items is None:
            return node
        for key, value in items.items():
            rewritten = self.expression(value, (*path, key), in_comprehension)
            if rewritten is not value:
                node = set_mapping_value(node, key, rewritten)
        old = value_at(self.old_model, path) if path else self.old_model
        old = old if isinstance(old, Mapping) else {}
        written = mapping_items(node) or {}
        return self.rewrite(self.fm, node, _Place(path, _kind(written, old), written, old, in_comprehension))


@dataclass(frozen=True)
class _Place:
    path: Path
    kind: str | None  # the dict's registry name
    written: Mapping[str, cst.BaseExpression]
    old: Mapping[str, Any]  # its resolved 2.x value
    in_comprehension: bool


def _rewrite_model(fm: FileMigration, rewrite) -> None:
    model = fm.written("model")
    if model is None:
        return
    rewritten = _ModelWalk(fm, rewrite).expression(model, ())
    if not rewritten.deep_equals(model):
        fm.set("model", rewritten)


def _hungarian(fm: FileMigration, node, place: _Place):
    if place.kind not in HUNGARIAN_COSTS:
        return node
    written, old, path = place.written, place.old, place.path
    costs = HUNGARIAN_COSTS[place.kind]
    if "match_costs" in old or not (COST_KEYS & set(written) or "type" in written):
        return node  # 3.x already, or a partial override that names no cost
    match_costs = []
    for key, default in costs:
        cost = written.get(key)
        if cost is not None and (key not in old or _plain_value(cost) == old[key]):
            match_costs.append(cost)
        elif key in old and not place.in_comprehension:  # merged with a base's cost, or written with variables
            match_costs.append(cst.parse_expression(render(old[key])))
        elif key in old:
            fm.refuse(f"{place.kind}.{key}", f"{_dotted(path)} is built in a comprehension from values that "
                      "cannot be read here")
            return node
        else:
            match_costs.append(cst.parse_expression(default))
    match_list = cst.List([cst.Element(cost) for cost in match_costs])
    present = [key for key, _ in costs if key in written]
    if present:  # where the first cost was written
        node = remove_mapping_keys(_rename_key(node, present[0], "match_costs", match_list), present[1:])
    else:
        node = set_mapping_value(node, "match_costs", match_list)
    if place.kind != "HungarianAssigner":
        node = set_mapping_value(node, "type", cst.SimpleString("'HungarianAssigner'"))
    return node


def _arguments(fm: FileMigration, node, place: _Place):
    for (owner, argument), new_name in RENAMED.items():
        if owner == place.kind and argument in place.written and new_name not in place.written:
            node = _rename_key(node, argument, new_name)
    for (owner, argument), (exact, why_not) in DROPPED.items():
        if owner == place.kind and argument in place.old:
            node = _drop(fm, node, argument, exact, why_not, place)
    return node


def _drop(fm: FileMigration, node, argument: str, exact: tuple[Any, ...] | None, why_not: str, place: _Place):
    kind, written, old = place.kind, place.written, place.old
    if exact is not None and old[argument] not in exact:
        if argument in written:
            fm.refuse(f"{kind}.{argument}", f"{kind}({argument}={old[argument]!r}) has no exact 3.x form: {why_not}")
        return node
    if argument in written:
        return remove_mapping_keys(node, [argument])
    given = value_at(fm.base, ("model", *place.path))
    if not (isinstance(given, Mapping) and argument in given):
        return node  # no base gives it, or the base that wrote this class dropped it
    # A base of another class gives it (FPN's add_extra_convs under a NASFPN): the dict is written out whole.
    if place.in_comprehension or not isinstance(node, cst.Call):
        fm.refuse(f"{kind}.{argument}", f"{_dotted(place.path)} inherits it and cannot be written out here")
        return node
    try:
        for key, value in old.items():
            if key not in written and key != argument:
                node = set_mapping_value(node, key, cst.parse_expression(render(value)))
    except TransformFailed as exc:
        fm.refuse(f"{kind}.{argument}", str(exc))
        return node
    return node.with_changes(args=[cst.parse_expression("dict(_delete_=True)").args[0], *node.args])


def _detector(fm: FileMigration, node, place: _Place):
    if place.path:
        return node
    written, old = place.written, place.old
    if "bbox_head" in written and any(part in old for part in TWO_STAGE_PARTS):
        fm.refuse("model.bbox_head", f"a two-stage detector ({old.get('type')}) takes no bbox_head "
                  "(2.x refused it too: the config is broken as written)")
    if "pretrained" not in written:
        return node
    if old.get("pretrained") is None:
        return remove_mapping_keys(node, ["pretrained"])
    backbone = old.get("backbone") if isinstance(old.get("backbone"), Mapping) else {}
    roi_head = old.get("roi_head") if isinstance(old.get("roi_head"), Mapping) else {}
    if backbone.get("init_cfg") or backbone.get("pretrained"):
        reason = "the backbone has an init_cfg too: 2.x asserted they cannot be specified at the same time"
    elif registry_name(backbone.get("type")) not in PRETRAINED_TO_INIT_CFG:
        reason = f"what 2.x's {backbone.get('type')} backbone did with it is not known to map exactly"
    elif roi_head.get("shared_head"):
        reason = "2.x passed it to roi_head.shared_head too"
    else:
        init_cfg = cst.parse_expression("dict(type='Pretrained', checkpoint=P)")
        init_cfg = init_cfg.with_changes(args=[init_cfg.args[0], init_cfg.args[1].with_changes(
            value=written["pretrained"])])
        updated = set_nested_value(remove_mapping_keys(node, ["pretrained"]), ["backbone", "init_cfg"], init_cfg)
        if updated is not None:
            return updated
        reason = "model.backbone is not a dict literal here"
    fm.refuse("model.pretrained", reason)
    return node


def _rename_key(node: cst.Call | cst.Dict, old_name: str, new_name: str,
                value: cst.BaseExpression | None = None) -> cst.Call | cst.Dict:
    """``node`` with its key ``old_name`` named ``new_name`` in place (and given ``value``, if one)."""
    if isinstance(node, cst.Call):
        return node.with_changes(args=[
            arg.with_changes(keyword=cst.Name(new_name), value=value or arg.value)
            if arg.keyword is not None and arg.keyword.value == old_name else arg
            for arg in node.args
        ])
    return node.with_changes(elements=[
        element.with_changes(key=element.key.with_changes(value=element.key.value.replace(old_name, new_name)),
                             value=value or element.value)
        if isinstance(element, cst.DictElement) and string_value(element.key) == old_name else element
        for element in node.elements
    ])


class _LeftoverCosts(cst.CSTVisitor):
    """The 2.x cost keywords still written anywhere in the file (where no model dict reached them)."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def visit_Arg(self, node: cst.Arg) -> None:
        if node.keyword is not None and node.keyword.value in COST_KEYS:
            self.found.append(node.keyword.value)


def migrate_hungarian_costs(fm: FileMigration) -> None:
    _rewrite_model(fm, _hungarian)
    leftovers = _LeftoverCosts()
    fm.module.visit(leftovers)
    for key in dict.fromkeys(leftovers.found):
        fm.refuse(f"HungarianAssigner.{key}", "written where no dict(...) of the model reaches it")


def migrate_arguments(fm: FileMigration) -> None:
    _rewrite_model(fm, _arguments)


def migrate_detector_arguments(fm: FileMigration) -> None:
    _rewrite_model(fm, _detector)


STEPS = (
    Step(
        id="R32",
        summary="HungarianAssigner's cost arguments become match_costs",
        run=migrate_hungarian_costs,
        examples=(
            Example(
                """
                num_stages = 2
                model = dict(
                    type='SparseRCNN',
                    train_cfg=dict(rcnn=[
                        dict(
                            assigner=dict(
                                type='HungarianAssigner',
                                cls_cost=dict(type='FocalLossCost', weight=2.0),
                                reg_cost=dict(type='BBoxL1Cost', weight=5.0)),
                            pos_weight=1) for _ in range(num_stages)
                    ]))
                """,
                """
                num_stages = 2
                model = dict(
                    type='SparseRCNN',
                    train_cfg=dict(rcnn=[
                        dict(
                            assigner=dict(
                                type='HungarianAssigner',
                                match_costs=[dict(type='FocalLossCost', weight=2.0), dict(type='BBoxL1Cost', weight=5.0), dict(type='IoUCost', iou_mode='giou', weight=1.0)]),
                            pos_weight=1) for _ in range(num_stages)
                    ]))
                """,
                kind=FileKind.CONFIG,
                title="inside a list comprehension; the omitted iou_cost takes 2.x's default",
            ),
            Example(
                """
                model = dict(type='MaskFormer', train_cfg=dict(assigner=dict(type='MaskHungarianAssigner', cls_cost=dict(type='ClassificationCost', weight=1.0), mask_cost=dict(type='FocalLossCost', weight=20.0, binary_input=True), dice_cost=dict(type='DiceCost', weight=1.0, pred_act=True, eps=1.0))))
                """,
                """
                model = dict(type='MaskFormer', train_cfg=dict(assigner=dict(type='HungarianAssigner', match_costs=[dict(type='ClassificationCost', weight=1.0), dict(type='FocalLossCost', weight=20.0, binary_input=True), dict(type='DiceCost', weight=1.0, pred_act=True, eps=1.0)])))
                """,
                kind=FileKind.CONFIG,
                title="MaskHungarianAssigner is a HungarianAssigner in 3.x",
            ),
            Example(
                """
                _base_ = './detr.py'
                model = dict(train_cfg=dict(assigner=dict(cls_cost=dict(weight=2.0))))
                """,
                """
                _base_ = './detr.py'
                model = dict(train_cfg=dict(assigner=dict(match_costs=[dict(type='ClassificationCost', weight=2.0), dict(type='BBoxL1Cost', weight=5.0, box_format='xywh'), dict(type='IoUCost', iou_mode='giou', weight=2.0)])))
                """,
                kind=FileKind.CONFIG,
                title="a child overriding one cost in part: the whole list, from the resolved costs",
                files={"detr.py": """
                    model = dict(type='DETR', train_cfg=dict(assigner=dict(type='HungarianAssigner', cls_cost=dict(type='ClassificationCost', weight=1.0), reg_cost=dict(type='BBoxL1Cost', weight=5.0, box_format='xywh'), iou_cost=dict(type='IoUCost', iou_mode='giou', weight=2.0))))
                    """},
            ),
            Example(
                """
                assigner = dict(type='HungarianAssigner', cls_cost=dict(type='ClassificationCost', weight=1.0))
                model = dict(type='DETR', train_cfg=dict(assigner=assigner))
                """,
                None,
                kind=FileKind.CONFIG,
                title="refused: a cost written in a variable the model reads",
            ),
        ),
    ),
    Step(
        id="model arguments",
        summary="model arguments 3.x renamed (CenterNet) or dropped (NASFPN, cascade RPN)",
        run=migrate_arguments,
        examples=(
            Example(
                """
                model = dict(
                    type='CenterNet',
                    neck=dict(type='CTResNetNeck', in_channel=512, num_deconv_filters=(256, 128, 64), num_deconv_kernels=(4, 4, 4)),
                    bbox_head=dict(type='CenterNetHead', num_classes=80, in_channel=64, feat_channel=64))
                """,
                """
                model = dict(
                    type='CenterNet',
                    neck=dict(type='CTResNetNeck', in_channels=512, num_deconv_filters=(256, 128, 64), num_deconv_kernels=(4, 4, 4)),
                    bbox_head=dict(type='CenterNetHead', num_classes=80, in_channels=64, feat_channels=64))
                """,
                kind=FileKind.CONFIG,
            ),
            Example(
                """
                _base_ = './retinanet.py'
                model = dict(neck=dict(type='NASFPN', stack_times=7))
                """,
                """
                _base_ = './retinanet.py'
                model = dict(neck=dict(_delete_=True, type='NASFPN', stack_times=7, in_channels=[256, 512, 1024, 2048], out_channels=256, start_level=1, num_outs=5))
                """,
                kind=FileKind.CONFIG,
                title="NASFPN over an FPN base: the neck written out whole, without add_extra_convs",
                files={"retinanet.py": """
                    model = dict(type='RetinaNet', neck=dict(type='FPN', in_channels=[256, 512, 1024, 2048], out_channels=256, start_level=1, add_extra_convs='on_input', num_outs=5))
                    """},
            ),
            Example(
                """
                model = dict(
                    type='RPN',
                    rpn_head=dict(
                        type='CascadeRPNHead',
                        num_stages=2,
                        stages=[
                            dict(type='StageCascadeRPNHead', in_channels=256, sampling=False),
                            dict(type='StageCascadeRPNHead', in_channels=256, sampling=True),
                        ]))
                """,
                """
                model = dict(
                    type='RPN',
                    rpn_head=dict(
                        type='CascadeRPNHead',
                        num_stages=2,
                        stages=[
                            dict(type='StageCascadeRPNHead', in_channels=256, sampling=False),
                            dict(type='StageCascadeRPNHead', in_channels=256),
                        ]))
                """,
                kind=FileKind.CONFIG,
                title="sampling=True is dropped; sampling=False is refused (the loss is averaged otherwise)",
            ),
        ),
    ),
    Step(
        id="detector arguments",
        summary="a detector's pretrained goes to its backbone's init_cfg; a two-stage bbox_head is refused",
        run=migrate_detector_arguments,
        examples=(
            Example(
                """
                model = dict(type='RetinaNet', pretrained='torchvision://resnet101', backbone=dict(type='ResNet', depth=101))
                """,
                """
                model = dict(type='RetinaNet', backbone=dict(type='ResNet', depth=101, init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet101')))
                """,
                kind=FileKind.CONFIG,
            ),
            Example(
                """
                _base_ = './retinanet.py'
                model = dict(pretrained='torchvision://resnet101', backbone=dict(depth=101))
                """,
                None,
                kind=FileKind.CONFIG,
                title="refused beside the backbone's init_cfg (2.x asserted)",
                files={"retinanet.py": """
                    model = dict(type='RetinaNet', backbone=dict(type='ResNet', depth=50, init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')))
                    """},
            ),
            Example(
                """
                _base_ = './faster_rcnn.py'
                model = dict(bbox_head=dict(num_classes=365))
                """,
                None,
                kind=FileKind.CONFIG,
                title="refused: a two-stage detector has no bbox_head",
                files={"faster_rcnn.py": "model = dict(type='FasterRCNN', rpn_head=dict(type='RPNHead'), roi_head=dict(type='StandardRoIHead'))"},
            ),
        ),
    ),
)
