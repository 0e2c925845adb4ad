"""Wall time of ``autofix migrate`` over the mmdet 2.28.2 config tree (666 files); the issue's target is under 60 s.

Each round migrates a fresh copy of the tree in place with ``autofix apply --fix migrate-2to3`` (what
``autofix migrate`` runs), as a subprocess, start-up included; medians are printed, with CPU time and
peak memory measured as ``bench.py`` does. Run from a checkout: ``.venv/bin/python benchmarks/migrate.py``
(the first run downloads the ``mmdet==2.28.2`` wheel into the git-ignored ``.cache/``, as the tests do).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from bench import measure  # importing bench puts tests/ on sys.path, for the tests' downloader
from corpus import CORPORA

OLD = CORPORA["mmdet-2.28.2"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="rounds; medians are printed (default 3)")
    parser.add_argument("--jobs", type=int, help="passed to autofix (default: its own)")
    args = parser.parse_args()

    tree = OLD.configs()
    files = sorted(tree.rglob("*.py"))
    originals = {path.relative_to(tree): path.read_bytes() for path in files}
    print(f"{OLD.name} configs: {len(files)} files, {sum(len(text.splitlines()) for text in originals.values())} lines")
    print(f"{os.cpu_count()} cores; load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    walls, cpus, peaks = [], [], []
    for round_number in range(1, args.repeat + 1):
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch) / "configs"
            shutil.copytree(tree, folder)
            command = [sys.executable, "-m", "autofix", "apply", "--fix", "migrate-2to3", "--no-color", str(folder)]
            if args.jobs:
                command += ["--jobs", str(args.jobs)]
            wall, cpu, code, peak = measure(command)
            rewritten = sum((folder / relative).read_bytes() != text for relative, text in originals.items())
        walls.append(wall)
        cpus.append(cpu)
        peaks.append(peak)
        print(
            f"  round {round_number}: {wall:.2f} s, {cpu:.2f} CPU s, exit {code}, {peak / 1024:.0f} MiB, "
            f"{rewritten} of {len(files)} files rewritten",
            flush=True,
        )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"migrate {OLD.name}: median {statistics.median(walls):.2f} s wall, {statistics.median(cpus):.2f} CPU s, "
        f"peak {max(peaks) / 1024:.0f} MiB (target: under 60 s wall)"
    )


if __name__ == "__main__":
    sys.exit(main())
