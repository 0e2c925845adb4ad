"""persistent-workers proved at run time: every example's dataloaders, resolved by mmengine before and
after the fix, are built as torch DataLoaders the way mmengine's runner builds them (num_workers and
persistent_workers passed through): before, torch raises the crash; after, every batch loads."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from autofix.catalogue.persistent_workers import PersistentWorkers, dataloader_settings
from autofix.cli import app
from autofix.mmconfig import resolve, value_at

torch = pytest.importorskip("torch")

FIXABLE = [pytest.param(e, id=e.title) for e in PersistentWorkers.examples if e.after is not None]


def _build(config: dict, path: tuple[str, ...], workers: int, persistent: bool) -> list:
    """A DataLoader from a resolved config's dataloader settings, iterated once over a dummy dataset."""
    loader = value_at(config, path)
    batch_size = loader.get("batch_size", loader.get("samples_per_gpu", 1))
    dataset = torch.utils.data.TensorDataset(torch.arange(4.0))
    data_loader = torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, num_workers=workers, persistent_workers=persistent
    )
    return list(data_loader)


@pytest.mark.parametrize("example", FIXABLE)
def test_fix_makes_every_dataloader_buildable(example, tmp_path: Path):
    for name, text in example.files_dedented().items():
        (tmp_path / name).write_text(text)
    config_path = tmp_path / "config.py"
    config_path.write_text(example.source)

    before = resolve(config_path, {})
    crashing = [(path, w, p) for path, w, p in dataloader_settings(before) if p and not w]
    assert crashing, "the example must crash before the fix"
    for path, workers, persistent in crashing:
        with pytest.raises(ValueError, match="persistent_workers option needs num_workers > 0"):
            _build(before, path, workers, persistent)

    result = CliRunner().invoke(app, ["apply", "--fix", "persistent-workers", str(config_path)])
    assert result.exit_code == 0, result.output
    after = resolve(config_path, {})
    for path, workers, persistent in dataloader_settings(after):
        assert _build(after, path, workers, persistent)
    assert [path for path, _, _ in dataloader_settings(after)] == [path for path, _, _ in dataloader_settings(before)]


REAL_CONFIGS = [
    "faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py",
    "rtmdet/rtmdet_tiny_8xb32-300e_coco.py",
    "mask2former/mask2former_r50_8xb2-lsj-50e_coco.py",
]


@pytest.mark.corpus
@pytest.mark.parametrize("real", REAL_CONFIGS)
def test_num_workers_0_over_a_real_config_is_fixed_in_the_leaf(real: str, mmdet_corpus: Path, tmp_path: Path):
    """The common case: a user's leaf sets num_workers=0 (to debug) over a shipped config that keeps workers."""
    leaf = tmp_path / "debug.py"
    leaf.write_text(
        f"_base_ = {str(mmdet_corpus / real)!r}\n"
        "train_dataloader = dict(num_workers=0)\nval_dataloader = dict(num_workers=0)\n"
        "test_dataloader = dict(num_workers=0)\n"
    )
    shipped = (mmdet_corpus / real).read_text()
    before = resolve(leaf, {})
    assert [p for _, w, p in dataloader_settings(before) if p and not w] == [True, True, True]
    result = CliRunner().invoke(app, ["apply", "--fix", "persistent-workers", "--verify", str(leaf)])
    assert result.exit_code == 0, result.output
    assert "effective keys changed" in result.stderr
    assert (mmdet_corpus / real).read_text() == shipped  # the base is shared: only the leaf is written
    after = resolve(leaf, {})
    for path, workers, persistent in dataloader_settings(after):
        assert not persistent
        assert _build(after, path, workers, persistent)
