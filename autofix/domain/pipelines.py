"""The data pipelines a training run can put images through, as an effective config holds them.

The train dataloader's dataset (mmdet 3.x) or ``data.train`` (2.x), through dataset wrappers, and the
stage-2 pipelines or datasets a custom hook switches to part-way (mmdet's ``PipelineSwitchHook``
``switch_pipeline``, mmyolo/mmpose ``new_train_pipeline`` and ``new_train_dataset``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from autofix.domain.datasets import stage_datasets
from autofix.rule import KeyPath

_TEST_NAME = re.compile(r"(^|_)(test|val|tta)(_|$)")


def is_test_name(name: str) -> bool:
    """A key or variable for evaluation (``test_pipeline``, ``val_dataloader``, ``tta_model``...), not training."""
    return bool(_TEST_NAME.search(name))


def _stage_two(config: Mapping[str, Any]) -> Iterator[tuple[KeyPath, Any]]:
    """What custom hooks switch the train loop to: ``(path, pipeline or dataset)``, keyed ``*pipeline``/``*dataset``."""
    hooks = config.get("custom_hooks")
    for index, hook in enumerate(hooks if isinstance(hooks, (list, tuple)) else ()):
        for key, value in hook.items() if isinstance(hook, Mapping) else ():
            if not is_test_name(key) and key.endswith(("pipeline", "dataset")):
                yield ("custom_hooks", index, key), value


def train_pipelines(config: Mapping[str, Any]) -> Iterator[tuple[KeyPath, Sequence[Any]]]:
    """Every pipeline list the train loop can run, with the key path it is written at (for edits)."""
    for path, value in (*stage_datasets(config, "train"), *_stage_two(config)):
        if path[-1].endswith("pipeline"):
            if isinstance(value, (list, tuple)):
                yield path, value
        else:
            yield from dataset_pipelines(value, path)


def dataset_pipelines(dataset: Any, path: KeyPath) -> Iterator[tuple[KeyPath, Sequence[Any]]]:
    """A dataset's ``pipeline`` and those of the datasets it wraps (RepeatDataset, ConcatDataset...)."""
    if isinstance(dataset, (list, tuple)):
        for index, item in enumerate(dataset):
            yield from dataset_pipelines(item, (*path, index))
    elif isinstance(dataset, Mapping):
        if isinstance(dataset.get("pipeline"), (list, tuple)):
            yield (*path, "pipeline"), dataset["pipeline"]
        for key in ("dataset", "datasets"):
            if key in dataset:
                yield from dataset_pipelines(dataset[key], (*path, key))


def train_image_transforms(config: Mapping[str, Any]) -> Iterator[list[Any]]:
    """Each whole sequence of transforms a train image may go through, in either stage of training."""
    roots = [dataset for _, dataset in stage_datasets(config, "train")]
    for dataset in roots:
        yield from _composed(dataset)
    for path, value in _stage_two(config):
        if not path[-1].endswith("pipeline"):
            yield from _composed(value)
            continue
        # PipelineSwitchHook sets the loader's dataset's own pipeline: inner datasets keep theirs.
        if roots and isinstance(roots[0], Mapping) and isinstance(value, (list, tuple)):
            yield from _composed({**roots[0], "pipeline": value})


def _composed(dataset: Any) -> Iterator[list[Any]]:
    """Wrappers (RepeatDataset, ClassBalancedDataset, MultiImageMixDataset) run the inner dataset's
    pipeline, then their own; ConcatDataset (or a 2.x list of datasets) any of its datasets'."""
    if isinstance(dataset, (list, tuple)):
        for inner in dataset:
            yield from _composed(inner)
        return
    if not isinstance(dataset, Mapping):
        return
    own = list(dataset.get("pipeline") or [])
    if isinstance(dataset.get("datasets"), (list, tuple)):
        for pipeline in _composed(dataset["datasets"]):
            yield pipeline + own
    elif isinstance(dataset.get("dataset"), Mapping):
        for pipeline in _composed(dataset["dataset"]):
            yield pipeline + own
    else:
        yield own
