"""Each config rule applied to each whole real config tree (mmdet 3.3.0, mmdet 2.28.2, mmseg 1.2.2), judged by mmengine.

For every config that loads, the effective config after the run must differ from the shipped one
only in the keys the rule's fix of it may change (``intended``: its edits' keys), and the crash's
cause must be gone (``problem``). Files that mmengine cannot load before the run are counted, not judged.
"""

from __future__ import annotations

import pytest
from corpus import CORPORA, resolve_tree
from migration.refusals import refused_by_file, refused_in_chain

from autofix.mmconfig import unexpected_changes
from autofix.registry import all_transforms
from autofix.rule import ConfigRule

CONFIG_RULES = [t for t in all_transforms().values() if issubclass(t, ConfigRule) or t.intended_keys]


@pytest.mark.parametrize("corpus", sorted(CORPORA))
@pytest.mark.parametrize("transform", CONFIG_RULES, ids=[t.id for t in CONFIG_RULES])
def test_whole_tree_fix_changes_exactly_the_intended_keys(transform, corpus: str, corpus_fixed_by, corpus_resolved):
    fixed_corpus = corpus_fixed_by(transform.id, corpus)
    shipped = corpus_resolved(corpus)
    options, report = fixed_corpus.options, fixed_corpus.report
    fixer = transform()
    after = resolve_tree(fixed_corpus.folder)
    refused = refused_by_file(report, fixed_corpus.folder)
    # What a rule left as it was for want of an exact fix (migrate's refusals) is named, not wrong.
    needing = [rel for rel, cfg in shipped.items() if cfg is not None and fixer.problem(cfg, options)
               and not refused_in_chain(fixed_corpus.folder, refused, rel)]

    wrong: list[str] = []
    changed_configs = 0
    for rel, before in shipped.items():
        if before is None:
            continue
        fixed = after[rel]
        if fixed is None:
            wrong.append(f"{rel}: no longer loads")
            continue
        changed, unexpected = unexpected_changes(before, fixed, fixer.intended(before, options))
        changed_configs += bool(changed)
        if unexpected:
            wrong.append(f"{rel}: also changed {unexpected[:3]}")
        left = fixer.problem(fixed, options)
        if left and not refused_in_chain(fixed_corpus.folder, refused, rel):
            wrong.append(f"{rel}: still wrong: {left}")
    files_written = report.count("changed")
    unloadable = sum(cfg is None for cfg in shipped.values())
    print(
        f"\n{corpus} {transform.id}: {len(shipped)} files, {unloadable} unloadable, {len(needing)} configs "
        f"needed the fix, {files_written} files written, {changed_configs} effective configs changed, "
        f"{len(wrong)} wrong"
    )
    assert not wrong, "\n".join(wrong[:20])
    assert changed_configs >= len(needing)


def test_no_stock_amp_config_hands_batched_nms_split_thr_boxes(mmdet_corpus_resolved):
    """`autofix check`'s count over the shipped configs: every one that trains with AMP and has an RPN
    (20 in mmdet 3.3.0: 1x, multi-scale crop and large-scale-jitter schedules) stays below split_thr."""
    from autofix.domain.rpn import rpn_loads, uses_amp

    loads = {
        rel: rpn_loads(config)
        for rel, config in mmdet_corpus_resolved.items()
        if config is not None and uses_amp(config)
    }
    with_rpn = {rel: found for rel, found in loads.items() if found}
    assert len(with_rpn) == 20
    assert {rel: [load.boxes for load in found] for rel, found in with_rpn.items() if any(l.at_risk for l in found)} == {}
    assert sorted({load.boxes for found in with_rpn.values() for load in found}) == [8768, 8819]
