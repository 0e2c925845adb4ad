"""The per-run mmengine load cache: each base is loaded once, and never hands out a shared object."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from mmengine.config import Config

from autofix.mmconfig import FileLoadCache, resolve


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "base.py").write_text("model = dict(head=dict(levels=5), neck=[dict(type='FPN')])\n")
    (tmp_path / "mutating.py").write_text(
        "_base_ = './base.py'\n_base_.model.head.levels = 1\n_base_.model.neck[0].type = 'PAFPN'\n"
    )
    (tmp_path / "plain.py").write_text("_base_ = './base.py'\nlr = 0.1\n")
    return tmp_path


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files mmengine really loads (the cache wraps whatever ``_file2dict`` is)."""
    loaded: list[str] = []
    uncached = Config.__dict__["_file2dict"].__func__

    def counting(filename, *args, **kwargs):
        loaded.append(os.path.basename(filename))
        return uncached(filename, *args, **kwargs)

    monkeypatch.setattr(Config, "_file2dict", staticmethod(counting))
    return loaded


def test_a_base_is_loaded_once_and_a_child_mutating_it_does_not_leak(tree: Path, loads: list[str]):
    cache = FileLoadCache()
    mutated = resolve(tree / "mutating.py", {}, cache)
    plain = resolve(tree / "plain.py", {}, cache)
    base = resolve(tree / "base.py", {}, cache)
    assert loads == ["mutating.py", "base.py", "plain.py"]
    assert mutated["model"] == {"head": {"levels": 1}, "neck": [{"type": "PAFPN"}]}
    assert plain == {"model": {"head": {"levels": 5}, "neck": [{"type": "FPN"}]}, "lr": 0.1}
    assert base == resolve(tree / "base.py", {})  # uncached: mmengine's own answer


def test_a_changed_text_is_loaded_again_overlaid_or_on_disk(tree: Path, loads: list[str]):
    cache = FileLoadCache()
    resolve(tree / "plain.py", {}, cache)
    overlaid = {str(tree / "base.py"): "model = dict(head=dict(levels=3), neck=[])\n"}
    assert resolve(tree / "plain.py", overlaid, cache)["model"]["head"]["levels"] == 3
    (tree / "base.py").write_text("model = dict(head=dict(levels=4), neck=[])\n")
    assert resolve(tree / "plain.py", {}, cache)["model"]["head"]["levels"] == 4
    assert resolve(tree / "plain.py", overlaid, cache)["model"]["head"]["levels"] == 3
    assert loads.count("base.py") == 3 and loads.count("plain.py") == 3


def test_the_cache_is_only_active_inside_resolve(tree: Path):
    original = Config.__dict__["_file2dict"]
    resolve(tree / "plain.py", {}, FileLoadCache())
    assert Config.__dict__["_file2dict"] is original


def test_a_scoped_base_marked_by_one_child_is_clean_for_the_next(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # mmengine writes `_scope_` into what a `pkg::` base's load returned; a shared cached object would keep it.
    package = tmp_path / "site" / "mmpretrain"  # a package name mmengine accepts before `::`
    (package / ".mim" / "configs" / "_base_").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / ".mim" / "model-index.yml").write_text("Import: []\n")
    configs = package / ".mim" / "configs"
    (configs / "_base_" / "model.py").write_text("model = dict(type='Detector', head=dict(type='Head'))\n")
    (configs / "first.py").write_text("_base_ = './_base_/model.py'\n")
    (configs / "second.py").write_text("_base_ = './_base_/model.py'\n")
    (tmp_path / "user.py").write_text("_base_ = 'mmpretrain::_base_/model.py'\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    cache = FileLoadCache()
    resolve(configs / "first.py", {}, cache)
    assert resolve(tmp_path / "user.py", {}, cache)["model"]["_scope_"] == "mmpretrain"
    assert resolve(configs / "second.py", {}, cache) == {"model": {"type": "Detector", "head": {"type": "Head"}}}
