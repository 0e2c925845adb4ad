"""Oracle 2's figures: how the official 3.3.0 ports of the paired 2.x configs build under mmdet 3.3.0 on CPU.

Prints the one-time install of ``.cache/mmdet3-site`` (when this run does it), the build time per config
(median, p90, max; the first config of each process also pays mmdet's import), how many ports build every
part, and why the others fail, grouped by the first line of their error. With ``--migrated FOLDER`` (a copy of
the 2.28.2 tree after ``autofix migrate``) it builds the migrated configs too and prints the parts they lose.

Run from a checkout: ``.venv/bin/python benchmarks/oracle_builds.py [--jobs N] [--migrated FOLDER]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

# The tests' downloader and checker, shared.
from corpus import MMDET
from migration.frozen import frozen_pairs
from mmdet3_build import build, installed, lost_parts, site


def times(results: dict[Path, dict]) -> str:
    seconds = sorted(result["seconds"] for result in results.values())
    p90 = seconds[int(0.9 * (len(seconds) - 1))]
    return f"median {statistics.median(seconds):.2f} s, p90 {p90:.2f} s, max {seconds[-1]:.2f} s per config"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--migrated", type=Path, help="the migrated 2.28.2 config tree")
    args = parser.parse_args()
    if not installed():
        started = time.perf_counter()
        site()
        print(f"install of .cache/mmdet3-site: {time.perf_counter() - started:.1f} s")
    pairs = [(pair.old, pair.new) for pair in frozen_pairs()]
    started = time.perf_counter()
    official = build([MMDET.configs() / new for _, new in pairs], args.jobs, cwd=MMDET.configs().parent)
    print(f"{len(official)} official ports in {time.perf_counter() - started:.0f} s with {args.jobs} jobs: "
          f"{times(official)}")
    print(f"  build every part: {sum(result['ok'] for result in official.values())}")
    failures = Counter(
        ("environment: " if result["environment"] else "") + f"{result['failed']}: {result['error'][:100]}"
        for result in official.values() if not result["ok"]
    )
    for reason, count in failures.most_common():
        print(f"  {count:4d}  {reason}")
    if args.migrated:
        started = time.perf_counter()
        migrated = build([args.migrated / old for old, _ in pairs], args.jobs, cwd=args.migrated.parent)
        print(f"{len(migrated)} migrated configs in {time.perf_counter() - started:.0f} s: {times(migrated)}")
        lost = {old: lost_parts(migrated[args.migrated / old], official[MMDET.configs() / new]) for old, new in pairs}
        print(f"  build every part their port builds: {sum(not parts for parts in lost.values())}")
        for old, parts in sorted(lost.items()):
            if parts:
                print(f"  {old}: {parts}")


if __name__ == "__main__":
    main()
