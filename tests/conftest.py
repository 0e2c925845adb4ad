from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from corpus import CORPORA, MMDET, resolve_tree

from autofix.engine import RunReport, run, scheduler
from autofix.registry import all_transforms

# No test writes a result cache into the repository or replays one (tests/test_cache.py turns it back on).
os.environ["AUTOFIX_NO_CACHE"] = "1"

CORPUS_FIXTURES = {"mmdet_corpus", "corpus_copy", "mmdet_corpus_resolved", "corpus_resolved", "corpus_fixed_by"}
# The options the corpus runs use (resize-down's default scale, written out).
CORPUS_OPTIONS = {"resize-down": {"scale": (1333, 800)}}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the corpus, so that developers can run ``-m "not corpus"``."""
    for item in items:
        if CORPUS_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.corpus)


@pytest.fixture(scope="session")
def mmdet_corpus() -> Path:
    """The pristine mmdet 3.3.0 config tree (read-only by convention: copy before writing)."""
    return MMDET.configs()


@pytest.fixture
def corpus_copy(mmdet_corpus: Path, tmp_path: Path) -> Path:
    """A private, writable copy of the mmdet 3.3.0 config tree."""
    target = tmp_path / "configs"
    shutil.copytree(mmdet_corpus, target)
    return target


@pytest.fixture(scope="session")
def corpus_resolved():
    """``corpus_resolved(name)``: each file of that corpus (``CORPORA``) -> its effective config as shipped
    (None: mmengine cannot load it), resolved once per session."""
    trees: dict[str, dict[str, dict | None]] = {}

    def resolved(name: str) -> dict[str, dict | None]:
        if name not in trees:
            trees[name] = resolve_tree(CORPORA[name].configs())
        return trees[name]

    return resolved


@pytest.fixture(scope="session")
def mmdet_corpus_resolved(corpus_resolved) -> dict[str, dict | None]:
    """The mmdet 3.3.0 tree, resolved once."""
    return corpus_resolved(MMDET.name)


@dataclass
class FixedCorpus:
    """A copy of the corpus after one rule's whole-tree run (shared by the tests that judge that run)."""

    folder: Path
    report: RunReport
    options: dict


@pytest.fixture(scope="session")
def corpus_fixed_by(tmp_path_factory: pytest.TempPathFactory):
    """``corpus_fixed_by(rule_id, corpus=MMDET.name)``: that corpus fixed by that rule alone, run once per session."""
    runs: dict[tuple[str, str], FixedCorpus] = {}

    def fixed_by(rule_id: str, corpus: str = MMDET.name) -> FixedCorpus:
        if (rule_id, corpus) not in runs:
            folder = tmp_path_factory.mktemp(f"{corpus}-{rule_id}") / "configs"
            shutil.copytree(CORPORA[corpus].configs(), folder)
            options = CORPUS_OPTIONS.get(rule_id, {})
            report = run([folder], [all_transforms()[rule_id]()], options, write=True)
            runs[rule_id, corpus] = FixedCorpus(folder, report, options)
        return runs[rule_id, corpus]

    return fixed_by


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
