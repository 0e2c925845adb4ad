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
        width, height = value
    else:
        width, sep, height = str(value).lower().partition("x")
        if not sep:
            raise ValueError(f"{value!r} is not WIDTHxHEIGHT, e.g. 1333x800")
    try:
        size = int(width), int(height)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not WIDTHxHEIGHT, e.g. 1333x800") from None
    if min(size) < 1:
        raise ValueError(f"{value!r}: both edges must be at least 1")
    return size


_RESIZE_TYPES = frozenset({"Resize", "RandomResize", "RandomChoiceResize"})
_SIZE_KEYS = ("scale", "scales", "img_scale")
_SIZE_KEY = r"\.(?:scale|scales|img_scale)(?:\[\d+\])*"  # the end of a dotted key naming a size
_NOT_TEST = r"(?!\w*(?:test|val|tta))"  # the top-level name is not a test/val/TTA one
_TRAIN_NAME = re.compile(r"(^|_)train(_|$)")
_TEST_NAME = re.compile(r"(^|_)(test|val|tta)(_|$)")


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

    def factor(self, pair: Sequence[float]) -> Fraction:
        """The one factor (at most 1) that fits an exact output size, aspect kept."""
        return min(Fraction(1), Fraction(self.long) / Fraction(max(pair)), Fraction(self.short) / Fraction(min(pair)))

    def __str__(self) -> str:
        return f"{self.width}x{self.height}"


def _is_edge(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def _is_pair(value: Any) -> bool:
    return isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_edge(edge) for edge in value)


def _capped(pair: Sequence[float], caps: Sequence[int]) -> Sequence[float]:
    return type(pair)(min(edge, cap) for edge, cap in zip(pair, caps))


def _scaled(pair: Sequence[float], factor: Fraction) -> Sequence[float]:
    return pair if factor >= 1 else type(pair)(math.floor(Fraction(edge) * factor) for edge in pair)


def _fit_size(size: Any, keep_ratio: bool, target: _Target) -> Any:
    """One size (an int n means (n, n)). keep_ratio: the pair bounds the long and short edges in
    either order, so each edge is capped and no edge that fits shrinks; otherwise the pair is the
    exact output size, scaled by one factor (rounded down) so that it fits, aspect kept."""
    if _is_edge(size):
        fitted = _fit_size((size, size), keep_ratio, target)
        if fitted == (size, size):
            return size
        return fitted[0] if fitted[0] == fitted[1] else fitted
    if not _is_pair(size):
        return size
    return _capped(size, target.caps_for(size)) if keep_ratio else _scaled(size, target.factor(size))


def _fit_range(sizes: Sequence[Any], keep_ratio: bool, target: _Target) -> Sequence[Any]:
    """RandomResize's ``[(w0, h0), (w1, h1)]`` draws each edge between its two ends, so the largest
    draw is (max w, max h): fit that one, and shrink both ends alike."""
    if not all(_is_pair(size) for size in sizes):
        return sizes
    largest = tuple(max(edges) for edges in zip(*sizes))
    if keep_ratio:
        caps = target.caps_for(largest)
        return type(sizes)(_capped(size, caps) for size in sizes)
    factor = target.factor(largest)
    return type(sizes)(_scaled(size, factor) for size in sizes)


def _fitted(transform: Mapping[str, Any], key: str, target: _Target) -> Any:
    """``transform[key]`` made to fit ``target`` (equal to it where it already fits)."""
    value = transform[key]
    # mmdet 2.x Resize (the one with `img_scale`) keeps the ratio by default; mmcv 2.x transforms do not.
    keep_ratio = bool(transform.get("keep_ratio", key == "img_scale"))
    several = isinstance(value, (list, tuple)) and bool(value) and all(isinstance(v, (list, tuple)) for v in value)
    if key == "scales" or (several and registry_name(transform.get("type")) != "RandomResize"):
        # RandomChoiceResize `scales`, mmdet 2.x `img_scale` lists: each size is used whole.
        if not isinstance(value, (list, tuple)):
            return value
        return type(value)(_fit_size(size, keep_ratio, target) for size in value)
    if several:
        return _fit_range(value, keep_ratio, target)
    return _fit_size(value, keep_ratio, target)


# --- the effective config ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Oversize:
    """A size in an effective train pipeline that is over the target, and what it becomes."""

    path: KeyPath  # from the config root to the size value
    old: Any
    new: Any
    transform: str  # Resize, RandomResize or RandomChoiceResize
    ratio_range: Any = None

    def describe(self) -> str:
        return f"{self.transform} {self.path[-1]} {render(self.old)} at {attribute_chain(self.path[:-1])}"


def _train_pipelines(config: Mapping[str, Any]) -> Iterator[tuple[KeyPath, Sequence[Any]]]:
    """The pipelines the train dataloader reads (mmdet 3.x) or ``data.train`` holds (2.x)."""
    loader = config.get("train_dataloader")
    if isinstance(loader, Mapping) and "dataset" in loader:
        yield from _dataset_pipelines(loader["dataset"], ("train_dataloader", "dataset"))
    data = config.get("data")
    if isinstance(data, Mapping) and "train" in data:
        yield from _dataset_pipelines(data["train"], ("data", "train"))


def _dataset_pipelines(dataset: Any, path: KeyPath) -> Iterator[tuple[KeyPath, Sequence[Any]]]:
    """A dataset's ``pipeline`` and those of the datasets it wraps (RepeatDataset, ConcatDataset...)."""
    if isinstance(dataset, (list, tuple)):
        for index, item in enumerate(dataset):
            yield from _dataset_pipelines(item, (*path, index))
    elif isinstance(dataset, Mapping):
        if isinstance(dataset.get("pipeline"), (list, tuple)):
            yield (*path, "pipeline"), dataset["pipeline"]
        for key in ("dataset", "datasets"):
            if key in dataset:
                yield from _dataset_pipelines(dataset[key], (*path, key))


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
                    kind, ratio_range = registry_name(transform.get("type")), transform.get("ratio_range")
                    found.append(_Oversize((*path, key), transform[key], new, kind, ratio_range))
    return found


def _oversizes(config: Mapping[str, Any], target: _Target) -> list[_Oversize]:
    resizes = (found for path, pipeline in _train_pipelines(config) for found in _resizes(pipeline, path))
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
    ``train_pipeline``/``cfg.train_dataloader.dataset.pipeline``, or under a ``pipeline`` key inside
    a dict assigned to such a name (``data = dict(train=dict(pipeline=[...]))``)."""

    def __init__(self, target: _Target) -> None:
        self.target = target
        self.edits: dict[cst.CSTNode, cst.CSTNode] = {}
        self.oversizes: list[_Oversize] = []

    def visit_Assign(self, node: cst.Assign) -> None:
        if len(node.targets) == 1:
            path = written_path(node.targets[0].target)
            if path:
                self._scan(node.value, path)

    def _scan(self, node: cst.BaseExpression, path: KeyPath) -> None:
        names = [key for key in path if isinstance(key, str)]
        if (
            isinstance(node, cst.List)
            and names[-1].endswith("pipeline")
            and any(_TRAIN_NAME.search(name) for name in names)
            and not any(_TEST_NAME.search(name) for name in names)
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
            self.oversizes += oversizes


def _note_costs(context: TransformContext, oversizes: Sequence[_Oversize], target: _Target) -> None:
    context.note(
        f"resize-down changes training results: train images are now at most {target} "
        f"(long edge {target.long}, short edge {target.short}); expect lower accuracy on small objects"
    )
    for oversize in oversizes:
        if isinstance(oversize.ratio_range, (list, tuple)) and oversize.ratio_range:
            most = max(oversize.ratio_range)
            reach = f"{render(oversize.new)} x {most}"
            if _is_pair(oversize.new):
                reach += f" = {render(tuple(int(edge * most) for edge in oversize.new))}"
            context.note(
                f"{oversize.transform} at {attribute_chain(oversize.path[:-1])} keeps ratio_range "
                f"{render(oversize.ratio_range)}: images can still reach {reach}"
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

# --- the transform ----------------------------------------------------------------------------


_SUMMARY = (
    "Shrinks the train pipeline's Resize/RandomResize/RandomChoiceResize sizes (and mmdet 2.x img_scale) "
    "to fit --scale WxH (default 1333x800); RandomResize ratio_range is kept, so images can still reach "
    "scale x its max"
)


class ResizeDown(ConfigRule):
    """Shrink the train resize sizes to fit `--scale WxH`.

    ## What it does
    In every pipeline the train dataloader reads (`train_dataloader.dataset` and the datasets it
    wraps, or mmdet 2.x `data.train`), finds the `Resize` `scale`, `RandomResize` `scale` (one size
    or a `[low, high]` range), `RandomChoiceResize` `scales`, mmdet 2.x `img_scale`, also inside
    `RandomChoice`/`RandomApply`/`MultiBranch`, and shrinks the sizes that are over the target
    (`--scale`, default 1333x800):

    - `keep_ratio=True`: a pair bounds the image's long and short edges, in either order, so each
      edge is capped (long at max(W, H), short at min(W, H)) and the order is kept: (2666, 1600) ->
      (1333, 800), (1600, 2666) -> (800, 1333), DETR's (600, 4200) -> (600, 1333). An edge that
      fits never shrinks.
    - `keep_ratio=False` (mmcv 2.x's default): the pair is the exact output size; both edges are
      scaled by one factor, rounded down, so that the long edge fits max(W, H) and the short edge
      min(W, H).

    Sizes that fit stay exactly as written; test and val pipelines are never touched.
    `RandomResize` `ratio_range` stays as it is: images can still reach scale x its max (a note
    says so). The resolved config (mmengine) decides what is over and where it comes from.

    The file's own literal is edited where the train dataloader reads it (`train_pipeline = [...]`,
    an inline `pipeline=[...]`, `_base_.train_dataloader.dataset.pipeline[2].scale = ...`). A
    variable (`scale=img_scale`) changes at its definition only when every reader of it in the file
    is such a resize; otherwise (it also feeds `RandomCrop`, `Pad` or a test pipeline) the new size
    is written at the resize. A size inherited from a base gets the smallest override this file's
    style honours, e.g. `_base_.train_dataloader.dataset.pipeline[2].scale = (1333, 800)`, in this
    file; the base, shared by other configs, is left alone (process the folder to change it there).
    Every edit is resolved with mmengine before it is kept: it must remove the oversize and change no
    other key. Model files and scripts are never run: there only train-pipeline lists written as
    literals (`train_pipeline = [...]`, `...train...pipeline=[...]`) are edited.

    ## Why
    Training Faster R-CNN under AMP with the train `Resize` raised from (1333, 800) to (2666, 1600)
    gives the RPN 10000 boxes or more, which sends mmcv's `batched_nms` down its per-class path,
    where fp16 scores meet fp32 boxes: "Index put requires the source and destination dtypes match,
    got Half for the destination and Float for the source". Smaller train images give fewer boxes.

    ## Fix safety
    Smaller images cost accuracy, most on small objects, and change memory use and speed; the test
    pipeline keeps its sizes, so train and test scales may now differ. Prefer `split-thr` or `nms-dtype-cast`, which fix the crash without changing results;
    this rule is never a default remedy.
    """

    id = "resize-down"
    summary = _SUMMARY
    crash = AMP_NMS.crash
    tradeoff = (
        "Changes training results: smaller train images, fewer RPN boxes; expect lower accuracy on small "
        "objects (RandomResize ratio_range is kept, so images can reach scale x its max)"
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
            title="a variable also read by RandomCrop: the new size is written at the resize",
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
                dict(type='RandomResize', scale=(1024, 800), ratio_range=(0.1, 2.0), keep_ratio=True),
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
            _note_costs(context, scripts.oversizes, target)
            return module.visit(ReplaceNodes(scripts.edits))
        fixed = super().transform(module, context)
        if fixed is not module:
            _note_costs(context, _oversizes(context.resolve_config(), target), target)
        return fixed
