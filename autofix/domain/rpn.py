"""How many boxes an RPN hands mmcv's ``batched_nms`` during training, from a resolved config.

The count (mmdet 3.x ``RPNHead._predict_by_feat_single``, per image) is, summed over the anchor
strides s, ``min(nms_pre, ceil(Hp / s) * ceil(Wp / s) * A)``: ``Hp x Wp`` is the padded batch shape,
``A`` the anchors per cell (len(scales) x len(ratios)). The split path of ``batched_nms`` runs when
this count is at least ``split_thr`` (mmcv tests ``boxes < split_thr`` for the unsplit path).

Worst case taken, and why it is exact for the reference configs: with ``keep_ratio`` an image is
rescaled to fit within (long, short) of the scale, so the largest image (every feature map largest)
is one whose aspect is the scale's own; it comes out at exactly the scale, e.g. 1333 x 800, which
``pad_size_divisor=32`` pads to 1344 x 800: 8,819 boxes for the stock FPN RPN, 10,000 at 2666 x 1600
(padded 2688 x 1600), 12,000 for a caffe-C4 RPN at 1333 x 800. Images of both orientations are
assumed (COCO has both); a batch holds one orientation only when the batch sampler groups by aspect
ratio (mmdet's ``AspectRatioBatchSampler``) or the batch size is 1, else it may be padded to
long x long.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from autofix.domain.pipelines import train_image_transforms
from autofix.mmconfig import registry_name, value_at
from autofix.rule import KeyPath, dotted_key

MMCV_DEFAULT_SPLIT_THR = 10000  # mmcv batched_nms: nms_cfg.pop('split_thr', 10000)
FPN_LEVELS = 5  # the stock mmdet RPN: anchor strides [4, 8, 16, 32, 64]


@dataclass(frozen=True)
class RpnProposal:
    """One train-time ``rpn_proposal`` in a resolved config and what bounds its box count."""

    path: KeyPath  # keys (and list indices) from the config root to the rpn_proposal dict
    detector: KeyPath  # the mapping whose train_cfg holds it (its detector, or 2.x top level)
    nms_pre: int | None  # boxes kept per level before NMS (None: unbounded or not a number)
    levels: int  # anchor strides (feature levels) of the RPN head
    split_thr: int  # the effective value (mmcv's default when unset)
    anchor_generator: Mapping[str, Any] | None = None  # the RPN head's, when it has one

    @property
    def key(self) -> str:
        return dotted_key(self.path)

    @property
    def max_boxes(self) -> int | None:
        return None if self.nms_pre is None else self.levels * self.nms_pre

    def needed(self, options: Mapping[str, Any]) -> int | None:
        """The split_thr to set: ``--split-thr`` when given, else one more than the RPN can reach."""
        if options.get("split_thr"):
            return int(options["split_thr"])
        return None if self.max_boxes is None else self.max_boxes + 1

    def problem(self, options: Mapping[str, Any]) -> str | None:
        """What is wrong with this RPN's split_thr, in a few words (the finding's detail names the RPN)."""
        needed = self.needed(options)
        if needed is None:
            return "no nms_pre, so any number of boxes reaches batched_nms"
        if self.split_thr < needed:
            if "split_thr" in options:
                return f"nms.split_thr is {self.split_thr}, below --split-thr {needed}"
            return f"up to {self.max_boxes} boxes reach batched_nms, whose split_thr is {self.split_thr}"
        return None


def _strides_levels(value: Any) -> int:
    """The most anchor strides of any ``*anchor_generator`` inside ``value`` (0 when none)."""
    if isinstance(value, Mapping):
        own = 0
        for key, item in value.items():
            if str(key).endswith("anchor_generator") and isinstance(item, Mapping):
                strides = item.get("strides")
                own = max(own, len(strides) if isinstance(strides, (list, tuple)) else 0)
            own = max(own, _strides_levels(item))
        return own
    if isinstance(value, (list, tuple)):
        return max((_strides_levels(item) for item in value), default=0)
    return 0


def _anchor_generator(head: Any) -> Mapping[str, Any] | None:
    """The head's ``anchor_generator`` (searched breadth first: a cascade RPN's first stage has it)."""
    level = [head]
    while level:
        for value in level:
            if isinstance(value, Mapping) and isinstance(value.get("anchor_generator"), Mapping):
                return value["anchor_generator"]
        level = [
            item
            for value in level
            for item in (value.values() if isinstance(value, Mapping) else value if isinstance(value, (list, tuple)) else ())
        ]
    return None


def _train_cfgs(train_cfg: Any) -> Iterator[tuple[KeyPath, Mapping[str, Any]]]:
    """(keys below ``train_cfg``, settings) of a detector's train settings: one mapping, or a list
    of them, one per head (Co-DETR)."""
    if isinstance(train_cfg, Mapping):
        yield (), train_cfg
    elif isinstance(train_cfg, (list, tuple)):
        for index, item in enumerate(train_cfg):
            if isinstance(item, Mapping):
                yield (index,), item


def rpn_proposals(config: Any, path: KeyPath = ()) -> Iterator[RpnProposal]:
    """Every train-time ``rpn_proposal`` in a resolved config: in ``model.train_cfg`` (or an item of it
    when it is a list), a nested detector's, a head's own ``train_cfg``, or 2.x top level."""
    if isinstance(config, (list, tuple)):
        for index, item in enumerate(config):
            yield from rpn_proposals(item, (*path, index))
        return
    if not isinstance(config, Mapping):
        return
    for keys, settings in _train_cfgs(config.get("train_cfg")):
        proposal = settings.get("rpn_proposal")
        if not isinstance(proposal, Mapping) or not proposal.get("use_nms", True):
            continue  # mmdet3d's VoteNet-style proposals (`use_nms=False`) never reach batched_nms
        # The head that produces the boxes sits beside train_cfg (2.x top level: inside `model`).
        owner = config.get("rpn_head") or (config.get("model") if not path else None) or config
        nms_pre = proposal.get("nms_pre")
        nms = proposal.get("nms") if isinstance(proposal.get("nms"), Mapping) else {}
        yield RpnProposal(
            path=(*path, "train_cfg", *keys, "rpn_proposal"),
            detector=path,
            nms_pre=nms_pre if isinstance(nms_pre, int) and not isinstance(nms_pre, bool) and nms_pre > 0 else None,
            levels=_strides_levels(owner) or FPN_LEVELS,
            split_thr=int(nms.get("split_thr", MMCV_DEFAULT_SPLIT_THR)),
            anchor_generator=_anchor_generator(owner),
        )
    for key, value in config.items():
        if key != "train_cfg":
            yield from rpn_proposals(value, (*path, str(key)))


_RESIZES = ("Resize", "RandomResize", "RandomChoiceResize", "FixShapeResize")


@dataclass(frozen=True)
class Size:
    """An image (or batch) size after the train pipeline, and the config scale it comes from."""

    width: int
    height: int
    scale: Any = None  # the `scale`/`scales` value of the resize that produced it


@dataclass(frozen=True)
class RpnLoad:
    """The most boxes one train image's RPN can hand ``batched_nms``."""

    proposal: RpnProposal
    boxes: int | None  # None: no bound is known (no nms_pre and no image size)
    per_level: tuple[int, ...]  # boxes per anchor stride; empty when the image size is unknown
    image: Size | None  # the largest train image (after the pipeline), None when unknown
    batch: tuple[int, int] | None  # the padded batch shape (width, height) the count is for
    assumption: str  # how the size was reached, in words

    @property
    def at_risk(self) -> bool:
        """Whether batched_nms can take its split path (the one that crashes under AMP)."""
        return self.boxes is None or self.boxes >= self.proposal.split_thr


def _pair(value: Any) -> tuple[int, int] | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value), int(value)
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value):
        return int(value[0]), int(value[1])
    return None


def _resized(scale: tuple[int, int], keep_ratio: bool, origin: Any) -> list[Size]:
    """A keep-ratio resize fits any image within (long, short): the largest fill it exactly, in
    either orientation. Without keep_ratio every image becomes exactly (w, h)."""
    width, height = scale
    if keep_ratio:
        long, short = max(scale), min(scale)
        return [Size(long, short, origin), Size(short, long, origin)]
    return [Size(width, height, origin)]


def _resize_sizes(transform: Mapping[str, Any]) -> list[Size] | None:
    """The largest sizes one resize transform can produce (None: it cannot be told from the config)."""
    kind = registry_name(transform.get("type"))
    keep_ratio = bool(transform.get("keep_ratio", False))
    if kind == "FixShapeResize":
        pair = _pair((transform.get("width"), transform.get("height")))
        return None if pair is None else [Size(*pair, pair)]
    if kind == "RandomChoiceResize":
        scales = transform.get("scales")
        pairs = [_pair(s) for s in scales] if isinstance(scales, (list, tuple)) else [None]
        if not pairs or None in pairs:
            return None
        return [size for pair in pairs for size in _resized(pair, keep_ratio, pair)]
    scale = transform.get("scale")
    if kind == "RandomResize":
        ratio_range = transform.get("ratio_range")
        pair = _pair(scale)
        if ratio_range and pair:  # scale x a ratio drawn from the range
            most = max(ratio_range)
            return _resized((int(pair[0] * most), int(pair[1] * most)), keep_ratio, scale)
        pairs = [_pair(s) for s in scale] if isinstance(scale, (list, tuple)) and not pair else [pair]
        if None in pairs:
            return None
        # Each edge is drawn between the two scales' values for it.
        return _resized((max(p[0] for p in pairs), max(p[1] for p in pairs)), keep_ratio, scale)
    pair = _pair(scale)
    return None if pair is None else _resized(pair, keep_ratio, scale)


def _cropped(sizes: list[Size], transform: Mapping[str, Any]) -> list[Size]:
    """mmdet RandomCrop (``crop_size`` is (w, h); the range types draw up to ``crop_size[1]``)."""
    crop = _pair(transform.get("crop_size"))
    kind = transform.get("crop_type", "absolute")
    if crop is None or kind == "relative_range":
        return sizes
    if kind == "absolute":
        return [Size(min(s.width, crop[0]), min(s.height, crop[1]), s.scale) for s in sizes]
    if kind == "absolute_range":
        return [Size(min(s.width, crop[1]), min(s.height, crop[1]), s.scale) for s in sizes]
    return [Size(int(s.width * crop[0] + 0.5), int(s.height * crop[1] + 0.5), s.scale) for s in sizes]  # relative


def _padded(sizes: list[Size], transform: Mapping[str, Any]) -> list[Size]:
    """mmcv Pad: ``pad_to_square``, then ``size_divisor``, else a fixed ``size`` (w, h)."""
    out = []
    for s in sizes:
        width, height = s.width, s.height
        if transform.get("pad_to_square"):
            width = height = max(width, height)
        divisor = transform.get("size_divisor")
        fixed = _pair(transform.get("size"))
        if divisor:
            width, height = _round_up(width, divisor), _round_up(height, divisor)
        elif fixed:
            width, height = max(width, fixed[0]), max(height, fixed[1])
        out.append(Size(width, height, s.scale))
    return out


def _round_up(value: int, divisor: int) -> int:
    return math.ceil(value / divisor) * divisor


def pipeline_sizes(pipeline: Sequence[Any], sizes: list[Size] | None = None) -> list[Size] | None:
    """The largest image sizes a train pipeline can produce (None: unknown, no resize seen).

    A resize replaces the sizes, crops and pads bound them, ``RandomChoice`` takes every branch;
    other transforms keep the size.
    """
    for transform in pipeline:
        if not isinstance(transform, Mapping):
            continue
        kind = registry_name(transform.get("type"))
        if kind in _RESIZES:
            sizes = _resize_sizes(transform)
        elif kind == "RandomChoice":
            branches = transform.get("transforms") or []
            results = [pipeline_sizes(b if isinstance(b, (list, tuple)) else [b], sizes) for b in branches]
            sizes = None if not results or None in results else [s for r in results for s in r]
        elif kind == "RandomCrop" and sizes is not None:
            sizes = _cropped(sizes, transform)
        elif kind == "Pad" and sizes is not None:
            sizes = _padded(sizes, transform)
    return sizes


def largest_train_sizes(config: Mapping[str, Any]) -> list[Size] | None:
    sizes: list[Size] = []
    for pipeline in train_image_transforms(config):
        found = pipeline_sizes(pipeline)
        if found is None:
            return None
        sizes += found
    return sizes or None


def _batch_shapes(config: Mapping[str, Any], sizes: list[Size]) -> tuple[list[tuple[int, int, Size]], str]:
    """Worst-case (width, height) batch shapes before padding, each with the largest image in it."""
    loader = config.get("train_dataloader") or {}
    batch_size = loader.get("batch_size", 1) if isinstance(loader, Mapping) else 1
    sampler = loader.get("batch_sampler") if isinstance(loader, Mapping) else None
    grouped = isinstance(sampler, Mapping) and "AspectRatioBatchSampler" in str(sampler.get("type", ""))
    if batch_size == 1 or not isinstance(batch_size, int):
        return [(s.width, s.height, s) for s in sizes], "one image a batch"
    if grouped:
        groups = [[s for s in sizes if s.width >= s.height], [s for s in sizes if s.width < s.height]]
        how = "AspectRatioBatchSampler: a batch holds one orientation"
    else:
        groups = [sizes]
        how = f"no AspectRatioBatchSampler: a batch of {batch_size} may mix orientations"
    shapes = []
    for group in filter(None, groups):
        biggest = max(group, key=lambda s: s.width * s.height)
        shapes.append((max(s.width for s in group), max(s.height for s in group), biggest))
    return shapes, how


def _data_preprocessor(config: Mapping[str, Any], proposal: RpnProposal) -> Mapping[str, Any]:
    """The data preprocessor nearest the RPN's detector (a nested detector may have its own)."""
    path = list(proposal.detector)
    while True:
        owner = value_at(config, path) if path else config.get("model")
        if isinstance(owner, Mapping) and isinstance(owner.get("data_preprocessor"), Mapping):
            return owner["data_preprocessor"]
        if not path:
            return {}
        path.pop()


def _padded_batch(width: int, height: int, preprocessor: Mapping[str, Any]) -> tuple[int, int]:
    divisor = preprocessor.get("pad_size_divisor") or 1
    width, height = _round_up(width, divisor), _round_up(height, divisor)
    for augment in preprocessor.get("batch_augments") or []:
        if isinstance(augment, Mapping) and registry_name(augment.get("type")) == "BatchFixedSizePad":
            fixed = _pair(augment.get("size"))  # (h, w)
            if fixed:
                width, height = max(width, fixed[1]), max(height, fixed[0])
    return width, height


def anchors_per_cell(generator: Mapping[str, Any] | None) -> int | None:
    """len(scales) x len(ratios) of an mmdet AnchorGenerator (or its octave form)."""
    if not isinstance(generator, Mapping) or not isinstance(generator.get("ratios"), (list, tuple)):
        return None
    scales = generator.get("scales")
    count = len(scales) if isinstance(scales, (list, tuple)) else generator.get("scales_per_octave")
    return count * len(generator["ratios"]) if isinstance(count, int) else None


def _strides(generator: Mapping[str, Any] | None) -> list[tuple[int, int]] | None:
    strides = generator.get("strides") if isinstance(generator, Mapping) else None
    pairs = [_pair(s) for s in strides] if isinstance(strides, (list, tuple)) else [None]
    return None if not pairs or None in pairs else pairs


def level_boxes(batch: tuple[int, int], generator: Mapping[str, Any], nms_pre: int | None) -> tuple[int, ...] | None:
    """Boxes per anchor stride for a padded batch shape: a stride-s feature map of a padded input is
    ceil(size / s) cells (exact when the padding is a multiple of s; ResNet and FPN round up)."""
    anchors, strides = anchors_per_cell(generator), _strides(generator)
    if anchors is None or strides is None:
        return None
    width, height = batch
    counts = []
    for stride_w, stride_h in strides:
        cells = math.ceil(width / stride_w) * math.ceil(height / stride_h) * anchors
        counts.append(cells if nms_pre is None else min(nms_pre, cells))
    return tuple(counts)


def rpn_loads(config: Mapping[str, Any]) -> list[RpnLoad]:
    """The largest train-time box count of every RPN in a resolved config."""
    loads = []
    sizes = largest_train_sizes(config)
    for proposal in rpn_proposals(config):
        upper = proposal.max_boxes  # levels x nms_pre, whatever the image
        if sizes is None:
            loads.append(RpnLoad(proposal, upper, (), None, None, "the train image size is unknown: no resize in the train pipeline"))
            continue
        shapes, how = _batch_shapes(config, sizes)
        preprocessor = _data_preprocessor(config, proposal)
        best: RpnLoad | None = None
        for width, height, image in shapes:
            batch = _padded_batch(width, height, preprocessor)
            counts = level_boxes(batch, proposal.anchor_generator, proposal.nms_pre)
            if counts is None:
                best = RpnLoad(proposal, upper, (), image, batch, "the anchors per cell are unknown: no AnchorGenerator")
                break
            if best is None or sum(counts) > (best.boxes or 0):
                best = RpnLoad(proposal, sum(counts), counts, image, batch, how)
        loads.append(best)
    return loads


def uses_amp(config: Mapping[str, Any]) -> bool:
    """Mixed precision in mmengine: ``optim_wrapper.type`` AmpOptimWrapper (a dotted name in new-style configs)."""
    wrapper_type = value_at(config, ("optim_wrapper", "type"))
    return registry_name(wrapper_type) == "AmpOptimWrapper"


def _counted(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def box_count_message(load: RpnLoad, amp: str) -> tuple[str, str]:
    """Why ``load`` crashes batched_nms when trained with ``amp``: a short message, and the numbers behind it."""
    proposal = load.proposal
    if load.boxes is None:
        return "no nms_pre bounds the RPN's boxes under AMP", f"{amp}; {proposal.key}: any number reach batched_nms"
    message = f"{load.boxes} RPN boxes reach batched_nms under AMP, split_thr {proposal.split_thr}"
    if not load.per_level:
        return message, (f"{amp}; {proposal.key}: {_counted(proposal.levels, 'level')} x nms_pre "
                         f"{proposal.nms_pre}; {load.assumption}")
    width, height = load.batch
    return message, (f"{amp}; {proposal.key}: {' + '.join(map(str, load.per_level))} boxes over "
                     f"{_counted(len(load.per_level), 'level')} for {load.image.width}x{load.image.height} train "
                     f"images, batch padded to {width}x{height} ({load.assumption})")


def proposal_details(proposal: RpnProposal) -> dict[str, Any]:
    """What bounds an RPN's box count whatever the image: for JSON."""
    return {
        "max_boxes": proposal.max_boxes,
        "levels": proposal.levels,
        "nms_pre": proposal.nms_pre,
        "split_thr": proposal.split_thr,
        "rpn_proposal": proposal.key,
    }


def box_count_details(load: RpnLoad) -> dict[str, Any]:
    """The numbers behind :func:`box_count_message`, for JSON."""
    return {
        **proposal_details(load.proposal),
        "boxes": load.boxes,
        "per_level": list(load.per_level),
        "image": None if load.image is None else [load.image.width, load.image.height],
        "batch": None if load.batch is None else list(load.batch),
        "assumption": load.assumption,
    }
