"""``autofix migrate`` proved on the real trees (migration notes §4, §5 (a) and (b)).

The mmdet 2.28.2 tree is migrated once per session; each paired config, resolved by mmengine, must
match its official mmdet 3.3.0 port on the canonical keys but where the port itself deviated from the
2.x config (``port_deviations.json``: there the migrated config keeps the 2.x value), and train with the
port's lr curve. The frozen fixtures are regenerated here and must not have changed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from corpus import resolve_tree
from migration.frozen import (
    DEVIATIONS_FILE,
    EPOCH_LENGTH,
    NEW,
    OLD,
    PAIRS_FILE,
    frozen_deviations,
    frozen_pairs,
    pairs_table,
    port_deviations,
)
from migration.lr_curves import (
    CurveUnavailable,
    departure,
    lr_curve,
    max_relative_difference,
    mmcv_lr_curve,
    warmup_iterations,
)
from migration.pairs import Pair, pair_trees
from migration.projection import canonical, compare, project_3x
from migration.refusals import refused_by_file, refused_in_chain

from autofix.catalogue.legacy_2x_keys import legacy_constructs
from autofix.engine import RunReport, run
from autofix.mmconfig import registry_name, resolve
from autofix.registry import resolve_fix_ids

MIGRATE = ["migrate-2to3"]
# Refusing one of these leaves the 2.x schedule in place: the curve is not migrate's to match then.
SCHEDULE_KEYS = frozenset({"lr_config", "momentum_config", "runner", "optimizer", "total_epochs", "train_cfg"})
MATCH_TARGET = 500  # of the 563 pairs mmengine resolves on both sides (the target)


def _root(construct: str) -> str:
    """``lr_config.policy`` -> ``lr_config``; ``Resize(img_scale=)`` -> ``Resize``."""
    return re.split(r"[.(\[]", construct, maxsplit=1)[0]


@dataclass
class MigratedTree:
    folder: Path
    report: RunReport
    resolved: dict[str, dict | None]  # relative path -> effective config after the run (None: cannot load)
    refused: dict[str, tuple[str, ...]]  # relative path -> what the run refused in that file

    def refused_in_chain(self, relative: str) -> set[str]:
        """What the run refused in the file and in every base it inherits from."""
        return refused_in_chain(self.folder, self.refused, relative)


@pytest.fixture(scope="session")
def migrated_2x(tmp_path_factory: pytest.TempPathFactory, corpus_resolved) -> MigratedTree:
    """A copy of the mmdet 2.28.2 tree after one ``autofix migrate`` run, resolved."""
    folder = tmp_path_factory.mktemp("migrated-2x") / "configs"
    shutil.copytree(OLD.configs(), folder)
    report = run([folder], resolve_fix_ids(MIGRATE), {}, write=True, jobs=2)
    return MigratedTree(folder, report, resolve_tree(folder), refused_by_file(report, folder))


def _resolvable(pairs: list[Pair], corpus_resolved) -> list[Pair]:
    old, new = corpus_resolved(OLD.name), corpus_resolved(NEW.name)
    return [pair for pair in pairs if old[pair.old] is not None and new[pair.new] is not None]


@pytest.mark.corpus
def test_pairs_are_frozen():
    assert pairs_table(pair_trees(OLD.configs(), NEW.configs())) == json.loads(PAIRS_FILE.read_text(encoding="utf-8"))


def test_port_deviations_are_frozen(corpus_resolved):
    """The allowlist is what the comparator says of the unmigrated 2.x configs: regenerated, it is unchanged."""
    generated = port_deviations(frozen_pairs(), corpus_resolved(OLD.name), corpus_resolved(NEW.name))
    assert generated == frozen_deviations(), f"regenerate {DEVIATIONS_FILE.name}: python -m migration.frozen"


@pytest.mark.corpus
@pytest.mark.parametrize("epoch_length", [100, 7330])
def test_the_official_faster_rcnn_warmup_is_within_0_21_percent_of_mmcv(epoch_length: int):
    """The note's measurement: mmengine's ``LinearLR(end=500)`` of the official port against mmcv's linear warmup
    of the 2.x twin: at most 0.21% apart during the 500 warmup iterations, equal afterwards."""
    old = resolve(OLD.configs() / "faster_rcnn/faster_rcnn_r50_fpn_1x_coco.py", {})
    new = resolve(NEW.configs() / "faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py", {})
    ported, mmcv = lr_curve(new, epoch_length), mmcv_lr_curve(old, epoch_length)
    assert len(ported) == len(mmcv) == 12 * epoch_length
    assert 0.0019 < max_relative_difference(ported, mmcv, 0, 500) <= 0.0021
    assert max_relative_difference(ported, mmcv, 500) < 1e-12


def _port_deviation(key: str, values: tuple, deviations: dict) -> bool:
    """A difference from the port is the port's own where the port changed that key and migrate kept the 2.x value."""
    return key in deviations and json.loads(json.dumps(canonical(values[0]))) == deviations[key][0]


def test_migrated_configs_match_their_official_ports(migrated_2x: MigratedTree, corpus_resolved):
    official = corpus_resolved(NEW.name)
    deviations = frozen_deviations()["deviations"]
    resolvable = _resolvable(frozen_pairs(), corpus_resolved)
    matching, refused, wrong = [], [], {}
    for pair in resolvable:
        migrated = migrated_2x.resolved.get(pair.old)
        allowed = deviations.get(pair.old, {}).get("differences", {})
        if migrated is None:
            outside = {"(mmengine cannot load the migrated config)": None}
        else:
            differences = compare(project_3x(migrated), project_3x(official[pair.new]))
            outside = {key: values for key, values in differences.items() if not _port_deviation(key, values, allowed)}
        if not outside:
            matching.append(pair)
        elif migrated_2x.refused_in_chain(pair.old):
            refused.append(pair)
        else:
            wrong[f"{pair.old} -> {pair.new}"] = outside
    print(
        f"\n{len(resolvable)} pairs resolve on both sides: {len(matching)} match their official port outside its "
        f"deviations, {len(refused)} differ where migrate refused a construct, {len(wrong)} differ without one"
    )
    by_key = Counter(key for outside in wrong.values() for key in outside)
    assert not wrong, (
        f"{len(wrong)} pairs differ; pairs by key (migrated, official): "
        + ", ".join(f"{key} {count}" for key, count in by_key.most_common(15))
        + "".join(f"\n{pair}: " + "; ".join(f"{k}: {v}" for k, v in list(outside.items())[:3])
                  for pair, outside in list(wrong.items())[:20])
    )
    assert len(matching) >= MATCH_TARGET


def test_migrated_schedules_equal_the_ports(migrated_2x: MigratedTree, corpus_resolved):
    """Every migrated lr curve equals its port's to 1e-9 (one epoch = EPOCH_LENGTH iterations); where the port
    changed the schedule itself, it is the 2.x schedule (mmcv's curve but for the official warmup shift)."""
    original, official = corpus_resolved(OLD.name), corpus_resolved(NEW.name)
    deviations = frozen_deviations()["deviations"]
    equal, kept_2x, refused, unsimulated, wrong = 0, 0, 0, 0, []
    from_mmcv = {"warmup": 0.0, "after": 0.0}
    for pair in _resolvable(frozen_pairs(), corpus_resolved):
        if {_root(c) for c in migrated_2x.refused_in_chain(pair.old)} & SCHEDULE_KEYS:
            refused += 1
            continue
        try:
            ported = lr_curve(official[pair.new], EPOCH_LENGTH)
            mmcv = mmcv_lr_curve(original[pair.old], EPOCH_LENGTH)
        except CurveUnavailable:
            unsimulated += 1
            continue
        try:
            curve = lr_curve(migrated_2x.resolved.get(pair.old) or {}, EPOCH_LENGTH)
        except CurveUnavailable as exc:
            wrong.append(f"{pair.old}: {exc}")
            continue
        warmup = warmup_iterations(original[pair.old], EPOCH_LENGTH)
        from_mmcv["warmup"] = max(from_mmcv["warmup"], max_relative_difference(curve, mmcv, 0, warmup))
        from_mmcv["after"] = max(from_mmcv["after"], max_relative_difference(curve, mmcv, warmup))
        port_changed = any(key.startswith("lr_curve[") for key in deviations.get(pair.old, {}).get("differences", {}))
        if max_relative_difference(curve, ported) <= 1e-9:
            equal += 1
        elif port_changed and departure(curve, mmcv, mmcv_lr_curve(original[pair.old], EPOCH_LENGTH, 1)) is None:
            kept_2x += 1
        else:
            wrong.append(f"{pair.old}: {max_relative_difference(curve, ported):.3g} from the port's curve")
    print(
        f"\nlr curves ({EPOCH_LENGTH} iterations an epoch): {equal} equal the port's, {kept_2x} keep the 2.x schedule "
        f"the port changed, {refused} refused, {unsimulated} not simulated, {len(wrong)} wrong; largest difference "
        f"from mmcv's curve: {from_mmcv['warmup']:.3%} during warmup, {from_mmcv['after']:.2g} after"
    )
    assert not wrong, "\n".join(wrong[:20])


def _holds(value: Any, types: set[str]) -> bool:
    """Whether a transform of one of ``types`` is anywhere in ``value``."""
    if isinstance(value, Mapping):
        return registry_name(value.get("type")) in types or any(_holds(item, types) for item in value.values())
    return isinstance(value, (list, tuple)) and any(_holds(item, types) for item in value)


def _without_refused_pipelines(value: Any, types: set[str]) -> Any:
    """``value`` with every pipeline that holds a refused transform emptied (it was left as written because of it)."""
    if isinstance(value, Mapping):
        return {key: _without_refused_pipelines(item, types) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(item, Mapping) and "type" in item for item in value) and _holds(value, types):
            return []
        return [_without_refused_pipelines(item, types) for item in value]
    return value


def test_no_2x_construct_is_left_but_the_refused(migrated_2x: MigratedTree, corpus_resolved):
    """No 2.x key, transform or transform argument stays in a migrated config unless the run refused it there
    or in a base (``img_norm_cfg`` may stay as a variable; 3.x Mosaic/MixUp keep ``img_scale``). A pipeline
    left as written because one of its transforms was refused may keep its 2.x transforms."""
    wrong = []
    for relative, before in corpus_resolved(OLD.name).items():
        if before is None:
            continue
        after = migrated_2x.resolved[relative]
        if after is None:
            wrong.append(f"{relative}: mmengine no longer loads it")
            continue
        refused = {_root(construct) for construct in migrated_2x.refused_in_chain(relative)}
        judged = _without_refused_pipelines(after, refused)
        left = [construct for construct in legacy_constructs(judged) if _root(construct) not in refused]
        if left:
            wrong.append(f"{relative}: {', '.join(left)}")
    print(f"\n{len(wrong)} migrated configs keep 2.x constructs they did not refuse")
    assert not wrong, "\n".join(wrong[:20])


def test_migrating_the_migrated_tree_again_changes_nothing(migrated_2x: MigratedTree):
    again = run([migrated_2x.folder], resolve_fix_ids(MIGRATE), {}, write=False, jobs=2)
    assert [(r.shown, r.status) for r in again.results if r.status in ("changed", "error")] == []


def test_migrating_the_3x_tree_changes_nothing(mmdet_corpus: Path, mmdet_corpus_resolved):
    """A dry run over the mmdet 3.3.0 tree changes no config that holds no 2.x construct (a few official
    configs keep one, such as a top-level ``cudnn_benchmark`` that mmengine ignores)."""
    report = run([mmdet_corpus], resolve_fix_ids(MIGRATE), {}, write=False, jobs=2)
    assert [(r.shown, r.error) for r in report.results if r.status == "error"] == []
    changed = [Path(os.path.abspath(r.shown)).relative_to(mmdet_corpus).as_posix()
               for r in report.results if r.status == "changed"]
    print(f"\nmigrate over {NEW.name}: {len(changed)} of {len(report.results)} files would change")
    assert [rel for rel in changed if not legacy_constructs(mmdet_corpus_resolved.get(rel) or {})] == []
