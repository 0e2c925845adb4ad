"""pipeline-rebind beyond its examples: inheritance chains, look-alikes, and the real trees judged by mmengine."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from autofix.catalogue.pipeline_rebind import PIPELINE_STAGES, PipelineRebind, is_read
from autofix.engine import run
from autofix.mmconfig import resolve, value_at

BASE = """
train_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(1333, 800))]
train_dataloader = dict(batch_size=2, dataset=dict(type='CocoDataset', pipeline=train_pipeline))
"""
MIDDLE = """
_base_ = './base.py'
train_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(1000, 600))]
"""
LEAF = """
_base_ = './middle.py'
train_dataloader = dict(batch_size=4)
"""


def _write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text).lstrip("\n"))


def _read_pipelines(config: dict) -> dict[str, bool]:
    """Each pipeline variable the config holds -> whether a dataloader of its loops reads it."""
    return {variable: is_read(config, variable) for variable in PIPELINE_STAGES if variable in config}


def test_a_folder_fixes_the_base_that_redefines_and_leaves_its_inheritors_alone(tmp_path: Path):
    _write(tmp_path, {"base.py": BASE, "middle.py": MIDDLE, "leaf.py": LEAF})
    assert _read_pipelines(resolve(tmp_path / "leaf.py", {})) == {"train_pipeline": False}
    report = run([tmp_path], [PipelineRebind()], {}, write=True)
    assert {Path(result.shown).name: result.status for result in report.results} == {
        "base.py": "unchanged", "middle.py": "changed", "leaf.py": "unchanged"}
    leaf = resolve(tmp_path / "leaf.py", {})
    assert _read_pipelines(leaf) == {"train_pipeline": True}
    assert leaf["train_dataloader"]["dataset"]["pipeline"][1]["scale"] == (1000, 600)
    assert leaf["train_dataloader"]["batch_size"] == 4


def test_a_leaf_given_alone_reads_the_variable_from_its_base(tmp_path: Path):
    _write(tmp_path, {"base.py": BASE, "middle.py": MIDDLE, "leaf.py": LEAF})
    run([tmp_path / "leaf.py"], [PipelineRebind()], {}, write=True)
    assert (tmp_path / "leaf.py").read_text().endswith(
        "train_dataloader = dict(batch_size=4, dataset=dict(pipeline=_base_.train_pipeline))\n")
    assert _read_pipelines(resolve(tmp_path / "leaf.py", {})) == {"train_pipeline": True}
    assert (tmp_path / "middle.py").read_text() == textwrap.dedent(MIDDLE).lstrip("\n")


@pytest.mark.parametrize(
    "config",
    [
        pytest.param("train_pipeline = [dict(type='LoadImageFromFile')]\n", id="a pipeline file without dataloaders"),
        pytest.param(
            "train_pipeline = [dict(type='LoadImageFromFile')]\n"
            "train_dataloader = dict(dataset=dict(type='CocoDataset'))\n",
            id="a dataset without any pipeline",
        ),
        pytest.param(
            "test_pipeline = [dict(type='LoadImageFromFile')]\n"
            "val_dataloader = dict(dataset=dict(pipeline=[dict(type='LoadImageFromFile'), dict(type='Resize')]))\n"
            "test_dataloader = dict(dataset=dict(pipeline=test_pipeline))\n",
            id="test_pipeline read by the test dataloader only",
        ),
        pytest.param(
            "load_pipeline = [dict(type='LoadImageFromFile')]\n"
            "train_dataloader = dict(dataset=dict(pipeline=[dict(type='Resize')]))\n",
            id="another pipeline variable",
        ),
    ],
)
def test_look_alikes_are_not_findings(config: str, tmp_path: Path):
    _write(tmp_path, {"config.py": config})
    assert PipelineRebind().findings(resolve(tmp_path / "config.py", {}), {}) == []


@pytest.mark.parametrize("corpus", ["mmdet-3.3.0", "mmdet-2.28.2", "mmseg-1.2.2"])
def test_every_fixed_config_trains_and_tests_on_the_pipelines_it_defines(corpus: str, corpus_fixed_by, corpus_resolved):
    """The proof, over each real tree: every config whose dataloaders ignored a pipeline variable it
    holds reads it after the whole-tree fix, and no config read one before that stops reading it."""
    shipped = corpus_resolved(corpus)
    fixed_tree = corpus_fixed_by(PipelineRebind.id, corpus).folder
    ignored = {rel: [v for v, read in _read_pipelines(cfg).items() if not read]
               for rel, cfg in shipped.items() if cfg is not None}
    unread = sorted(rel for rel, variables in ignored.items() if variables)
    found = sorted(rel for rel in unread if PipelineRebind().findings(shipped[rel], {}))
    # The others have no dataloader with a pipeline for it (a tracker's `train_dataloader = None`).
    print(f"\n{corpus}: {len(unread)} configs hold a pipeline variable no dataloader reads, {len(found)} findings: {found}")
    for rel, config in shipped.items():
        if config is None:
            continue
        fixed = resolve(fixed_tree / rel, {})
        findings = PipelineRebind().findings(config, {})
        fixable = {finding.details["variable"] for finding in findings}
        expected = {variable: read or variable in fixable for variable, read in _read_pipelines(config).items()}
        assert _read_pipelines(fixed) == expected, rel
        for finding in findings:  # each dataloader that held another pipeline now holds the variable
            variable = finding.details["variable"]
            assert all(value_at(fixed, edit.path) == fixed[variable] for edit in finding.edits), rel
