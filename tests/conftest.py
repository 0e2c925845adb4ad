from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from corpus import mmdet_configs, resolve_tree

from autofix.engine import scheduler

CORPUS_FIXTURES = {"mmdet_corpus", "corpus_copy", "mmdet_corpus_resolved"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the corpus, so that developers can run ``-m "not corpus"``."""
    for item in items:
        if CORPUS_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.corpus)


@pytest.fixture(scope="session")
def mmdet_corpus() -> Path:
    """The pristine mmdet 3.3.0 config tree (read-only by convention: copy before writing)."""
    return mmdet_configs()


@pytest.fixture
def corpus_copy(mmdet_corpus: Path, tmp_path: Path) -> Path:
    """A private, writable copy of the mmdet 3.3.0 config tree."""
    target = tmp_path / "configs"
    shutil.copytree(mmdet_corpus, target)
    return target


@pytest.fixture(scope="session")
def mmdet_corpus_resolved(mmdet_corpus: Path) -> dict[str, dict | None]:
    """Each corpus file's effective config as shipped (None: mmengine cannot load it), resolved once."""
    return resolve_tree(mmdet_corpus)


@pytest.fixture
def started_pools(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the process pools the engine starts while the test runs."""
    sizes: list[int] = []
    start_pool = scheduler.ProcessPoolExecutor

    def recording_pool(max_workers, *args, **kwargs):
        sizes.append(max_workers)
        return start_pool(max_workers, *args, **kwargs)

    monkeypatch.setattr(scheduler, "ProcessPoolExecutor", recording_pool)
    return sizes
