"""Pipelines: every 2.x data transform a file writes, to its 3.x form.

## What it maps
Every transform list among the file's top-level statements is rewritten in place: ``*pipeline``
variables and ``pipeline=[...]`` written inline (``data=dict(train=dict(pipeline=[...]))``), with the
``transforms`` of ``MultiScaleFlipAug`` and the policies of ``AutoAugment`` inside them.

- R7: ``Resize(img_scale=S, keep_ratio=K)`` -> ``Resize(scale=S, keep_ratio=K)``. 2.x ``keep_ratio``
  defaulted to True, 3.x to False: it is written out.
- R8: ``Resize(img_scale=[s1, s2], multiscale_mode='range')`` -> ``RandomResize(scale=[s1, s2], keep_ratio=True)``.
- R9: ``Resize(img_scale=[s1, ..., sn], multiscale_mode='value')`` -> ``RandomChoiceResize(scales=[...], keep_ratio=True)``.
- ``Resize(img_scale=S, ratio_range=R)`` -> ``RandomResize(scale=S, ratio_range=R, keep_ratio=True)``;
  ``Resize(override=...)`` loses ``override`` (every 3.x resize samples its own scale); ``bbox_clip_border``
  -> ``clip_object_border``.
- R10: ``RandomFlip(flip_ratio=p)`` -> ``RandomFlip(prob=p)``; ``RandomShift(shift_ratio=p)`` -> ``RandomShift(prob=p)``.
- R11: ``DefaultFormatBundle`` + ``Collect(keys=[...])`` -> ``PackDetInputs``; ``ImageToTensor``,
  ``ToTensor``, ``ToDataContainer`` and ``Transpose`` go (PackDetInputs formats everything). Extra
  ``Collect.meta_keys`` beyond 2.x's defaults are kept in ``PackDetInputs.meta_keys``.
- R1, R2: ``Normalize``, ``Pad(size_divisor=N)`` and a train ``Pad(size=S)`` leave the pipelines:
  ``model.data_preprocessor`` does them (``pad_size_divisor``, ``batch_augments=[BatchFixedSizePad(size=S)]``,
  written by the model group); ``img_norm_cfg`` goes when nothing reads it any more. Only a Pad that ends
  the pixel transforms moves (formatting or ``SegRescale`` after it): one that another transform follows,
  through a dataset wrapper's pipeline too (``Pad`` then ``CopyPaste``), or that ``Normalize`` follows (it
  pads raw pixels), stays in its place, as the official ports keep it.
- R33: ``SegRescale(scale_factor=f)`` leaves the pipelines: the semantic head rescales
  (``roi_head.semantic_head.seg_scale_factor``, written by the model group).
- R35: ``AutoAugment(policies=P)`` -> ``RandomChoice(transforms=P)``, each policy migrated as a pipeline.
- R12: a test ``MultiScaleFlipAug(img_scale=S, flip=False, transforms=[Resize(keep_ratio=True),
  RandomFlip, Normalize, Pad, ImageToTensor, Collect])`` -> ``Resize(scale=S, keep_ratio=True),
  LoadAnnotations(...), PackDetInputs(meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
  'scale_factor'))``, as the official 3.x bases write it (``LoadAnnotations`` loads what the train
  pipeline loads, for the evaluator). A flat test pipeline's ``Collect(keys=['img'])`` gets the same two.
- ``Albu(bbox_params=dict(label_fields=['gt_labels']), update_pad_shape=...)`` -> ``label_fields=['gt_bboxes_labels',
  'gt_ignore_flags']`` (3.x names), ``update_pad_shape`` dropped (the data preprocessor records the padding).
- Kept as written, same arguments and meaning in 3.x: LoadImageFromFile, LoadAnnotations,
  LoadPanopticAnnotations, LoadMultiChannelImageFromFiles, FilterAnnotations, PhotoMetricDistortion,
  RandomCrop, Expand, MinIoURandomCrop, RandomCenterCropPad, CutOut, InstaBoost, CopyPaste,
  YOLOXHSVRandomAug; Mosaic, MixUp and RandomAffine when their sizes are square (3.x reads
  ``img_scale``/``border`` as (w, h), 2.x as (h, w)).

## Refused (left as written, named in the file's notes)
- ``MultiScaleFlipAug`` with ``flip=True``, several scales, ``scale_factor`` or transforms beyond the
  standard six: test-time augmentation has no exact flat 3.x pipeline.
- ``Normalize`` / ``Pad`` whose values differ between the file's pipelines, a test ``Pad(size=...)``,
  ``Pad(pad_to_square=True)``, ``Pad(pad_val=...)`` other than 0 (where the Pad would move), and a pixel
  transform placed after ``Normalize`` (a Pad that stays too): the data preprocessor normalises and pads
  once, after the whole pipeline.
- A 2.x transform argument 3.x dropped or changed (``LoadAnnotations.denorm_bbox``,
  ``LoadImageFromFile.channel_order``, ``Mosaic.skip_filter``/``min_bbox_size``, ``MixUp``/``RandomAffine``
  filter arguments, non-square ``img_scale``/``border``), named ``Type.argument``.
- ``Resize`` whose ``img_scale`` is not a literal (or a variable holding one), or with several scales
  and ``ratio_range``.
- Transforms whose 3.x namesake takes other arguments: ``Shear``, ``Rotate``, ``Translate``,
  ``ColorTransform``, ``EqualizeTransform``, ``BrightnessTransform``, ``ContrastTransform``,
  ``LoadImageFromWebcam``; ``LoadProposals`` (3.x wraps the resizes in ``ProposalBroadcaster``).
- ``Albu`` with other ``label_fields``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import libcst as cst

from autofix.cst_helpers import (
    append_keyword,
    keyword_index,
    keyword_value,
    literal_value,
    name_loads,
    quoted_like,
    remove_arg,
    set_mapping_value,
    string_value,
)
from autofix.domain.datasets import SPLITS, stage_datasets
from autofix.domain.pipelines import dataset_pipelines, train_image_transforms
from autofix.migration import FileMigration, Step
from autofix.provenance import assigned_name
from autofix.rule import Example, FileKind

# 2.x formatting steps: PackDetInputs (in place of Collect) does all of them.
FORMATTING = frozenset({"DefaultFormatBundle", "ImageToTensor", "ToTensor", "ToDataContainer", "Transpose"})

# 2.x transforms whose 3.x namesake takes these arguments with the same meaning.
SAME_ARGUMENTS: Mapping[str, frozenset[str]] = {
    "LoadImageFromFile": frozenset({"to_float32", "color_type", "file_client_args"}),
    "LoadMultiChannelImageFromFiles": frozenset({"to_float32", "color_type", "file_client_args"}),
    "LoadAnnotations": frozenset({"with_bbox", "with_label", "with_mask", "with_seg", "poly2mask", "file_client_args"}),
    "LoadPanopticAnnotations": frozenset({"with_bbox", "with_label", "with_mask", "with_seg"}),
    "FilterAnnotations": frozenset({"min_gt_bbox_wh", "min_gt_mask_area", "by_box", "by_mask", "keep_empty"}),
    "PhotoMetricDistortion": frozenset({"brightness_delta", "contrast_range", "saturation_range", "hue_delta"}),
    "RandomCrop": frozenset({"crop_size", "crop_type", "allow_negative_crop", "recompute_bbox", "bbox_clip_border"}),
    "Expand": frozenset({"mean", "to_rgb", "ratio_range", "seg_ignore_label", "prob"}),
    "MinIoURandomCrop": frozenset({"min_ious", "min_crop_size", "bbox_clip_border"}),
    "RandomCenterCropPad": frozenset({
        "crop_size", "ratios", "border", "mean", "std", "to_rgb", "test_mode", "test_pad_mode", "test_pad_add_pix",
        "bbox_clip_border",
    }),
    "CutOut": frozenset({"n_holes", "cutout_shape", "cutout_ratio", "fill_in"}),
    "InstaBoost": frozenset({
        "action_candidate", "action_prob", "scale", "dx", "dy", "theta", "color_prob", "hflag", "aug_ratio",
    }),
    "CopyPaste": frozenset({"max_num_pasted", "bbox_occluded_thr", "mask_occluded_thr", "selected"}),
    "YOLOXHSVRandomAug": frozenset({"hue_delta", "saturation_delta", "value_delta"}),
    # 3.x reads img_scale and border as (w, h), 2.x as (h, w): kept only where they are square.
    "Mosaic": frozenset({"img_scale", "center_ratio_range", "bbox_clip_border", "pad_val", "prob"}),
    "MixUp": frozenset({"img_scale", "ratio_range", "flip_ratio", "pad_val", "max_iters", "bbox_clip_border"}),
    "RandomAffine": frozenset({
        "max_rotate_degree", "max_translate_ratio", "scaling_ratio_range", "max_shear_degree", "border",
        "border_val", "bbox_clip_border",
    }),
}
_SIZE_ARGUMENT = {"Mosaic": "img_scale", "MixUp": "img_scale", "RandomAffine": "border"}

# 2.x transforms with no exact 3.x form.
REFUSED_TYPES: Mapping[str, str] = {
    **dict.fromkeys(
        ("Shear", "Rotate", "Translate", "ColorTransform", "EqualizeTransform", "BrightnessTransform",
         "ContrastTransform"),
        "the 3.x transform of this name takes other arguments (level, prob, min_mag, max_mag)",
    ),
    "LoadImageFromWebcam": "3.x has no LoadImageFromWebcam (LoadImageFromNDArray reads arrays)",
    "LoadProposals": "3.x applies the resizes to proposals through ProposalBroadcaster",
}

# Collect's 2.x default meta_keys, all of which 3.x records by default or under another name.
_COLLECT_DEFAULT_META = frozenset({
    "filename", "ori_filename", "ori_shape", "img_shape", "pad_shape", "scale_factor", "flip", "flip_direction",
    "img_norm_cfg",
})
TEST_META_KEYS = ("img_id", "img_path", "ori_shape", "img_shape", "scale_factor")
TRAIN_META_KEYS = ("img_id", "img_path", "ori_shape", "img_shape", "scale_factor", "flip", "flip_direction")
# Transforms that may follow Normalize: they move or pad pixels without reading their values.
_AFTER_NORMALIZE = frozenset({"Pad", "RandomFlip", "Resize", "Collect", "SegRescale", *FORMATTING})
_MSFA_INNER = frozenset({"Resize", "RandomFlip", "Normalize", "Pad", "Collect", *FORMATTING})
# What may follow a Pad that moves to data_preprocessor: formatting, and SegRescale (the semantic head
# rescales the padded maps). A Pad any other transform follows (Normalize too) stays in the pipeline.
_AFTER_MOVED_PAD = frozenset({"Collect", "SegRescale", *FORMATTING})


# ---------------------------------------------------------------- the resolved 2.x pipelines


def resolved_pipelines(config: Mapping[str, Any]) -> Iterator[tuple[str, Sequence[Any]]]:
    """Each pipeline the resolved ``config`` runs, ``("train" | "val" | "test", transforms)``, those inside
    MultiScaleFlipAug and AutoAugment policies included: the datasets of ``data`` and of the dataloaders
    (a second run finds a refused 2.x pipeline there), else the top-level ``*pipeline`` variables."""
    found = [
        (split, pipeline)
        for split in SPLITS
        for path, dataset in stage_datasets(config, split)
        for _, pipeline in dataset_pipelines(dataset, path)
    ]
    if not found:
        found = [
            ("test" if "test" in name or "val" in name else "train", value)
            for name, value in config.items()
            if name.endswith("pipeline") and isinstance(value, (list, tuple))
        ]
    for split, pipeline in found:
        yield from _with_inner(split, pipeline)


def _with_inner(split: str, pipeline: Sequence[Any]) -> Iterator[tuple[str, Sequence[Any]]]:
    yield split, pipeline
    for transform in pipeline:
        if not isinstance(transform, Mapping):
            continue
        if transform.get("type") == "MultiScaleFlipAug" and isinstance(transform.get("transforms"), (list, tuple)):
            yield from _with_inner(split, transform["transforms"])
        if transform.get("type") == "AutoAugment":
            for policy in transform.get("policies") or ():
                if isinstance(policy, (list, tuple)):
                    yield from _with_inner(split, policy)


def resolved_transforms(config: Mapping[str, Any], kind: str) -> list[tuple[str, Mapping[str, Any]]]:
    """Every resolved transform of type ``kind``, with its split."""
    return [
        (split, transform)
        for split, pipeline in resolved_pipelines(config)
        for transform in pipeline
        if isinstance(transform, Mapping) and transform.get("type") == kind
    ]


def _sequences(config: Mapping[str, Any]) -> Iterator[tuple[str, Sequence[Any]]]:
    """Each sequence of transforms an image goes through, with its split: a train image through the
    pipelines of the dataset wrappers too (the inner dataset's first), and each pipeline alone."""
    for pipeline in train_image_transforms(config):
        yield from _with_inner("train", pipeline)
    yield from resolved_pipelines(config)


def pad_key(pad: Mapping[str, Any]) -> str:
    """A Pad's arguments as one comparable value (tuples and lists alike)."""
    return json.dumps(pad, sort_keys=True, default=repr)


def staying_pads(config: Mapping[str, Any]) -> set[str]:
    """The resolved 2.x Pads (as :func:`pad_key`) some transform other than formatting follows: they stay in
    the 3.x pipelines, in their place. Only a Pad that ends the pixel transforms moves to data_preprocessor."""
    return {
        pad_key(transform)
        for _, pipeline in _sequences(config)
        for index, transform in enumerate(pipeline)
        if isinstance(transform, Mapping) and transform.get("type") == "Pad"
        and any(not isinstance(later, Mapping) or later.get("type") not in _AFTER_MOVED_PAD
                for later in pipeline[index + 1:])
    }


def moving_pads(config: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """The resolved 2.x Pads data_preprocessor takes over, with their split."""
    staying = staying_pads(config)
    return [(split, pad) for split, pad in resolved_transforms(config, "Pad") if pad_key(pad) not in staying]


def preprocessing(config: Mapping[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """What ``model.data_preprocessor`` must do for the resolved 2.x ``config``'s ``Normalize``
    and the ``Pad`` s that end the pixel transforms: ``({mean, std, bgr_to_rgb, pad_size_divisor,
    batch_augments}, refusals)``; a train ``Pad(size=S)`` becomes ``BatchFixedSizePad(size=S)``.
    Refusals are ``(construct, reason)`` and leave both transforms in place."""
    refusals: list[tuple[str, str]] = []
    norms = {
        (tuple(t.get("mean", ())), tuple(t.get("std", ())), bool(t.get("to_rgb", True)))
        for _, t in resolved_transforms(config, "Normalize")
    }
    if len(norms) > 1:
        refusals.append(("Normalize", "the pipelines normalise with different values; 3.x normalises once per model"))
    staying = staying_pads(config)
    pads = moving_pads(config)
    divisors = {t["size_divisor"] for _, t in pads if t.get("size_divisor") is not None}
    train_sizes = {tuple(t["size"]) for split, t in pads if split == "train" and t.get("size") is not None}
    for split, pad in pads:
        extra = sorted(set(pad) - {"type", "size_divisor", "size", "pad_val"})
        if extra:
            refusals.append((f"Pad.{extra[0]}", "data_preprocessor pads to a size divisor or (in training) a size"))
        elif split != "train" and pad.get("size") is not None:
            refusals.append(("Pad.size", "data_preprocessor pads to a fixed size in training only"))
        elif _pad_value(pad.get("pad_val")) != 0:
            refusals.append(("Pad.pad_val", "data_preprocessor pads images with 0 after normalising"))
    if len(divisors) > 1 or len(train_sizes) > 1:
        refusals.append(("Pad", "the pipelines pad differently; 3.x pads once per model"))
    for split, pipeline in _sequences(config):
        transforms = [t for t in pipeline if isinstance(t, Mapping)]
        types = [t.get("type") for t in transforms]
        if "Normalize" in types:
            late = [t.get("type") for t in transforms[types.index("Normalize") + 1:]
                    if t.get("type") not in _AFTER_NORMALIZE or (t.get("type") == "Pad" and pad_key(t) in staying)]
            if late:
                refusals.append(("Normalize", f"{late[0]} runs after Normalize in the {split} pipeline and sees "
                                              "normalised pixels; 3.x normalises after the whole pipeline"))
    if refusals:
        return {}, list(dict.fromkeys(refusals))
    fields: dict[str, Any] = {}
    if norms:
        mean, std, to_rgb = norms.pop()
        fields.update(mean=list(mean), std=list(std), bgr_to_rgb=to_rgb)
    if divisors:
        fields["pad_size_divisor"] = divisors.pop()
    if train_sizes:
        fields["batch_augments"] = [{"type": "BatchFixedSizePad", "size": train_sizes.pop()}]
    return fields, []


def _pad_value(pad_val: Any) -> Any:
    if pad_val is None:
        return 0
    return pad_val.get("img", 0) if isinstance(pad_val, Mapping) else pad_val


def train_annotation_loader(config: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The resolved 2.x train pipeline's LoadAnnotations (or LoadPanopticAnnotations)."""
    for split, pipeline in resolved_pipelines(config):
        for transform in pipeline if split == "train" else ():
            if isinstance(transform, Mapping) and transform.get("type") in ("LoadAnnotations",
                                                                            "LoadPanopticAnnotations"):
                return transform
    return None


# ---------------------------------------------------------------- libcst pieces


def _literal(node: cst.BaseExpression | None) -> Any:
    return None if node is None else literal_value(node, None)


def _type_of(node: cst.BaseExpression) -> str | None:
    """``'X'`` for ``dict(type='X', ...)`` (``**`` splats allowed), else None."""
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "dict":
        return string_value(keyword_value(node.args, "type"))
    return None


def _keywords(call: cst.Call) -> list[str]:
    return [arg.keyword.value for arg in call.args if arg.keyword is not None]


def _with_type(call: cst.Call, kind: str) -> cst.Call:
    index = keyword_index(call.args, "type")
    args = list(call.args)
    args[index] = args[index].with_changes(value=quoted_like(args[index].value, cst.SimpleString(f"'{kind}'")))
    return call.with_changes(args=args)


def _renamed(call: cst.Call, old: str, new: str) -> cst.Call:
    index = keyword_index(call.args, old)
    if index is None:
        return call
    args = list(call.args)
    args[index] = args[index].with_changes(keyword=cst.Name(new))
    return call.with_changes(args=args)


def _without(call: cst.Call, *names: str) -> cst.Call:
    for name in names:
        index = keyword_index(call.args, name)
        if index is not None:
            call = call.with_changes(args=remove_arg(call.args, index))
    return call


def _string(text: str, like: cst.BaseExpression | None) -> cst.SimpleString:
    new = cst.SimpleString(repr(text))
    return quoted_like(like, new) if like is not None else new


def _transform_call(kind: str, like: cst.BaseExpression | None, **arguments: cst.BaseExpression) -> cst.Call:
    """``dict(type=kind, **arguments)`` on one line, quoted like ``like``."""
    args = append_keyword([], "type", _string(kind, like))
    for name, value in arguments.items():
        args = append_keyword(args, name, value)
    return cst.Call(func=cst.Name("dict"), args=args)


def _tuple_of_strings(values: Sequence[str], like: cst.BaseExpression | None) -> cst.Tuple:
    elements = [
        cst.Element(_string(value, like), comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        for value in values
    ]
    elements[-1] = elements[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    return cst.Tuple(elements)


def _spliced(elements: Sequence[cst.Element], index: int, values: Sequence[cst.BaseExpression]) -> list[cst.Element]:
    """``elements`` with the ``index``-th replaced by ``values`` (none: removed), in the list's layout."""
    if not values:
        return remove_arg(elements, index)
    old = elements[index]
    separator = next(
        (e.comma for e in (elements[index - 1] if index else None, old) if e is not None and isinstance(e.comma,
                                                                                                    cst.Comma)),
        cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")),
    )
    new = [cst.Element(value, comma=separator) for value in values[:-1]]
    new.append(old.with_changes(value=values[-1]))
    return [*elements[:index], *new, *elements[index + 1:]]


# ---------------------------------------------------------------- the rewrite of one file

_UNKNOWN = object()  # a value no literal gives


class _PipelineRewrite:
    """Rewrites the transform lists of one file; records what it could not map."""

    def __init__(self, fm: FileMigration) -> None:
        self.fm = fm
        fields, refusals = preprocessing(fm.old)
        self.preprocessor_refused = bool(refusals)
        self.staying_pads = staying_pads(fm.old)
        for construct, reason in dict(refusals).items():
            fm.refuse(construct, reason)
        self.refused: dict[str, str] = {}
        self.dropped_normalize = False
        self.loader = train_annotation_loader(fm.old)
        self.openimages = any(
            str(dataset.get("type", "")).startswith("OpenImages")
            for dataset in _datasets(fm.old.get("data"))
        )

    def refuse(self, construct: str, reason: str) -> None:
        self.refused.setdefault(construct, reason)

    # ---- walking the top-level statements

    def expression(self, node: cst.BaseExpression, pipeline: bool) -> cst.BaseExpression:
        """``node`` with its transform lists migrated; ``pipeline``: ``node`` itself is one."""
        if pipeline and isinstance(node, cst.List):
            return self.pipeline(node)
        if isinstance(node, cst.Call):
            args = [
                arg.with_changes(value=self.expression(arg.value, arg.keyword is not None
                                                       and arg.keyword.value == "pipeline"))
                for arg in node.args
            ]
            return node.with_changes(args=args)
        if isinstance(node, (cst.List, cst.Tuple)):
            return node.with_changes(elements=[e.with_changes(value=self.expression(e.value, False))
                                               if isinstance(e, cst.Element) else e for e in node.elements])
        if isinstance(node, cst.Dict):
            return node.with_changes(elements=[
                e.with_changes(value=self.expression(e.value, string_value(e.key) == "pipeline"))
                if isinstance(e, cst.DictElement) else e
                for e in node.elements
            ])
        return node

    # ---- one pipeline

    def pipeline(self, node: cst.List) -> cst.List:
        elements = list(node.elements)
        index = 0
        while index < len(elements):
            values = self.transform(elements[index].value, elements, index)
            if values is None:
                index += 1
                continue
            elements = _spliced(elements, index, values)
            index += len(values)
        return node.with_changes(elements=elements)

    def transform(self, node: cst.BaseExpression, elements: Sequence[cst.Element],
                  index: int) -> list[cst.BaseExpression] | None:
        """What replaces one transform: a list (maybe empty), or None to keep it as written."""
        kind = _type_of(node)
        if kind is None or not isinstance(node, cst.Call):
            return None
        if kind in FORMATTING:
            return []
        if kind in ("Normalize", "Pad"):
            if self.preprocessor_refused or (kind == "Pad" and self.pad_stays(node, elements, index)):
                return None
            self.dropped_normalize |= kind == "Normalize"
            return []
        if kind == "SegRescale":
            return []  # the semantic head rescales (model group)
        if kind == "Collect":
            return self.collect(node, elements)
        if kind == "Resize":
            return self.resize(node)
        if kind == "RandomFlip":
            return [_renamed(node, "flip_ratio", "prob")]
        if kind == "RandomShift":
            return [_renamed(node, "shift_ratio", "prob")]
        if kind == "AutoAugment":
            return self.auto_augment(node)
        if kind == "MultiScaleFlipAug":
            return self.multi_scale_flip_aug(node, elements)
        if kind == "Albu":
            return self.albu(node)
        if kind in REFUSED_TYPES:
            self.refuse(kind, REFUSED_TYPES[kind])
            return None
        if kind in SAME_ARGUMENTS:
            self.check_arguments(node, kind)
        return None

    def pad_stays(self, node: cst.Call, elements: Sequence[cst.Element], index: int) -> bool:
        """Whether a Pad stays in its 3.x pipeline: a transform other than formatting follows it here, or
        (through a dataset wrapper's pipeline) where the resolved config runs it."""
        if any(_type_of(e.value) not in _AFTER_MOVED_PAD for e in elements[index + 1:]):
            return True
        value = self.evaluated(node)
        if value is _UNKNOWN:
            if self.staying_pads:
                self.refuse("Pad", "its arguments are not literals: it cannot be told from a Pad that stays")
                return True
            return False
        return pad_key(value) in self.staying_pads

    def evaluated(self, node: cst.BaseExpression) -> Any:
        """The value of a ``dict(...)`` of literals and variables (as the resolved config holds them)."""
        if isinstance(node, cst.Name):
            return self.fm.old.get(node.value, _UNKNOWN)
        if not (isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "dict"):
            return literal_value(node, _UNKNOWN)
        value: dict[str, Any] = {}
        for arg in node.args:
            item = self.evaluated(arg.value)
            if arg.star == "**" and isinstance(item, Mapping):
                value.update(item)
            elif arg.keyword is not None and item is not _UNKNOWN:
                value[arg.keyword.value] = item
            else:
                return _UNKNOWN
        return value

    def check_arguments(self, node: cst.Call, kind: str) -> None:
        for name in _keywords(node):
            if name != "type" and name not in SAME_ARGUMENTS[kind]:
                self.refuse(f"{kind}.{name}", f"3.x {kind} takes no {name}")
        size = _SIZE_ARGUMENT.get(kind)
        if size is not None and not all(
            _square(transform.get(size, (640, 640) if size == "img_scale" else (0, 0)))
            for _, transform in resolved_transforms(self.fm.old, kind)
        ):
            self.refuse(f"{kind}.{size}", f"3.x reads {size} as (w, h), 2.x as (h, w): only square sizes map")

    def collect(self, node: cst.Call, elements: Sequence[cst.Element]) -> list[cst.BaseExpression]:
        like = keyword_value(node.args, "type")
        keys = _literal(keyword_value(node.args, "keys"))
        test = isinstance(keys, (list, tuple)) and not any(str(key).startswith("gt_") for key in keys)
        meta = _literal(keyword_value(node.args, "meta_keys"))
        extra = [key for key in meta or () if key not in _COLLECT_DEFAULT_META]
        defaults = TEST_META_KEYS if test else TRAIN_META_KEYS
        if test and self.openimages:
            extra = [*extra, "instances", "image_level_labels"]
        pack = (
            _transform_call("PackDetInputs", like, meta_keys=_tuple_of_strings([*defaults, *extra], like))
            if test or extra else _transform_call("PackDetInputs", like)
        )
        loaded = any(_type_of(e.value) in ("LoadAnnotations", "LoadPanopticAnnotations") for e in elements)
        return [self.test_loader(like), pack] if test and not loaded else [pack]

    def test_loader(self, like: cst.BaseExpression | None) -> cst.Call:
        """The annotation loader the 3.x test pipelines run before packing, for the evaluator."""
        loader = self.loader or {"type": "LoadAnnotations", "with_bbox": True}
        if loader["type"] == "LoadPanopticAnnotations":
            return _transform_call("LoadPanopticAnnotations", like)
        flags = {
            name: cst.Name("True")
            for name in ("with_bbox", "with_mask", "with_seg")
            if loader.get(name, name == "with_bbox") is True
        }
        return _transform_call("LoadAnnotations", like, **flags)

    def resize(self, node: cst.Call) -> list[cst.BaseExpression] | None:
        names = _keywords(node)
        if "img_scale" not in names:
            return None  # inside MultiScaleFlipAug (R12), or already 3.x
        unknown = [name for name in names if name not in ("type", "img_scale", "multiscale_mode", "ratio_range",
                                                          "keep_ratio", "bbox_clip_border", "backend",
                                                          "interpolation", "override")]
        if unknown:
            self.refuse(f"Resize.{unknown[0]}", f"2.x Resize takes no {unknown[0]}")
            return None
        scale = keyword_value(node.args, "img_scale")
        value = self.literal(scale)
        mode = string_value(keyword_value(node.args, "multiscale_mode")) or "range"
        ratio = "ratio_range" in names
        if value is None or (mode not in ("range", "value")):
            self.refuse("Resize.img_scale", "the scale is not a literal this file writes")
            return None
        scales = list(value) if isinstance(value, list) else [value]
        if ratio and len(scales) != 1:
            self.refuse("Resize.ratio_range", "2.x samples a ratio of one scale only")
            return None
        call = _without(node, "override", "multiscale_mode")
        call = _renamed(call, "bbox_clip_border", "clip_object_border")
        if "keep_ratio" not in names:
            call = call.with_changes(args=append_keyword(call.args, "keep_ratio", cst.Name("True")))
        if len(scales) == 1 and isinstance(value, list) and isinstance(scale, cst.List):
            call = self.set_argument(call, "img_scale", scale.elements[0].value)  # [s] is s
        if len(scales) == 1 and not ratio:
            return [_renamed(call, "img_scale", "scale")]
        if len(scales) == 1 or mode == "range":
            return [_renamed(_with_type(call, "RandomResize"), "img_scale", "scale")]
        return [_renamed(_with_type(call, "RandomChoiceResize"), "img_scale", "scales")]

    @staticmethod
    def set_argument(call: cst.Call, name: str, value: cst.BaseExpression) -> cst.Call:
        return set_mapping_value(call, name, value)  # type: ignore[return-value]

    def literal(self, node: cst.BaseExpression | None) -> Any:
        """A literal value, also through a variable this file assigns a literal to."""
        if isinstance(node, cst.Name):
            node = self.fm.written(node.value)
        value = _literal(node)
        return value if isinstance(value, (list, tuple)) else None

    def auto_augment(self, node: cst.Call) -> list[cst.BaseExpression] | None:
        policies = keyword_value(node.args, "policies")
        if not isinstance(policies, cst.List) or not all(
            isinstance(e, cst.Element) and isinstance(e.value, cst.List) for e in policies.elements
        ):
            self.refuse("AutoAugment", "its policies are not a literal list of lists")
            return None
        migrated = policies.with_changes(
            elements=[e.with_changes(value=self.pipeline(e.value)) for e in policies.elements])
        call = self.set_argument(_with_type(node, "RandomChoice"), "policies", migrated)
        return [_renamed(call, "policies", "transforms")]

    def multi_scale_flip_aug(self, node: cst.Call, elements: Sequence[cst.Element]) -> list[cst.BaseExpression] | None:
        inner = keyword_value(node.args, "transforms")
        flip = keyword_value(node.args, "flip")
        scale = keyword_value(node.args, "img_scale")
        value = self.literal(scale)
        reason = None
        if not (isinstance(flip, cst.Name) and flip.value == "False"):
            reason = "flip=True is test-time augmentation"
        elif set(_keywords(node)) - {"type", "img_scale", "flip", "transforms"}:
            reason = "scale_factor / flip_direction have no flat 3.x form"
        elif value is None or (isinstance(value, list) and len(value) != 1):
            reason = "several test scales are test-time augmentation" if value else "img_scale is not a literal"
        elif not isinstance(inner, cst.List) or any(_type_of(e.value) not in _MSFA_INNER for e in inner.elements):
            reason = "its transforms go beyond Resize, RandomFlip, Normalize, Pad and formatting"
        elif self.preprocessor_refused:
            reason = "Normalize/Pad inside it cannot move to data_preprocessor"
        if reason is not None:
            self.refuse("MultiScaleFlipAug", reason)
            return None
        if isinstance(value, list):
            scale = scale.elements[0].value if isinstance(scale, cst.List) else scale
        resize = next(e.value for e in inner.elements if _type_of(e.value) == "Resize") \
            if any(_type_of(e.value) == "Resize" for e in inner.elements) else None
        new: list[cst.BaseExpression] = []
        if resize is not None:
            call = _renamed(resize, "bbox_clip_border", "clip_object_border")
            call = _with_scale(call, scale)
            if "keep_ratio" not in _keywords(call):
                call = call.with_changes(args=append_keyword(call.args, "keep_ratio", cst.Name("True")))
            new.append(call)
        new += [e.value for i, e in enumerate(inner.elements)
                if _type_of(e.value) == "Pad" and self.pad_stays(e.value, inner.elements, i)]
        self.dropped_normalize |= any(_type_of(e.value) == "Normalize" for e in inner.elements)
        collect = next((e.value for e in inner.elements if _type_of(e.value) == "Collect"), None)
        if collect is not None:
            new.extend(self.collect(collect, elements))
        return new

    def albu(self, node: cst.Call) -> list[cst.BaseExpression] | None:
        params = keyword_value(node.args, "bbox_params")
        fields = keyword_value(params.args, "label_fields") if isinstance(params, cst.Call) else None
        if params is not None and _literal(fields) != ["gt_labels"]:
            self.refuse("Albu", "bbox_params.label_fields other than ['gt_labels'] has no 3.x name")
            return None
        call = _without(node, "update_pad_shape")
        if isinstance(params, cst.Call):
            like = fields.elements[0].value if isinstance(fields, cst.List) else None
            new_fields = cst.List([
                cst.Element(_string("gt_bboxes_labels", like), comma=cst.Comma(cst.SimpleWhitespace(""),
                                                                              cst.SimpleWhitespace(" "))),
                cst.Element(_string("gt_ignore_flags", like)),
            ])
            call = self.set_argument(call, "bbox_params", set_mapping_value(params, "label_fields", new_fields))
        return [call]


def _with_scale(call: cst.Call, scale: cst.BaseExpression) -> cst.Call:
    """``call`` with ``scale=`` right after ``type=``, where the official ports write it."""
    index = (keyword_index(call.args, "type") or 0) + 1
    args = list(call.args)
    return call.with_changes(args=[*append_keyword(args[:index], "scale", scale), *args[index:]])


def _square(size: Any) -> bool:
    return isinstance(size, (list, tuple)) and len(size) == 2 and size[0] == size[1]


def _datasets(dataset: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(dataset, (list, tuple)):
        for item in dataset:
            yield from _datasets(item)
    elif isinstance(dataset, Mapping):
        if "type" in dataset:
            yield dataset
        for key in ("train", "val", "test", "dataset", "datasets"):
            yield from _datasets(dataset.get(key))


def migrate_pipelines(fm: FileMigration) -> None:
    rewrite = _PipelineRewrite(fm)
    body = []
    for statement in fm.module.body:
        name = assigned_name(statement)
        if name is not None:
            assign = statement.body[0]
            value = rewrite.expression(assign.value, name.endswith("pipeline"))
            if value is not assign.value and not value.deep_equals(assign.value):
                statement = statement.with_changes(body=[assign.with_changes(value=value)])
        body.append(statement)
    fm.module = fm.module.with_changes(body=body)
    for construct, reason in rewrite.refused.items():
        fm.refuse(construct, reason)
    if rewrite.dropped_normalize and fm.written("img_norm_cfg") is not None and not name_loads(fm.module, "img_norm_cfg"):
        fm.remove("img_norm_cfg")


STEPS = (
    Step(
        id="R1, R2, R7, R8, R9, R10, R11, R12, R33, R35",
        summary="2.x transforms to their 3.x names and arguments; normalising, padding and formatting leave the pipelines",
        run=migrate_pipelines,
        examples=(
            Example(
                """
                img_norm_cfg = dict(
                    mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
                train_pipeline = [
                    dict(type='LoadImageFromFile'),
                    dict(type='LoadAnnotations', with_bbox=True),
                    dict(type='Resize', img_scale=(1333, 800), keep_ratio=True),
                    dict(type='RandomFlip', flip_ratio=0.5),
                    dict(type='Normalize', **img_norm_cfg),
                    dict(type='Pad', size_divisor=32),
                    dict(type='DefaultFormatBundle'),
                    dict(type='Collect', keys=['img', 'gt_bboxes', 'gt_labels']),
                ]
                test_pipeline = [
                    dict(type='LoadImageFromFile'),
                    dict(
                        type='MultiScaleFlipAug',
                        img_scale=(1333, 800),
                        flip=False,
                        transforms=[
                            dict(type='Resize', keep_ratio=True),
                            dict(type='RandomFlip'),
                            dict(type='Normalize', **img_norm_cfg),
                            dict(type='Pad', size_divisor=32),
                            dict(type='ImageToTensor', keys=['img']),
                            dict(type='Collect', keys=['img']),
                        ])
                ]
                """,
                """
                train_pipeline = [
                    dict(type='LoadImageFromFile'),
                    dict(type='LoadAnnotations', with_bbox=True),
                    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
                    dict(type='RandomFlip', prob=0.5),
                    dict(type='PackDetInputs'),
                ]
                test_pipeline = [
                    dict(type='LoadImageFromFile'),
                    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
                    dict(type='LoadAnnotations', with_bbox=True),
                    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
                ]
                """,
                kind=FileKind.CONFIG,
                title="R7, R10, R11, R12: the 2.x COCO pipelines",
            ),
            Example(
                """
                train_pipeline = [
                    dict(type='LoadImageFromFile'),
                    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
                    dict(
                        type='Resize',
                        img_scale=[(1333, 640), (1333, 800)],
                        multiscale_mode='range'),
                    dict(type='Resize', img_scale=[(1333, 640), (1333, 800)], multiscale_mode='value', override=True),
                    dict(type='Resize', img_scale=(640, 640), ratio_range=(0.8, 1.2), keep_ratio=True),
                    dict(type='AutoAugment', policies=[[dict(type='Resize', img_scale=[(1333, 800)])]]),
                    dict(type='SegRescale', scale_factor=1 / 8),
                    dict(type='Collect', keys=['img', 'gt_bboxes', 'gt_labels', 'gt_masks']),
                ]
                """,
                """
                train_pipeline = [
                    dict(type='LoadImageFromFile'),
                    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
                    dict(
                        type='RandomResize',
                        scale=[(1333, 640), (1333, 800)],
                        keep_ratio=True),
                    dict(type='RandomChoiceResize', scales=[(1333, 640), (1333, 800)], keep_ratio=True),
                    dict(type='RandomResize', scale=(640, 640), ratio_range=(0.8, 1.2), keep_ratio=True),
                    dict(type='RandomChoice', transforms=[[dict(type='Resize', scale=(1333, 800), keep_ratio=True)]]),
                    dict(type='PackDetInputs'),
                ]
                """,
                kind=FileKind.CONFIG,
                title="R8, R9, R33, R35: multi-scale resizes, AutoAugment, SegRescale",
            ),
            Example(
                """
                test_pipeline = [
                    dict(type='LoadImageFromFile'),
                    dict(
                        type='MultiScaleFlipAug',
                        img_scale=[(1333, 800), (1333, 1000)],
                        flip=True,
                        transforms=[dict(type='Resize', keep_ratio=True), dict(type='Collect', keys=['img'])])
                ]
                train_pipeline = [dict(type='Shear', level=5), dict(type='PackDetInputs')]
                """,
                kind=FileKind.CONFIG,
                title="test-time augmentation and Shear are refused: left as written and named",
            ),
            Example(
                """
                load_pipeline = [
                    dict(type='LoadImageFromFile'),
                    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
                    dict(type='RandomFlip', flip_ratio=0.5),
                    dict(type='Pad', size=(1024, 1024)),
                ]
                train_pipeline = [
                    dict(type='CopyPaste', max_num_pasted=100),
                    dict(type='Normalize', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True),
                    dict(type='DefaultFormatBundle'),
                    dict(type='Collect', keys=['img', 'gt_bboxes', 'gt_labels', 'gt_masks']),
                ]
                train_dataloader = dict(
                    dataset=dict(type='MultiImageMixDataset', dataset=dict(pipeline=load_pipeline), pipeline=train_pipeline))
                """,
                """
                load_pipeline = [
                    dict(type='LoadImageFromFile'),
                    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
                    dict(type='RandomFlip', prob=0.5),
                    dict(type='Pad', size=(1024, 1024)),
                ]
                train_pipeline = [
                    dict(type='CopyPaste', max_num_pasted=100),
                    dict(type='PackDetInputs'),
                ]
                train_dataloader = dict(
                    dataset=dict(type='MultiImageMixDataset', dataset=dict(pipeline=load_pipeline), pipeline=train_pipeline))
                """,
                kind=FileKind.CONFIG,
                title="R2: a Pad that CopyPaste follows (through the wrapper's pipeline) stays in its place",
            ),
            Example(
                """
                pad_cfg = dict(img=(128, 128, 128), masks=0, seg=255)
                img_norm_cfg = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
                train_pipeline = [
                    dict(type='LoadImageFromFile'),
                    dict(type='Pad', size=(1024, 1024), pad_val=pad_cfg),
                    dict(type='Normalize', **img_norm_cfg),
                    dict(type='DefaultFormatBundle', img_to_float=True),
                    dict(type='Collect', keys=['img', 'gt_bboxes', 'gt_labels']),
                ]
                test_pipeline = [
                    dict(type='LoadImageFromFile'),
                    dict(type='MultiScaleFlipAug', img_scale=(1333, 800), flip=False, transforms=[
                        dict(type='Resize', keep_ratio=True),
                        dict(type='Pad', size_divisor=32, pad_val=pad_cfg),
                        dict(type='Normalize', **img_norm_cfg),
                        dict(type='Collect', keys=['img']),
                    ])
                ]
                """,
                """
                pad_cfg = dict(img=(128, 128, 128), masks=0, seg=255)
                train_pipeline = [
                    dict(type='LoadImageFromFile'),
                    dict(type='Pad', size=(1024, 1024), pad_val=pad_cfg),
                    dict(type='PackDetInputs'),
                ]
                test_pipeline = [
                    dict(type='LoadImageFromFile'),
                    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
                    dict(type='Pad', size_divisor=32, pad_val=pad_cfg),
                    dict(type='LoadAnnotations', with_bbox=True),
                    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
                ]
                """,
                kind=FileKind.CONFIG,
                title="R2, R12: a Pad before Normalize pads raw pixels: it stays, with its pad_val (Mask2Former)",
            ),
            Example(
                """
                train_pipeline = [
                    dict(type='LoadImageFromFile'),
                    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
                    dict(type='RandomFlip', prob=0.5),
                    dict(type='PackDetInputs'),
                ]
                """,
                kind=FileKind.CONFIG,
                title="a 3.x pipeline is left alone",
            ),
        ),
    ),
)
