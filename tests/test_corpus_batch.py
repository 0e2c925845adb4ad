"""The batch engine over the whole mmdet 3.3.0 config tree: the per-run mmengine load cache gives
mmengine's own answers, a process pool gives exactly what one process gives, and the configs
mmengine cannot load are warnings that leave every rule's exit code to its fixes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autofix.cli import app
from autofix.engine import run
from autofix.mmconfig import ConfigUnavailable, FileLoadCache, resolve
from autofix.registry import all_transforms, crash_fixes, resolve_fix_ids
from autofix.rule import ConfigRule


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


@pytest.mark.parametrize("fix", [*all_transforms(), *crash_fixes(), None])
def test_every_rule_exits_by_its_fixes_with_the_unloadable_configs_as_warnings(
    fix: str | None, mmdet_corpus: Path, mmdet_corpus_resolved, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)  # mmpretrain is in no environment: its 5 configs cannot load
    monkeypatch.delenv("CONDA_PREFIX", raising=False)
    monkeypatch.chdir(mmdet_corpus)
    command = ["apply", "--fix", fix, "--dry-run"] if fix else ["check"]  # None: check, every rule not opt-in
    result = CliRunner().invoke(app, [*command, "--format", "json", "."])
    document = json.loads(result.stdout)
    unloadable = {rel for rel, config in mmdet_corpus_resolved.items() if config is None}
    assert len(unloadable) == 9  # 5 need mmpretrain, 4 name _base_ files upstream never shipped
    if fix is None:
        assert result.exit_code == (1 if document["findings"] else 0) and not document["errors"]
        unresolvable = {entry["path"] for entry in document["unresolvable"]}
    else:
        totals = document["totals"]
        assert result.exit_code == (1 if totals["changed"] else 0) and totals["failed"] == 0
        unresolvable = {f["path"] for f in document["files"] if f["status"] == "unresolvable"}
    assert unresolvable <= unloadable
    rules = resolve_fix_ids([fix]) if fix else []
    if fix is None or any(isinstance(rule, ConfigRule) for rule in rules):
        assert unresolvable == unloadable
        assert f"warning: {sorted(unloadable)[0]}: not examined: " in result.stderr
