"""The frozen fixtures of the migration proof, and how they are generated.

``pairs.json``: each 2.x config and its official port (:mod:`migration.pairs`). ``port_deviations.json``:
what each official port changed, by pair and dotted key: ``compare(project_2x(2.x), project_3x(port))``
plus, where the port's lr curve leaves mmcv's, the first iteration it does (``lr_curve[i]``). Pairs that
mmengine cannot load on a side are listed under ``unloadable``. Both are generated, never edited:

    PYTHONPATH=$PWD:$PWD/tests .venv/bin/python -m migration.frozen
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from corpus import CORPORA, resolve_tree

from migration.lr_curves import CurveUnavailable, departure, lr_curve, mmcv_lr_curve
from migration.pairs import Pair, pair_trees
from migration.projection import compare, project_2x, project_3x

OLD, NEW = CORPORA["mmdet-2.28.2"], CORPORA["mmdet-3.3.0"]
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "migration"
PAIRS_FILE = FIXTURES / "pairs.json"
DEVIATIONS_FILE = FIXTURES / "port_deviations.json"
EPOCH_LENGTH = 100  # iterations per epoch of the simulated lr curves


def pairs_table(pairs: Sequence[Pair]) -> list[dict[str, str]]:
    return [{"old": pair.old, "new": pair.new, "rule": pair.rule} for pair in sorted(pairs)]


def frozen_pairs() -> list[Pair]:
    return [Pair(**row) for row in json.loads(PAIRS_FILE.read_text(encoding="utf-8"))]


def schedule_deviation(old: Mapping[str, Any], port: Mapping[str, Any], epoch_length: int) -> dict[str, tuple]:
    """``{'lr_curve[i]': (mmcv's lr, the port's)}`` where the port's schedule first leaves the 2.x one;
    ``{'lr_curve': (why not, why not)}`` where a side cannot be simulated (None: that side can); else nothing."""
    reasons: list[str | None] = [None, None]
    try:
        mmcv = mmcv_lr_curve(old, epoch_length)
        mmcv_ahead = mmcv_lr_curve(old, epoch_length, warmup_lead=1)
    except CurveUnavailable as exc:
        reasons[0] = str(exc)
    try:
        ported = lr_curve(port, epoch_length)
    except CurveUnavailable as exc:
        reasons[1] = str(exc)
    if reasons != [None, None]:
        return {"lr_curve": tuple(reasons)}
    left = departure(ported, mmcv, mmcv_ahead)
    if left is None:
        return {}
    at = lambda curve: curve[left] if left < len(curve) else "<ended>"  # noqa: E731
    return {f"lr_curve[{left}]": (at(mmcv), at(ported))}


def port_deviations(
    pairs: Sequence[Pair],
    old_resolved: Mapping[str, Mapping[str, Any] | None],
    new_resolved: Mapping[str, Mapping[str, Any] | None],
    epoch_length: int = EPOCH_LENGTH,
) -> dict[str, Any]:
    """What each official port changed from its 2.x config, as JSON (values canonical: lists, not tuples)."""
    unloadable: dict[str, list[str]] = {}
    deviations: dict[str, Any] = {}
    for pair in pairs:
        old, new = old_resolved.get(pair.old), new_resolved.get(pair.new)
        if old is None or new is None:
            unloadable[pair.old] = [side for side, cfg in (("2.x", old), ("3.x", new)) if cfg is None]
            continue
        differences = compare(project_2x(old), project_3x(new))
        differences.update(schedule_deviation(old, new, epoch_length))
        if differences:
            deviations[pair.old] = {"port": pair.new, "differences": differences}
    table = {"epoch_length": epoch_length, "unloadable": unloadable, "deviations": deviations}
    return json.loads(json.dumps(table, sort_keys=True))


def frozen_deviations() -> dict[str, Any]:
    return json.loads(DEVIATIONS_FILE.read_text(encoding="utf-8"))


def _dumps(value: Any, expand: int, indent: str = "") -> str:
    """JSON with the outer ``expand`` levels one item per line (a pair, a dotted key), the rest on that line."""
    if expand == 0 or not isinstance(value, (dict, list)) or not value:
        return json.dumps(value, sort_keys=True)
    inner = indent + " "
    if isinstance(value, dict):
        items = [f"{inner}{json.dumps(key)}: {_dumps(value[key], expand - 1, inner)}" for key in sorted(value)]
        return "{\n" + ",\n".join(items) + f"\n{indent}}}"
    return "[\n" + ",\n".join(f"{inner}{_dumps(item, expand - 1, inner)}" for item in value) + f"\n{indent}]"


def _write(path: Path, value: Any, expand: int) -> None:
    path.write_text(_dumps(value, expand) + "\n", encoding="utf-8")


def freeze() -> None:
    """Regenerate both fixtures from the corpus (resolving both trees: about two minutes)."""
    pairs = pair_trees(OLD.configs(), NEW.configs())
    FIXTURES.mkdir(parents=True, exist_ok=True)
    _write(PAIRS_FILE, pairs_table(pairs), expand=1)
    _write(DEVIATIONS_FILE, port_deviations(pairs, resolve_tree(OLD.configs()), resolve_tree(NEW.configs())), expand=4)


if __name__ == "__main__":
    freeze()
