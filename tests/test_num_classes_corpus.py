"""num-classes over the real config trees as for a custom dataset (``--classes a,b,c``), judged by mmengine.

The shared corpus tests run the rule with the classes the configs declare, and no shipped config needs it
then. Here three classes are named, so every config with a class-counting head needs the fix: after one
whole-tree run each config is fixed (its heads count 3, its datasets name the 3) or its file was refused
with a reason, nothing else changed, and a second run changes nothing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from corpus import CORPORA, resolve_tree

from autofix.catalogue.num_classes import NumClasses
from autofix.engine import run
from autofix.mmconfig import unexpected_changes

OPTIONS = {"classes": ("a", "b", "c")}


@pytest.mark.parametrize("corpus", ["mmdet-3.3.0", "mmdet-2.28.2"])
def test_naming_three_classes_fixes_each_config_or_refuses_it(corpus: str, corpus_resolved, tmp_path: Path):
    shipped = corpus_resolved(corpus)
    folder = tmp_path / "configs"
    shutil.copytree(CORPORA[corpus].configs(), folder)
    report = run([folder], [NumClasses()], OPTIONS, write=True)
    refused = {Path(r.shown).resolve().relative_to(folder).as_posix(): r.error for r in report.results if r.status == "error"}
    after = resolve_tree(folder)

    fixer = NumClasses()
    needing = [rel for rel, config in shipped.items() if config is not None and fixer.problem(config, OPTIONS)]
    wrong, left = [], []
    for rel, before in shipped.items():
        if before is None:
            continue
        if after[rel] is None:
            wrong.append(f"{rel}: no longer loads")
            continue
        _, unexpected = unexpected_changes(before, after[rel], fixer.intended(before, OPTIONS))
        if unexpected:
            wrong.append(f"{rel}: also changed {unexpected[:3]}")
        if fixer.problem(after[rel], OPTIONS):
            left.append(rel)
    print(
        f"\n{corpus} num-classes --classes a,b,c: {len(needing)} configs needed the fix, "
        f"{report.count('changed')} files written, {len(needing) - len(left)} fixed, {len(left)} left in "
        f"{len(refused)} refused files, {len(wrong)} wrong"
    )
    for rel in sorted(refused):
        print(f"  refused {rel}: {refused[rel]}")
    assert not wrong, "\n".join(wrong[:20])
    assert needing and len(left) < len(needing)
    assert set(left) <= set(refused), "a config left wrong whose file was not refused"
    assert all("cannot fix" in reason for reason in refused.values())

    again = run([folder], [NumClasses()], OPTIONS, write=False)
    assert again.count("changed") == 0
