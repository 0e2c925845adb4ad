"""Each config of the mmdet 2.28.2 tree paired with its official port in the 3.3.0 tree (migration notes §3).

Three rules, each taking only unique twins among the configs still unpaired: the same ``Weights:``
URL in both trees' ``configs/*/metafile.yml``, then the same name tokens, then the same set of them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import yaml

WEIGHTS, NAME, TOKEN_SET = "weights-url", "name", "token-set"


@dataclass(frozen=True, order=True)
class Pair:
    old: str  # the 2.x config, relative to its tree
    new: str  # its 3.x port
    rule: str  # WEIGHTS, NAME or TOKEN_SET


def leaf_configs(tree: Path) -> list[str]:
    """The configs meant to be trained (every ``*.py`` outside ``_base_``), relative and sorted."""
    return sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*.py") if "_base_" not in p.relative_to(tree).parts)


def configs_by_weights(tree: Path) -> dict[str, set[str]]:
    """Checkpoint URL -> the configs of ``tree`` that its metafiles say trained it (existing files only)."""
    found: dict[str, set[str]] = defaultdict(set)
    for metafile in sorted(tree.glob("*/metafile.yml")):
        data = yaml.safe_load(metafile.read_text(encoding="utf-8")) or {}
        for model in data if isinstance(data, list) else data.get("Models") or []:
            config, weights = model.get("Config"), model.get("Weights")
            if not config or not weights:
                continue
            relative = unquote(config).removeprefix("configs/")  # 3.x writes `gn%2Bws/...` for `gn+ws/`
            if (tree / relative).is_file():
                for url in weights if isinstance(weights, list) else [weights]:
                    found[url].add(relative)
    return found


def name_tokens(relative: str) -> tuple[str, ...]:
    """``faster_rcnn_r50_fpn_mstrain_3x_coco.py`` and ``faster-rcnn_r50_fpn_ms-3x_coco.py`` -> the same tokens."""
    return tuple(Path(relative).stem.lower().replace("-", "_").replace("mstrain", "ms").split("_"))


def _unique_twins(old: Iterable[str], new: Iterable[str], key: Callable[[str], Hashable]) -> dict[str, str]:
    by_key: dict[Hashable, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for path in old:
        by_key[key(path)][0].append(path)
    for path in new:
        by_key[key(path)][1].append(path)
    return {olds[0]: news[0] for olds, news in by_key.values() if len(olds) == 1 and len(news) == 1}


def pair_trees(old_tree: Path, new_tree: Path) -> list[Pair]:
    """The 2.x leaf configs of ``old_tree`` that have exactly one twin in ``new_tree``, sorted."""
    old_leaves, new_leaves = leaf_configs(old_tree), leaf_configs(new_tree)
    old_weights, new_weights = configs_by_weights(old_tree), configs_by_weights(new_tree)
    ports: dict[str, set[str]] = defaultdict(set)
    for url in old_weights.keys() & new_weights.keys():
        for old in old_weights[url]:
            ports[old] |= new_weights[url]
    unique = {old: next(iter(new)) for old, new in ports.items() if len(new) == 1}
    claims = defaultdict(int)
    for new in unique.values():
        claims[new] += 1
    pairs = [Pair(old, new, WEIGHTS) for old, new in unique.items() if claims[new] == 1]
    for rule, key in ((NAME, name_tokens), (TOKEN_SET, lambda path: frozenset(name_tokens(path)))):
        paired_old, paired_new = {p.old for p in pairs}, {p.new for p in pairs}
        twins = _unique_twins(
            [p for p in old_leaves if p not in paired_old], [p for p in new_leaves if p not in paired_new], key
        )
        pairs += [Pair(old, new, rule) for old, new in twins.items()]
    return sorted(pairs)
