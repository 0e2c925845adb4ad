"""The datasets a run trains, validates and tests on, as an effective config holds them, and their classes.

mmdet 3.x: ``train_dataloader.dataset`` (likewise ``val_``/``test_``), its classes in ``metainfo=dict(classes=...)``;
mmdet 2.x: ``data.train`` (``val``, ``test``), its classes in ``classes=``. Wrappers (``RepeatDataset``,
``ClassBalancedDataset``, ``MultiImageMixDataset``: ``dataset=``; ``ConcatDataset``: ``datasets=``; a 2.x list)
load no annotations of their own: the datasets they wrap do.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from autofix.mmconfig import registry_name
from autofix.rule import KeyPath, SetKey

SPLITS = ("train", "val", "test")

# The dataset mmdet users subclass or point at their own COCO-format annotations, and its default classes.
COCO_TYPE = "CocoDataset"
COCO_CLASS_COUNT = 80


@dataclass(frozen=True)
class DatasetSite:
    """A dataset that loads annotations: which split reads it, where it is, and how it names its classes."""

    split: str
    path: KeyPath
    dataset: Mapping[str, Any]

    @property
    def legacy(self) -> bool:
        """mmdet 2.x (``data.<split>``): ``classes=`` on the dataset, not ``metainfo``."""
        return self.path[0] == "data"

    def classes_edit(self, classes: tuple[str, ...]) -> SetKey:
        """The edit that gives the dataset ``classes``: a whole ``metainfo`` where it has none (a new-style
        config cannot assign into a key that does not exist), else its ``classes`` (its palette kept)."""
        if self.legacy:
            return SetKey((*self.path, "classes"), classes)
        if isinstance(self.dataset.get("metainfo"), Mapping):
            return SetKey((*self.path, "metainfo", "classes"), classes)
        return SetKey((*self.path, "metainfo"), {"classes": classes})

    @property
    def declared_classes(self) -> tuple[str, ...] | None:
        """The class names the config gives the dataset (None: the dataset type's own; a 2.x file name counts as none)."""
        holder = self.dataset if self.legacy else self.dataset.get("metainfo")
        classes = holder.get("classes") if isinstance(holder, Mapping) else None
        return tuple(classes) if isinstance(classes, (list, tuple)) else None

    @property
    def type(self) -> str | None:
        return registry_name(self.dataset.get("type"))


def stage_datasets(config: Mapping[str, Any], stage: str) -> Iterator[tuple[KeyPath, Any]]:
    """The dataset the ``stage`` loop ('train', 'val' or 'test') reads, with its key path:
    ``<stage>_dataloader.dataset`` (mmengine), ``data.<stage>`` (mmdet 2.x)."""
    loader = config.get(f"{stage}_dataloader")
    if isinstance(loader, Mapping) and "dataset" in loader:
        yield (f"{stage}_dataloader", "dataset"), loader["dataset"]
    data = config.get("data")
    if isinstance(data, Mapping) and stage in data:
        yield ("data", stage), data[stage]


def dataset_sites(config: Mapping[str, Any]) -> Iterator[DatasetSite]:
    """Every dataset the train, val and test loops load, through dataset wrappers."""
    for split in SPLITS:
        for path, dataset in stage_datasets(config, split):
            yield from _wrapped(split, dataset, path)


def _wrapped(split: str, dataset: Any, path: KeyPath) -> Iterator[DatasetSite]:
    if isinstance(dataset, (list, tuple)):
        for index, item in enumerate(dataset):
            yield from _wrapped(split, item, (*path, index))
    elif isinstance(dataset, Mapping):
        inner = [key for key in ("dataset", "datasets") if key in dataset]
        for key in inner:
            yield from _wrapped(split, dataset[key], (*path, key))
        if not inner:
            yield DatasetSite(split, path, dataset)


def trained_classes(sites: Iterable[DatasetSite]) -> tuple[str, ...] | None:
    """The classes every train dataset declares alike (None: some declare none, or they differ)."""
    declared = {site.declared_classes for site in sites if site.split == "train"}
    return declared.pop() if len(declared) == 1 else None


def is_coco_data(dataset: Mapping[str, Any]) -> bool:
    """Whether the dataset reads COCO itself (its data root or annotation file names coco), not the user's own data."""
    places = [dataset.get("data_root"), dataset.get("ann_file")]
    return any(isinstance(place, str) and "coco" in place.lower() for place in places)
