"""The model heads that classify objects, and the keys that give them their number of classes.

Counted (mmdet 3.3.0 and 2.28.2 configs): ``bbox_head`` (single-stage, DETR-style, each stage of Cascade's list,
a nested detector's), ``mask_head`` (also SOLO's and YOLACT's), ``mask_iou_head``, ``point_head``, ``glbctx_head``,
``segm_head``, LAD's ``teacher_bbox_head``, a class-counting loss inside them (``SeesawLoss``), and Mask2Former's
``panoptic_head``/``panoptic_fusion_head`` thing classes when there are no stuff classes (instance segmentation),
and a list of per-class loss weights with the background's last (``class_weight=[1.0] * num_classes + [0.1]``).
Not counted: ``rpn_head`` (object or not), HTC/SCNet ``semantic_head`` (183 COCO-stuff classes), a panoptic model's
thing/stuff split, re-identification and tracking heads (identities), and text-prompted heads (GLIP, Grounding DINO:
their ``num_classes`` counts text tokens).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from autofix.mmconfig import registry_name
from autofix.rule import KeyPath

OBJECT_HEADS = frozenset({
    "bbox_head", "mask_head", "mask_iou_head", "point_head", "glbctx_head", "segm_head", "teacher_bbox_head",
    "panoptic_head", "panoptic_fusion_head", "semantic_head",
})
TEXT_PROMPTED_HEADS = frozenset({"GroundingDINOHead", "ATSSVLFusionHead"})


def class_counts(config: Mapping[str, Any]) -> Iterator[tuple[KeyPath, Any]]:
    """(key path, value) of every number of object classes a head of ``model`` is built with, and of every
    ``class_weight`` list sized by it (one weight a class, then the background's)."""
    model = config.get("model")
    if isinstance(model, Mapping):
        yield from _counts(model, ("model",), inside_head=False)


def _counts(value: Any, path: KeyPath, inside_head: bool) -> Iterator[tuple[KeyPath, Any]]:
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _counts(item, (*path, index), inside_head)
        return
    if not isinstance(value, Mapping) or registry_name(value.get("type")) in TEXT_PROMPTED_HEADS:
        return
    name = next((key for key in reversed(path) if isinstance(key, str)), "")
    head = name in OBJECT_HEADS
    if head or (inside_head and name == "loss_cls"):
        if "num_things_classes" in value:
            if not value.get("num_stuff_classes"):
                yield (*path, "num_things_classes"), value["num_things_classes"]
        elif "num_classes" in value and name != "semantic_head":
            yield (*path, "num_classes"), value["num_classes"]
        if name == "loss_cls" and isinstance(value.get("class_weight"), (list, tuple)):
            yield (*path, "class_weight"), value["class_weight"]
    for key, inner in value.items():
        if key != "rpn_head":
            yield from _counts(inner, (*path, key), inside_head or head)
