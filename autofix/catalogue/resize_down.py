from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import libcst as cst

from autofix.catalogue.amp_nms import AMP_NMS
from autofix.config_edit import attribute_chain, render, rewrite_literal
from autofix.cst_helpers import ReplaceNodes, dotted_name, literal_value, string_value
from autofix.domain.pipelines import is_test_name, train_pipelines
from autofix.domain.rpn import rpn_loads, uses_amp
from autofix.mmconfig import registry_name
from autofix.provenance import NO_VALUE, mapping_items, sequence_items, written_path
from autofix.rule import (
    Applicability,
    ConfigEdit,
    ConfigRule,
    Example,
    FileKind,
    Finding,
    KeyPath,
    Option,
    SetKey,
    Severity,
    TransformContext,
)

DEFAULT_SCALE = (1333, 800)


def parse_scale(value: Any) -> tuple[int, int]:
    """``"1333x800"`` (or a pair from TOML) -> ``(1333, 800)``; ValueError naming what is wrong."""
    if isinstance(value, (list, tuple)) and len(value) == 2:
        edges = tuple(value)
    else:
        width, sep, height = str(value).lower().partition("x")
        if not sep:
            raise ValueError(f"{value!r} is not WIDTHxHEIGHT, e.g. 1333x800")
        edges = (width, height)
    size = []
    for name, edge in zip(("width", "height"), edges):  # name the edge that is wrong, and how
        try:
            number = int(edge)
        except (TypeError, ValueError):
            raise ValueError(f"{value!r}: the {name} must be a whole number (got {edge!r})") from None
        if number < 1:
            raise ValueError(f"{value!r}: the {name} must be at least 1 (got {number})")
        size.append(number)
    return size[0], size[1]


_RESIZE_TYPES = frozenset({"Resize", "RandomResize", "RandomChoiceResize"})
_SIZE_KEYS = ("scale", "scales", "img_scale")
_SIZE_KEY = r"\.(?:scale|scales|img_scale)(?:\[\d+\])*"  # the end of a dotted key naming a size
_NOT_TEST = r"(?!\w*(?:test|val|tta))"  # the top-level name is not a test/val/TTA one
_TRAIN_NAME = re.compile(r"(^|_)train(_|$)")


# --- sizes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    """``--scale WxH``: the long edge of a train image at most max(W, H), the short one min(W, H)."""

    width: int
    height: int

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> _Target:
        width, height = options.get("scale", DEFAULT_SCALE)  # a tuple from the CLI, a list from JSON
        return cls(int(width), int(height))

    @property
    def long(self) -> int:
        return max(self.width, self.height)

    @property
    def short(self) -> int:
        return min(self.width, self.height)

    def caps_for(self, pair: Sequence[float]) -> tuple[int, int]:
        """The edge caps in the pair's own order: (long, short) for (2666, 1600), (short, long) for (1600, 2666)."""
        return (self.long, self.short) if pair[0] >= pair[1] else (self.short, self.long)

    def __str__(self) -> str:
        return f"{self.width}x{self.height}"


def _is_edge(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def _is_pair(value: Any) -> bool:
    return isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_edge(edge) for edge in value)


def _is_size(value: Any) -> bool:
    """One size: a (w, h) pair, or an int n meaning (n, n)."""
    return _is_edge(value) or _is_pair(value)


def _times(edge: float, factor: Fraction) -> float:
    """The edge scaled, rounded down, never below 1 (mmcv cannot resize to 0)."""
    return edge if factor >= 1 else max(1, math.floor(Fraction(edge) * factor))


def _scaled_by_position(
    pairs: Sequence[Sequence[float]], caps: Sequence[int], keep_ratio: bool, reach: Fraction
) -> list[tuple[float, float]]:
    """Each position of every pair scaled by one factor, min(1, its cap / (its largest edge x reach)),
    so that every pair fits and their spread is kept; without keep_ratio both by the smaller factor."""
    factors = [min(Fraction(1), Fraction(cap) / (Fraction(max(edges)) * reach)) for cap, edges in zip(caps, zip(*pairs))]
    if not keep_ratio:
        factors = [min(factors)] * 2
    return [(_times(pair[0], factors[0]), _times(pair[1], factors[1])) for pair in pairs]


def _written_like(size: Any, new: tuple[float, float]) -> Any:
    """``new`` in the form ``size`` was written in: a tuple or a list, an int n while both edges are equal."""
    if _is_edge(size):
        return size if new == (size, size) else new[0] if new[0] == new[1] else new
    return type(size)(new)


def _fit_members(sizes: Sequence[Any], keep_ratio: bool, target: _Target, reach: Fraction) -> list[Any]:
    """Sizes each used whole (a lone scale, RandomChoiceResize ``scales``, mmdet 2.x ``img_scale``
    lists, whose 'range' mode draws the long and the short edge apart): long edges by one factor,
    short edges by another, each edge kept in its place. With keep_ratio a pair bounds the long and
    short edges, so a lone pair is capped edge by edge and an edge that fits never shrinks."""
    pairs = [(size, size) if _is_edge(size) else tuple(size) for size in sizes]
    portrait = [pair[0] < pair[1] for pair in pairs]
    oriented = [pair[::-1] if flip else pair for pair, flip in zip(pairs, portrait)]
    fitted = _scaled_by_position(oriented, (target.long, target.short), keep_ratio, reach)
    return [
        _written_like(size, new[::-1] if flip else new) for size, new, flip in zip(sizes, fitted, portrait)
    ]


def _fit_range(ends: Sequence[Any], keep_ratio: bool, target: _Target) -> list[Any]:
    """RandomResize's ``[(w0, h0), (w1, h1)]`` draws each position between its two ends, so the
    largest draw is (max w, max h): each position is scaled by the one factor that fits it there."""
    largest = tuple(max(edges) for edges in zip(*ends))
    fitted = _scaled_by_position(ends, target.caps_for(largest), keep_ratio, Fraction(1))
    return [_written_like(end, new) for end, new in zip(ends, fitted)]


def _reach(transform: Mapping[str, Any], key: str) -> Fraction:
    """How much larger than its one scale a resize can make an image: RandomResize and mmdet 2.x
    Resize (``img_scale``, also a list of one) multiply it by a ratio drawn from ``ratio_range``,
    up to its max. 1 for anything else (a RandomResize range ignores ``ratio_range``)."""
    ratio_range, value = transform.get("ratio_range"), transform[key]
    if not (isinstance(ratio_range, (list, tuple)) and ratio_range and all(_is_edge(r) for r in ratio_range)):
        return Fraction(1)
    one_scale = _is_size(value) or (isinstance(value, (list, tuple)) and len(value) == 1)
    if one_scale and (key == "img_scale" or registry_name(transform.get("type")) == "RandomResize"):
        return Fraction(str(max(ratio_range)))  # as written: 0.8 is 4/5, not the float nearest it
    return Fraction(1)


def _fitted(transform: Mapping[str, Any], key: str, target: _Target) -> Any:
    """``transform[key]`` made to fit ``target`` (equal to it where it already fits)."""
    value = transform[key]
    # mmdet 2.x Resize (the one with `img_scale`) keeps the ratio by default; mmcv 2.x transforms do not.
    keep_ratio = bool(transform.get("keep_ratio", key == "img_scale"))
    if _is_size(value) and key != "scales":  # RandomChoiceResize `scales=[640, 1024]` are two sizes
        return _fit_members([value], keep_ratio, target, _reach(transform, key))[0]
    if not (isinstance(value, (list, tuple)) and value and all(_is_size(size) for size in value)):
        return value
    if key == "scale" and registry_name(transform.get("type")) == "RandomResize":
        return type(value)(_fit_range(value, keep_ratio, target)) if all(_is_pair(end) for end in value) else value
    return type(value)(_fit_members(value, keep_ratio, target, _reach(transform, key)))


# --- the effective config ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Oversize:
    """A size in an effective train pipeline that is over the target, and what it becomes."""

    path: KeyPath  # from the config root to the size value
    old: Any
    new: Any
    transform: str  # Resize, RandomResize or RandomChoiceResize
    reach: Fraction = Fraction(1)  # the image can be the size times this (ratio_range's max)

    def describe(self) -> str:
        reach = f" x {float(self.reach)} (ratio_range)" if self.reach != 1 else ""
        return f"{self.transform} {self.path[-1]} {render(self.old)}{reach}"


def _resizes(value: Any, path: KeyPath) -> Iterator[tuple[KeyPath, Mapping[str, Any]]]:
    """Every resize in a pipeline, also those nested in RandomChoice, RandomApply, MultiBranch..."""
    if isinstance(value, Mapping):
        if registry_name(value.get("type")) in _RESIZE_TYPES:
            yield path, value
        for key, item in value.items():
            yield from _resizes(item, (*path, key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _resizes(item, (*path, index))


def _sizes_over(transforms: Iterable[tuple[KeyPath, Mapping[str, Any]]], target: _Target) -> list[_Oversize]:
    found = []
    for path, transform in transforms:
        for key in _SIZE_KEYS:
            if key in transform:
                new = _fitted(transform, key, target)
                if new != transform[key]:
                    kind = registry_name(transform.get("type"))
                    found.append(_Oversize((*path, key), transform[key], new, kind, _reach(transform, key)))
    return found


def _oversizes(config: Mapping[str, Any], target: _Target) -> list[_Oversize]:
    resizes = (found for path, pipeline in train_pipelines(config) for found in _resizes(pipeline, path))
    return _sizes_over(resizes, target)


# --- model files and scripts (never run) ------------------------------------------------------


def _literal_transforms(
    node: cst.BaseExpression, path: KeyPath
) -> Iterator[tuple[KeyPath, dict[str, cst.BaseExpression]]]:
    """The ``dict(type=...)`` literals in a pipeline literal, nested ones included, with their paths."""
    items = mapping_items(node)
    if "type" in items:
        yield path, items
    for key, value in items.items():
        yield from _literal_transforms(value, (*path, key))
    for index, value in enumerate(sequence_items(node)):
        yield from _literal_transforms(value, (*path, index))


class _ScriptPipelines(cst.CSTVisitor):
    """Train pipelines written out as literals in ordinary Python: a list assigned to a name like
    ``train_pipeline``/``train_pipeline_stage2``/``cfg.train_dataloader.dataset.pipeline``, or under
    a ``pipeline`` key inside a dict assigned to such a name (``data = dict(train=dict(pipeline=[...]))``)
    or in ``custom_hooks`` (``switch_pipeline=[...]``)."""

    def __init__(self, target: _Target) -> None:
        self.target = target
        self.edits: dict[cst.CSTNode, cst.CSTNode] = {}

    def visit_Assign(self, node: cst.Assign) -> None:
        if len(node.targets) == 1:
            path = written_path(node.targets[0].target)
            if path:
                self._scan(node.value, path)

    def _scan(self, node: cst.BaseExpression, path: KeyPath) -> None:
        names = [key for key in path if isinstance(key, str)]
        if (
            isinstance(node, cst.List)
            and "pipeline" in names[-1]
            and any(_TRAIN_NAME.search(name) or name == "custom_hooks" for name in names)
            and not any(is_test_name(name) for name in names)
        ):
            self._pipeline(node, path)
            return
        for key, value in mapping_items(node).items():
            self._scan(value, (*path, key))
        for index, value in enumerate(sequence_items(node)):  # mmdet 2.x `train=[dict(...), ...]`
            self._scan(value, (*path, index))

    def _pipeline(self, node: cst.List, path: KeyPath) -> None:
        for transform_path, items in _literal_transforms(node, path):
            kind = registry_name(string_value(items["type"]) or dotted_name(items["type"]))
            if kind not in _RESIZE_TYPES:
                continue
            values = {key: literal_value(value, NO_VALUE) for key, value in items.items() if key != "type"}
            if values.get("keep_ratio") is NO_VALUE:
                continue  # keep_ratio held in a variable: the sizes' meaning is not known from the file
            known = {key: value for key, value in values.items() if value is not NO_VALUE}
            oversizes = _sizes_over([(transform_path, {**known, "type": kind})], self.target)
            for oversize in oversizes:
                size_node = items[str(oversize.path[-1])]
                self.edits[size_node] = rewrite_literal(size_node, oversize.old, oversize.new)


def _note_costs(context: TransformContext, target: _Target) -> None:
    context.note(
        f"resize-down changes training results: train images are now at most {target} "
        f"(long edge {target.long}, short edge {target.short}); expect lower accuracy on small objects"
    )


_EXAMPLE_BASE = """
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='PackDetInputs'),
]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(1333, 800), keep_ratio=True)]
train_dataloader = dict(batch_size=2, dataset=dict(type='CocoDataset', pipeline=train_pipeline))
test_dataloader = dict(batch_size=1, dataset=dict(type='CocoDataset', pipeline=test_pipeline))
"""

# An RTMDet-shaped base: stage 1 (mosaic), then the stage-2 pipeline PipelineSwitchHook switches to.
_RTMDET_BASE = """
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Mosaic', img_scale=(640, 640)),
    dict(type='RandomResize', scale=(640, 640), ratio_range=(0.5, 1.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=(640, 640)),
    dict(type='PackDetInputs'),
]
train_pipeline_stage2 = [dict(type='LoadImageFromFile'), dict(type='PackDetInputs')]
train_dataloader = dict(batch_size=32, dataset=dict(type='CocoDataset', pipeline=train_pipeline))
custom_hooks = [dict(type='PipelineSwitchHook', switch_epoch=280, switch_pipeline=train_pipeline_stage2)]
"""
# Its P6 variant: a larger stage 2.
_RTMDET_P6 = """
_base_ = './rtmdet_l.py'
train_pipeline_stage2 = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResize', scale=(1280, 1280), ratio_range=(0.5, 1.0), keep_ratio=True),
    dict(type='PackDetInputs'),
]
custom_hooks = [
    dict(type='EMAHook', momentum=0.0002),
    dict(type='PipelineSwitchHook', switch_epoch=280, switch_pipeline=train_pipeline_stage2),
]
"""

# --- the transform ----------------------------------------------------------------------------


_SUMMARY = (
    "Shrinks the Resize/RandomResize/RandomChoiceResize sizes (and mmdet 2.x img_scale) of every train "
    "pipeline, stage-2 ones included, to fit --scale WxH (default 1333x800); multi-scale lists keep their "
    "spread, and RandomResize scale x ratio_range's max fits"
)


class ResizeDown(ConfigRule):
    """Shrink the train resize sizes to fit `--scale WxH`.

    ## What it does
    In every pipeline the train loop can run (`train_dataloader.dataset` and the datasets it
    wraps, mmdet 2.x `data.train`, and the stage-2 pipeline a custom hook switches to:
    `PipelineSwitchHook` `switch_pipeline`, mmyolo/mmpose `new_train_pipeline`/`new_train_dataset`),
    finds the `Resize` `scale`, `RandomResize` `scale` (one size or a `[low, high]` range),
    `RandomChoiceResize` `scales`, mmdet 2.x `img_scale` (one size or a list), also inside
    `RandomChoice`/`RandomApply`/`MultiBranch`, and shrinks the sizes that are over the target
    (`--scale`, default 1333x800; a size's long edge must fit max(W, H), its short edge min(W, H)):

    - One size, `keep_ratio=True`: the pair bounds the image's long and short edges, in either
      order, so each edge is capped and the order is kept: (2666, 1600) -> (1333, 800),
      (1600, 2666) -> (800, 1333), DETR's (600, 4200) -> (600, 1333). An edge that fits never
      shrinks.
    - One size, `keep_ratio=False` (mmcv 2.x's default): the pair is the exact output size; both
      edges are scaled by one factor, rounded down, so that it fits.
    - A list or range of sizes keeps its spread: every long edge of the list is scaled by one
      factor, min(1, max(W, H) / the largest long edge), every short edge by min(1, min(W, H) / the
      largest short edge), each edge in its place, so every member fits:
      `[(2048, 800), (2048, 1024)]` -> `[(1333, 625), (1333, 800)]`. Without `keep_ratio` one
      factor (the smaller) scales both. A `RandomResize` range draws each position (width, height)
      between its two ends, so there each position is scaled by one factor that fits its largest draw.
    - `RandomResize` with one scale and `ratio_range=(a, b)` (and mmdet 2.x `img_scale` with
      `ratio_range`) reaches scale x b: the scale is capped so that scale x b fits, e.g.
      (1024, 1024) with (0.1, 2.0) -> (666, 400).

    Sizes that fit stay exactly as written; test and val pipelines are never touched. The resolved
    config (mmengine) decides what is over and where it comes from.

    The file's own literal is edited where the train loop reads it (`train_pipeline = [...]`,
    `train_pipeline_stage2 = [...]`, an inline `pipeline=[...]`,
    `_base_.train_dataloader.dataset.pipeline[2].scale = ...`). A variable (`scale=img_scale`)
    changes at its definition only when every reader of it in the file is such a resize; otherwise
    (it also feeds `RandomCrop`, `Pad` or a test pipeline) the new size is written at the resize. A
    size inherited from a base gets the smallest override this file's style honours, e.g.
    `_base_.train_dataloader.dataset.pipeline[2].scale = (1333, 800)` or
    `_base_.custom_hooks[1].switch_pipeline[1].scale = ...`, in this file; the base, shared by
    other configs, is left alone (process the folder to change it there). Every edit is resolved
    with mmengine before it is kept: it must remove the oversize and change no other key. Model
    files and scripts are never run: there only train-pipeline lists written as literals
    (`train_pipeline = [...]`, `...train...pipeline=[...]`) are edited.

    ## Why
    Training Faster R-CNN under AMP with the train `Resize` raised from (1333, 800) to (2666, 1600)
    gives the RPN 10000 boxes or more, which sends mmcv's `batched_nms` down its per-class path,
    where fp16 scores meet fp32 boxes: "Index put requires the source and destination dtypes match,
    got Half for the destination and Float for the source". Smaller train images give fewer boxes.

    ## Fix safety
    Smaller images cost accuracy, most on small objects, and change memory use and speed; the test
    pipeline keeps its sizes, so train and test scales may now differ. Transforms that set a size
    of their own (`RandomCrop`, `Pad`, `Mosaic`/`MixUp` `img_scale`) are left as they are. Prefer
    `split-thr` or `nms-dtype-cast`, which fix the crash without changing results; this rule is
    never a default remedy.
    """

    id = "resize-down"
    summary = _SUMMARY
    crash = AMP_NMS.crash
    tradeoff = (
        "Changes training results: smaller train images, fewer RPN boxes; expect lower accuracy on small "
        "objects"
    )
    opt_in = True
    applicability = Applicability.CHANGES_RESULTS
    prefilter = ("_base_", "read_base", "scale")
    chain_prefilter = ("scale",)  # `scale`, `scales`, `img_scale`: a chain without them resizes nothing
    # Train sizes in the pipelines and variables (`train_pipeline`, `img_scale`, a dataset dict) that
    # a fix edits where the file or its fixed base writes them; never a test, val or TTA one.
    intended_keys = (
        re.compile(
            rf"{_NOT_TEST}\w+(?:\.train)?(?:\[\d+\])?(?:\.dataset|\.datasets\[\d+\])*"
            rf"\.pipeline\[\d+\](?:\.\w+|\[\d+\])*{_SIZE_KEY}"
        ),
        re.compile(rf"{_NOT_TEST}\w*pipeline\w*\[\d+\](?:\.\w+|\[\d+\])*{_SIZE_KEY}"),
        re.compile(rf"{_NOT_TEST}\w*(?:scale|size)\w*(?:\[\d+\])*"),
    )
    options = (
        Option(
            "scale",
            "the largest train image: long edge max(W, H), short edge min(W, H)",
            parse=parse_scale,
            default=DEFAULT_SCALE,
            metavar="WxH",
        ),
    )

    examples = (
        Example(
            kind=FileKind.CONFIG,
            title="the report: train Resize raised to (2666, 1600)",
            before="""
            _base_ = './coco_detection.py'
            train_pipeline = [
                dict(type='LoadImageFromFile'),
                dict(type='Resize', scale=(2666, 1600), keep_ratio=True),
                dict(type='PackDetInputs'),
            ]
            train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
            """,
            after="""
            _base_ = './coco_detection.py'
            train_pipeline = [
                dict(type='LoadImageFromFile'),
                dict(type='Resize', scale=(1333, 800), keep_ratio=True),
                dict(type='PackDetInputs'),
            ]
            train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
            """,
            files={"coco_detection.py": _EXAMPLE_BASE},
        ),
        Example(
            kind=FileKind.CONFIG,
            title="inherited from a shared base: the smallest override goes into this file",
            before="""
            _base_ = './large.py'
            train_cfg = dict(max_epochs=12)
            """,
            after="""
            _base_ = './large.py'
            train_cfg = dict(max_epochs=12)

            # autofix resize-down: train sizes at most 1333x800
            _base_.train_dataloader.dataset.pipeline[1].scale = (1333, 800)
            """,
            files={
                "coco_detection.py": _EXAMPLE_BASE,
                "large.py": """
                _base_ = './coco_detection.py'
                _base_.train_dataloader.dataset.pipeline[1].scale = (2666, 1600)
                """,
            },
        ),
        Example(
            kind=FileKind.CONFIG,
            title="DETR scales: only the edge that is over shrinks; a portrait pair keeps its order",
            before="""
            train_dataloader = dict(dataset=dict(pipeline=[
                dict(type='RandomChoice', transforms=[
                    [dict(type='RandomChoiceResize', scales=[(480, 1333), (800, 1333)], keep_ratio=True)],
                    [dict(type='RandomChoiceResize', scales=[(400, 4200), (600, 4200)], keep_ratio=True)],
                ]),
                dict(type='Resize', scale=(1600, 2666), keep_ratio=True),
            ]))
            """,
            after="""
            train_dataloader = dict(dataset=dict(pipeline=[
                dict(type='RandomChoice', transforms=[
                    [dict(type='RandomChoiceResize', scales=[(480, 1333), (800, 1333)], keep_ratio=True)],
                    [dict(type='RandomChoiceResize', scales=[(400, 1333), (600, 1333)], keep_ratio=True)],
                ]),
                dict(type='Resize', scale=(800, 1333), keep_ratio=True),
            ]))
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="a multi-scale range keeps its spread: each edge by one factor over the list",
            before="""
            train_dataloader = dict(dataset=dict(pipeline=[
                dict(type='RandomResize', scale=[(2048, 800), (2048, 1024)], keep_ratio=True),
            ]))
            """,
            after="""
            train_dataloader = dict(dataset=dict(pipeline=[
                dict(type='RandomResize', scale=[(1333, 625), (1333, 800)], keep_ratio=True),
            ]))
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="the stage-2 pipeline PipelineSwitchHook switches to counts too",
            before=_RTMDET_P6,
            after=_RTMDET_P6.replace("scale=(1280, 1280)", "scale=(1280, 800)"),
            files={"rtmdet_l.py": _RTMDET_BASE},
        ),
        Example(
            kind=FileKind.CONFIG,
            title="a stage-2 pipeline inherited from a base: the hook's item is overridden in this file",
            before="""
            _base_ = './rtmdet_p6.py'
            model = dict(bbox_head=dict(num_classes=3))
            """,
            after="""
            _base_ = './rtmdet_p6.py'
            model = dict(bbox_head=dict(num_classes=3))

            # autofix resize-down: train sizes at most 1333x800
            _base_.custom_hooks[1].switch_pipeline[1].scale = (1280, 800)
            """,
            files={"rtmdet_l.py": _RTMDET_BASE, "rtmdet_p6.py": _RTMDET_P6},
        ),
        Example(
            kind=FileKind.CONFIG,
            title="ratio_range reaches scale x 2.0, which must fit; a variable also read by RandomCrop stays",
            before="""
            image_size = (1024, 1024)
            train_pipeline = [
                dict(type='RandomResize', scale=image_size, ratio_range=(0.1, 2.0), keep_ratio=True),
                dict(type='RandomCrop', crop_size=image_size),
            ]
            train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
            """,
            after="""
            image_size = (1024, 1024)
            train_pipeline = [
                dict(type='RandomResize', scale=(666, 400), ratio_range=(0.1, 2.0), keep_ratio=True),
                dict(type='RandomCrop', crop_size=image_size),
            ]
            train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="keep_ratio=False: the exact output size shrinks by one factor; mmdet 2.x img_scale",
            before="""
            data = dict(train=dict(pipeline=[
                dict(type='Resize', img_scale=(2000, 1000), keep_ratio=False),
                dict(type='Resize', img_scale=(2666, 1600)),
            ]))
            """,
            after="""
            data = dict(train=dict(pipeline=[
                dict(type='Resize', img_scale=(1333, 666), keep_ratio=False),
                dict(type='Resize', img_scale=(1333, 800)),
            ]))
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="train sizes that fit; test sizes never count",
            before="""
            train_dataloader = dict(dataset=dict(pipeline=[
                dict(type='RandomResize', scale=[(1333, 640), (1333, 800)], keep_ratio=True),
            ]))
            test_dataloader = dict(dataset=dict(pipeline=[
                dict(type='Resize', scale=(2666, 1600), keep_ratio=True),
            ]))
            """,
        ),
        Example(
            title="a training script: only literal train pipelines",
            before="""
            def main(cfg):
                cfg.train_dataloader.dataset.pipeline = [dict(type='Resize', scale=(2666, 1600), keep_ratio=True)]
                cfg.test_dataloader.dataset.pipeline = [dict(type='Resize', scale=(2666, 1600), keep_ratio=True)]
            """,
            after="""
            def main(cfg):
                cfg.train_dataloader.dataset.pipeline = [dict(type='Resize', scale=(1333, 800), keep_ratio=True)]
                cfg.test_dataloader.dataset.pipeline = [dict(type='Resize', scale=(2666, 1600), keep_ratio=True)]
            """,
        ),
    )

    def findings(self, config: Mapping[str, Any], options: Mapping[str, Any]) -> list[Finding]:
        target = _Target.from_options(options)
        oversizes = _oversizes(config, target)
        # Smaller images only matter for the crash where AMP meets an RPN whose boxes reach split_thr.
        crashes = bool(oversizes) and uses_amp(config) and any(load.at_risk for load in rpn_loads(config))
        return [
            Finding(
                f"train {oversize.describe()} is over {target}",
                Severity.CRASH if crashes else Severity.LATENT,
                details={"path": attribute_chain(oversize.path), "size": oversize.old, "fitted": oversize.new},
                edits=(SetKey(oversize.path, oversize.new),),
                detail=f"{attribute_chain(oversize.path[:-1])}; fitted: {render(oversize.new)}",
            )
            for oversize in oversizes
        ]

    def comment_for(self, overridden: Sequence[ConfigEdit], options: Mapping[str, Any]) -> str:
        return f"autofix {self.id}: train sizes at most {_Target.from_options(options)}"

    def transform(self, module: cst.Module, context: TransformContext) -> cst.Module:
        target = _Target.from_options(context.options)
        if context.kind is not FileKind.CONFIG:
            scripts = _ScriptPipelines(target)
            module.visit(scripts)
            if not scripts.edits:
                return module
            _note_costs(context, target)
            return module.visit(ReplaceNodes(scripts.edits))
        fixed = super().transform(module, context)
        if fixed is not module:
            _note_costs(context, target)
        return fixed
