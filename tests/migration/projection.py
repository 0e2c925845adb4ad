"""Canonical projections of a resolved config onto the keys a migrated config must share with its official
port (migration notes §4.1), and the comparator.

``project_3x`` reads a 3.x config as mmengine and mmdet 3.x do; ``project_2x`` reads an unmigrated 2.x
config as mmcv 1.x and mmdet 2.x did, in the same terms, so that ``compare(project_2x(old),
project_3x(port))`` is exactly what the official port changed.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping
from typing import Any

from autofix.mmconfig import flatten, registry_name

ABSENT = "<absent>"  # a dotted key one side of a comparison does not have (JSON-friendly)

# What a 2.x dataset's `evaluate` computed, as the 3.x metric that computes it (notes R13-R16).
DATASET_METRICS = {
    "CocoDataset": "CocoMetric",
    "CityscapesDataset": "CocoMetric",
    "DeepFashionDataset": "CocoMetric",
    "Objects365V1Dataset": "CocoMetric",
    "Objects365V2Dataset": "CocoMetric",
    "CocoPanopticDataset": "CocoPanopticMetric",
    "LVISDataset": "LVISMetric",
    "LVISV05Dataset": "LVISMetric",
    "LVISV1Dataset": "LVISMetric",
    "VOCDataset": "VOCMetric",
    "WIDERFaceDataset": "VOCMetric",
    "OpenImagesDataset": "OpenImagesMetric",
    "OpenImagesChallengeDataset": "OpenImagesMetric",
}
# 2.x transforms whose work the 3.x data preprocessor or PackDetInputs does (notes R1, R2, R11); a Pad
# to a fixed size or a square is still a 3.x transform.
_PREPROCESSING_2X = frozenset({"Normalize", "DefaultFormatBundle", "ImageToTensor"})
_WRAPPERS = ("RepeatDataset", "ClassBalancedDataset", "MultiImageMixDataset")


def canonical(value: Any) -> Any:
    """Plain dicts and lists (tuples become lists, keys strings): what JSON keeps, so frozen values compare."""
    if isinstance(value, Mapping):
        return {str(key): canonical(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(item) for item in value]
    return value


def _metrics(metric: Any) -> list[str] | None:
    return None if metric is None else canonical([metric] if isinstance(metric, str) else metric)


def _single_scale(scale: Any) -> Any:
    """``[(1333, 800)]`` -> ``[1333, 800]``: one scale written as a list of one."""
    scale = canonical(scale)
    if isinstance(scale, list) and len(scale) == 1 and isinstance(scale[0], list):
        return scale[0]
    return scale


def _dataset_chain(dataset: Any) -> tuple[list[str], list[Mapping[str, Any]], list[list[Any]]]:
    """A train dataset's wrapper types (outer first), its leaf datasets and the pipelines in the order
    a sample goes through them (the leaf's, then each wrapper's from the inside out)."""
    wrappers: list[str] = []
    pipelines: list[list[Any]] = []
    while isinstance(dataset, Mapping) and isinstance(dataset.get("dataset"), Mapping):
        wrappers.append(registry_name(dataset.get("type")))
        pipelines.insert(0, list(dataset.get("pipeline") or []))
        dataset = dataset["dataset"]
    if not isinstance(dataset, Mapping):
        return wrappers, [], pipelines
    leaves = [dataset]
    if registry_name(dataset.get("type")) == "ConcatDataset":
        wrappers.append("ConcatDataset")
        leaves = [d for d in dataset.get("datasets") or [] if isinstance(d, Mapping)]
    pipelines.insert(0, list((leaves[0].get("pipeline") if leaves else None) or []))
    return wrappers, leaves, pipelines


def _joined_ann_file(dataset: Mapping[str, Any]) -> Any:
    ann_file, data_root = dataset.get("ann_file"), dataset.get("data_root")
    if not isinstance(ann_file, str) or not ann_file:
        return canonical(ann_file)
    return posixpath.normpath(posixpath.join(data_root or "", ann_file))


def _dataset_projection(dataset: Any, transform_types: Callable[[Any], list[str]]) -> dict[str, Any]:
    wrappers, leaves, pipelines = _dataset_chain(dataset)
    return {
        "train_dataset.wrappers": wrappers,
        "train_dataset.type": [registry_name(leaf.get("type")) for leaf in leaves],
        "train_dataset.ann_file": [_joined_ann_file(leaf) for leaf in leaves],
        "train_pipeline": [name for pipeline in pipelines for name in transform_types(pipeline)],
    }


def _test_leaf(dataset: Any) -> Mapping[str, Any]:
    _, leaves, _ = _dataset_chain(dataset)
    return leaves[0] if leaves else {}


def _transforms(pipeline: Any) -> list[Mapping[str, Any]]:
    return [t for t in pipeline or [] if isinstance(t, Mapping)]


def _nested_transforms(pipeline: Any) -> list[Mapping[str, Any]]:
    """The transforms of a pipeline and those of its wrappers (``ProposalBroadcaster(transforms=[...])``), in order."""
    found = []
    for transform in _transforms(pipeline):
        found.append(transform)
        if isinstance(transform.get("transforms"), (list, tuple)):
            found += _nested_transforms(transform["transforms"])
    return found


def _pads_to_divisor(transform: Mapping[str, Any]) -> bool:
    """A 2.x ``Pad(size_divisor=n)``: 3.x pads batches in the data preprocessor instead (R2)."""
    return (registry_name(transform.get("type")) == "Pad" and transform.get("size_divisor") is not None
            and transform.get("size") is None and not transform.get("pad_to_square"))


def _model(model: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The model without what is not architecture (weights to load), and its data preprocessor."""
    model = canonical(model or {})
    preprocessor = model.pop("data_preprocessor", None) or {}
    model.pop("pretrained", None)
    model.pop("init_cfg", None)
    return model, preprocessor


def project_3x(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical keys of a resolved 3.x config, read as mmengine and mmdet 3.x read them."""
    model, preprocessor = _model(cfg.get("model"))
    optim_wrapper = cfg.get("optim_wrapper") or {}
    optimizer = canonical(optim_wrapper.get("optimizer"))
    train_cfg = cfg.get("train_cfg") or {}
    loop = train_cfg.get("type") or ("EpochBasedTrainLoop" if train_cfg.get("by_epoch") else "IterBasedTrainLoop")
    loop = registry_name(loop) if train_cfg else None
    loader = cfg.get("train_dataloader") or {}
    checkpoint = (cfg.get("default_hooks") or {}).get("checkpoint")
    test_resizes = [t for t in _nested_transforms(_test_leaf((cfg.get("test_dataloader") or {}).get("dataset")).get("pipeline"))
                    if registry_name(t.get("type")) == "Resize"]
    evaluators = cfg.get("val_evaluator")
    evaluators = [e for e in (evaluators if isinstance(evaluators, (list, tuple)) else [evaluators]) if e]
    return {
        "model": model,
        "model.data_preprocessor.mean": canonical(preprocessor.get("mean")),
        "model.data_preprocessor.std": canonical(preprocessor.get("std")),
        "model.data_preprocessor.bgr_to_rgb": preprocessor.get("bgr_to_rgb", False),
        "model.data_preprocessor.pad_size_divisor": preprocessor.get("pad_size_divisor", 1),
        "optim_wrapper.optimizer": optimizer,
        "optim_wrapper.constructor": optim_wrapper.get("constructor"),
        "optim_wrapper.paramwise_cfg": canonical(optim_wrapper.get("paramwise_cfg")),
        "optim_wrapper.clip_grad": canonical(optim_wrapper.get("clip_grad")),
        "optim_wrapper.amp": registry_name(optim_wrapper.get("type")) == "AmpOptimWrapper",
        "train_cfg.type": loop,
        "train_cfg.max_epochs": train_cfg.get("max_epochs"),
        "train_cfg.max_iters": train_cfg.get("max_iters"),
        # mmengine's defaults: EpochBasedTrainLoop(val_interval=1), IterBasedTrainLoop(val_interval=1000)
        "train_cfg.val_interval": train_cfg.get("val_interval", 1000 if loop == "IterBasedTrainLoop" else 1),
        "train_dataloader.batch_size": loader.get("batch_size"),
        "train_dataloader.num_workers": loader.get("num_workers", 0),
        "default_hooks.checkpoint.interval": None if checkpoint is None else checkpoint.get("interval", -1),
        **_dataset_projection(loader.get("dataset"), _types_3x),
        "test_resize.scale": _single_scale(test_resizes[0].get("scale")) if test_resizes else None,
        "val_evaluator.type": [registry_name(e.get("type")) for e in evaluators],
        "val_evaluator.metric": [_metrics(e.get("metric")) for e in evaluators],
    }


def _types_3x(pipeline: Any) -> list[str]:
    return [registry_name(t.get("type")) for t in _transforms(pipeline)]


def _types_2x(pipeline: Any) -> list[str]:
    """The 2.x transform sequence in 3.x names: preprocessing moved to the model (R1, R2), Collect is
    PackDetInputs (R11), a Resize that samples its scale is RandomResize or RandomChoiceResize (R8, R9)."""
    types = []
    for transform in _transforms(pipeline):
        name = registry_name(transform.get("type"))
        if name in _PREPROCESSING_2X or _pads_to_divisor(transform):
            continue
        if name == "Collect":
            name = "PackDetInputs"
        elif name == "Resize":
            name = _resize_2x(transform)
        types.append(name)
    return types


def _resize_2x(resize: Mapping[str, Any]) -> str:
    scales = resize.get("img_scale")
    several = isinstance(scales, (list, tuple)) and len(scales) > 1 and isinstance(scales[0], (list, tuple))
    if resize.get("ratio_range") is not None or (several and resize.get("multiscale_mode", "range") == "range"):
        return "RandomResize"
    return "RandomChoiceResize" if several else "Resize"


def _expand_2x_dataset(dataset: Any) -> Any:
    """A 2.x dataset as mmdet 2.x's build_dataset built it: a list, or a list of ``ann_file``, is a ConcatDataset."""
    if isinstance(dataset, (list, tuple)):
        return {"type": "ConcatDataset", "datasets": [_expand_2x_dataset(d) for d in dataset]}
    if not isinstance(dataset, Mapping):
        return dataset
    if isinstance(dataset.get("dataset"), (Mapping, list, tuple)):
        return {**dataset, "dataset": _expand_2x_dataset(dataset["dataset"])}
    if isinstance(dataset.get("ann_file"), (list, tuple)):
        return {"type": "ConcatDataset",
                "datasets": [{**dataset, "ann_file": ann_file} for ann_file in dataset["ann_file"]]}
    return dataset


def _normalize_2x(cfg: Mapping[str, Any]) -> Mapping[str, Any]:
    for pipeline in _pipelines_2x(cfg):
        for transform in _transforms(pipeline):
            if registry_name(transform.get("type")) == "Normalize":
                return transform
    return {}


def _pipelines_2x(cfg: Mapping[str, Any]) -> list[Any]:
    data = cfg.get("data") or {}
    _, _, train_pipelines = _dataset_chain(_expand_2x_dataset(data.get("train")))
    return [*train_pipelines, _test_leaf(_expand_2x_dataset(data.get("test"))).get("pipeline")]


def _test_scale_2x(pipeline: Any) -> Any:
    for transform in _transforms(pipeline):
        if registry_name(transform.get("type")) in ("MultiScaleFlipAug", "Resize"):
            return _single_scale(transform.get("img_scale"))
    return None


def project_2x(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical keys of a resolved, unmigrated 2.x config, read as mmcv 1.x and mmdet 2.28 read them."""
    model, _ = _model(cfg.get("model"))
    data = cfg.get("data") or {}
    normalize = _normalize_2x(cfg)
    pads = [t["size_divisor"] for pipeline in _pipelines_2x(cfg)[:-1] for t in _transforms(pipeline)
            if _pads_to_divisor(t)]
    optimizer = canonical(cfg.get("optimizer")) or {}
    # mmcv's build_optimizer takes these two out of `optimizer`; 3.x has them on the optim wrapper
    paramwise_cfg = optimizer.pop("paramwise_cfg", None) if isinstance(optimizer, dict) else None
    constructor = optimizer.pop("constructor", None) if isinstance(optimizer, dict) else None
    runner = cfg.get("runner") or ({"type": "EpochBasedRunner", "max_epochs": cfg["total_epochs"]}
                                   if "total_epochs" in cfg else {})
    loop = {"EpochBasedRunner": "EpochBasedTrainLoop", "IterBasedRunner": "IterBasedTrainLoop"}.get(
        registry_name(runner.get("type")), registry_name(runner.get("type")))
    # mmdet 2.x's compat_loader_args: data.train_dataloader over data, imgs_per_gpu over samples_per_gpu
    loader = {"samples_per_gpu": 2, "workers_per_gpu": 2, **data, **(data.get("train_dataloader") or {})}
    batch_size = loader.get("imgs_per_gpu", loader["samples_per_gpu"])
    checkpoint = cfg.get("checkpoint_config")
    evaluation = cfg.get("evaluation") or {}
    val_type = registry_name(_test_leaf(_expand_2x_dataset(data.get("val"))).get("type"))
    return {
        "model": model,
        "model.data_preprocessor.mean": canonical(normalize.get("mean")),
        "model.data_preprocessor.std": canonical(normalize.get("std")),
        "model.data_preprocessor.bgr_to_rgb": normalize.get("to_rgb", True) if normalize else False,
        "model.data_preprocessor.pad_size_divisor": pads[0] if pads else 1,
        "optim_wrapper.optimizer": optimizer or None,
        "optim_wrapper.constructor": constructor,
        "optim_wrapper.paramwise_cfg": paramwise_cfg,
        "optim_wrapper.clip_grad": canonical((cfg.get("optimizer_config") or {}).get("grad_clip")),
        "optim_wrapper.amp": "fp16" in cfg,
        "train_cfg.type": loop,
        "train_cfg.max_epochs": runner.get("max_epochs"),
        "train_cfg.max_iters": runner.get("max_iters"),
        "train_cfg.val_interval": evaluation.get("interval", 1),
        "train_dataloader.batch_size": batch_size,
        "train_dataloader.num_workers": loader["workers_per_gpu"],
        "default_hooks.checkpoint.interval": None if checkpoint is None else checkpoint.get("interval", -1),
        **_dataset_projection(_expand_2x_dataset(data.get("train")), _types_2x),
        "test_resize.scale": _test_scale_2x(_test_leaf(_expand_2x_dataset(data.get("test"))).get("pipeline")),
        # mmdet 2.x evaluated with the dataset's own `evaluate`, `evaluation` or not
        "val_evaluator.type": [DATASET_METRICS.get(val_type)],
        "val_evaluator.metric": [_metrics(evaluation.get("metric"))],
    }


def _flat(projection: Mapping[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in projection.items():
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, key))
        else:
            flat[key] = value
    return flat


def compare(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Every dotted key where two projections differ -> (a's value, b's value), ``ABSENT`` for a missing key."""
    flat_a, flat_b = _flat(a), _flat(b)
    return {
        key: (flat_a.get(key, ABSENT), flat_b.get(key, ABSENT))
        for key in sorted(flat_a.keys() | flat_b.keys())
        if flat_a.get(key, ABSENT) != flat_b.get(key, ABSENT)
    }
