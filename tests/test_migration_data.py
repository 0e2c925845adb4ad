"""The data and evaluation groups of ``autofix migrate``: what their inline examples cannot show (the runner
read from the resolved config, and the whole 2.x corpus judged by mmengine)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import libcst as cst
from corpus import resolve_tree

from autofix.catalogue.legacy_2x_keys import Legacy2xKeys
from autofix.engine import run
from autofix.migration import FileMigration, data

SAMPLER = {"train_dataloader": {"sampler": {"type": "DefaultSampler", "shuffle": True}}}


def _migrated(text: str, old: dict, base: dict) -> FileMigration:
    migration = FileMigration(cst.parse_module(text), old, base)
    for step in data.STEPS:
        step.run(migration)
    return migration


def _code(migration: FileMigration, name: str) -> str:
    return cst.Module(body=[]).code_for_node(migration.written(name))


def test_an_iteration_based_runner_trains_from_an_infinite_sampler():
    runner = {"type": "IterBasedRunner", "max_iters": 90000}
    migration = _migrated("runner = dict(type='IterBasedRunner', max_iters=90000)\n", {"runner": runner}, SAMPLER)
    assert _code(migration, "train_dataloader") == "dict(sampler=dict(type='InfiniteSampler'))"


def test_an_epoch_based_runner_leaves_the_sampler_alone():
    runner = {"type": "EpochBasedRunner", "max_epochs": 12}
    migration = _migrated("runner = dict(type='EpochBasedRunner', max_epochs=12)\n", {"runner": runner}, SAMPLER)
    assert migration.written("train_dataloader") is None


def test_plain_paths_under_a_base_that_joins_a_data_root_get_an_empty_one():
    old = {"data": {"val": {"type": "CocoDataset", "ann_file": "data/x.json", "img_prefix": "data/x/"}}}
    base = {"val_dataloader": {"dataset": {"type": "CocoDataset", "data_root": "data/coco/"}}}
    migration = _migrated("data = dict(val=dict(ann_file='data/x.json', img_prefix='data/x/'))\n", old, base)
    dataset = migration.written("val_dataloader").args[0].value
    assert cst.Module(body=[]).code_for_node(dataset).split() == [
        "dict(", "data_root='',", "ann_file='data/x.json',", "data_prefix=dict(img='data/x/'))"]


def _join(root: str | None, path: str | None) -> str | None:
    return os.path.normpath(os.path.join(root, path)) if root and path else path


def _leaves(dataset: dict | None) -> list[dict]:
    if not isinstance(dataset, dict):
        return []
    if "datasets" in dataset:
        return [leaf for inner in dataset["datasets"] for leaf in _leaves(inner)]
    return _leaves(dataset["dataset"]) if "dataset" in dataset else [dataset]


def _old_files(dataset: dict | None) -> list[str]:
    """2.x: a list ann_file is one set per file; ann_file is joined with the set's data_root."""
    files = []
    for leaf in _leaves(dataset):
        names = leaf.get("ann_file")
        for name in names if isinstance(names, list) else [names]:
            files.append(_join(leaf.get("data_root"), name))
    return sorted(map(str, files))


def _new_files(loader: dict | None) -> list[str]:
    return sorted(str(_join(leaf.get("data_root"), leaf.get("ann_file"))) for leaf in _leaves((loader or {}).get("dataset")))


def _listed(metric: str | list[str]) -> list[str]:
    return [metric] if isinstance(metric, str) else list(metric)


def test_migrated_loaders_and_metrics_keep_what_2x_trained_and_evaluated(corpus_resolved, tmp_path: Path):
    """Every 2.x config whose data this group migrated trains on the same files with the same batch and
    workers, and evaluates the same metric, as mmengine resolves the migrated tree."""
    originals = corpus_resolved("mmdet-2.28.2")
    tree = tmp_path / "configs"
    shutil.copytree(Path(__file__).resolve().parent.parent / ".cache/mmdet-2.28.2/mmdet/.mim/configs", tree)
    report = run([tree], [Legacy2xKeys()], {}, write=True)
    refused = {Path(r.shown).resolve().relative_to(tree.resolve()).as_posix() for r in report.results
               if any(note.startswith("left as it was: data") for note in r.notes)}
    migrated = resolve_tree(tree)
    compared = 0
    for name, old in originals.items():
        new = migrated.get(name)
        if not old or not new or "data" not in old or name in refused or "train_dataloader" not in new:
            continue
        compared += 1
        data_2x = old["data"]
        size = data_2x.get("imgs_per_gpu", data_2x.get("samples_per_gpu", 2))
        assert new["train_dataloader"].get("batch_size") == size, name
        assert new["train_dataloader"].get("num_workers") == data_2x.get("workers_per_gpu", 2), name
        for split in ("train", "val", "test"):
            if split in data_2x:
                assert _new_files(new.get(f"{split}_dataloader")) == _old_files(data_2x[split]), (name, split)
        metric = old.get("evaluation", {}).get("metric")
        evaluator = new.get("val_evaluator")
        refused_metric = "metric" in (new.get("evaluation") or {})  # kept as written, named in the notes
        if metric is not None and isinstance(evaluator, dict) and not refused_metric:
            computed = evaluator.get("metric", "PQ" if evaluator["type"] == "CocoPanopticMetric" else "mAP")
            assert _listed(computed) == _listed(metric), name
    assert compared > 500
