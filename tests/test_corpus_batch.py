"""The batch engine over the whole mmdet 3.3.0 config tree: the per-run mmengine load cache gives
mmengine's own answers, and a process pool gives exactly what one process gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from autofix.engine import run
from autofix.mmconfig import ConfigUnavailable, FileLoadCache, resolve
from autofix.registry import resolve_fix_ids


def test_cached_resolution_equals_mmengine_for_every_config(mmdet_corpus: Path, mmdet_corpus_resolved):
    cache = FileLoadCache()  # one cache for the whole tree, as in a run: bases are shared
    different: list[str] = []
    for rel, uncached in mmdet_corpus_resolved.items():
        try:
            cached = resolve(mmdet_corpus / rel, {}, cache)
        except ConfigUnavailable:
            cached = None
        if cached != uncached:
            different.append(rel)
    loadable = sum(cfg is not None for cfg in mmdet_corpus_resolved.values())
    assert loadable > 850
    assert not different, different[:10]


def _outputs(report) -> list[tuple]:
    return [(r.shown, r.status, r.diff, r.applied, r.notes, r.error, r.suppressed) for r in report.results]


@pytest.mark.parametrize("fix", ["amp-nms", "relu-no-inplace"])
def test_two_jobs_give_exactly_what_one_gives(fix: str, mmdet_corpus: Path, started_pools: list[int]):
    pools = started_pools
    one = run([mmdet_corpus], resolve_fix_ids([fix]), {}, write=False, jobs=1)
    assert pools == []
    two = run([mmdet_corpus], resolve_fix_ids([fix]), {}, write=False, jobs=2)
    assert pools == [2], "the pool was not used, so nothing was compared"
    assert _outputs(one) == _outputs(two)
    assert one.count("changed") >= 6
