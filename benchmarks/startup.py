"""Start-up of the ``autofix`` commands, as ratios to ``python -c "import typer"`` in the same environment.

A pre-commit hook or an editor pays start-up on every run, so each command is timed whole: a fresh
process, run the way the ``autofix`` script runs it (``from autofix.cli import main; main()``), on this
checkout. The commands take turns for ``--repeat`` rounds, so that load from other work on the machine
falls on all of them alike, and the median wall time of each is divided by the floor's (the median CPU time,
user + system, is shown beside it: other load on the machine disturbs it less). The targets are issue 12's,
judged on wall time; the exit code is 1 when a command misses its target.

The two ``apply`` runs are timed twice: warm, replayed from the result cache (``.autofix_cache/``, filled by
the first round: what a pre-commit hook or an editor pays for files that did not change), which is what the
targets judge; and cold (``--no-cache``: parsing with libcst, resolving with mmengine), shown for scale beside
what importing those costs. They run on a copy of ``examples/`` in a temporary folder, whose cache goes with it.

Run from a checkout: ``.venv/bin/python benchmarks/startup.py`` (``-X importtime`` on one of the commands
shows what it imports).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = "examples/models/bottleneck.py"
CONFIG = "examples/configs/faster_rcnn_amp_2666x1600.py"
FLOOR_NAME = 'python -c "import typer" (the floor)'
# What a run that parses (libcst) or resolves a config (mmengine) pays before any work: no targets, for scale.
REFERENCES = (
    ("import typer, libcst", "import typer, libcst"),
    ("import typer, libcst, mmengine.config", "import typer, libcst, mmengine.config"),
)
AUTOFIX = "import sys; from autofix.cli import main; sys.argv[0] = 'autofix'; main()"
MODEL_RUN = ["apply", "--dry-run", "--fix", "inplace-relu", MODEL]
CONFIG_RUN = ["apply", "--dry-run", "--fix", "amp-nms", CONFIG]

# What each command is, its arguments, and the most it may cost as a multiple of `import typer` (None: no target).
COMMANDS = (
    ("autofix --version", ["--version"], 1.5),
    ("autofix --help", ["--help"], 1.5),
    ("autofix list", ["list"], 3.0),
    ("autofix explain amp-nms", ["explain", "amp-nms"], 3.0),
    ("apply --dry-run, one model file, warm", MODEL_RUN, 3.5),
    ("apply --dry-run, one config, warm", CONFIG_RUN, 6.0),
    ("apply --dry-run, one model file, cold", [*MODEL_RUN, "--no-cache"], None),
    ("apply --dry-run, one config, cold", [*CONFIG_RUN, "--no-cache"], None),
)


def seconds(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """The wall and CPU seconds of one run of ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="rounds; the median of each command is reported")
    args = parser.parse_args()
    # This checkout's autofix, whatever is installed; no colour or progress bar to draw; the cache on.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "NO_COLOR": "1", "CI": "1"}
    env.pop("AUTOFIX_NO_CACHE", None)
    with tempfile.TemporaryDirectory() as folder:
        shutil.copytree(ROOT / "examples", Path(folder) / "examples")
        return timed(args.repeat, env, Path(folder))


def timed(repeat: int, env: dict[str, str], cwd: Path) -> int:
    """Run every command ``repeat`` rounds in ``cwd`` and print the medians; 1 when a target is missed."""
    runs = {"floor": [sys.executable, "-c", "import typer"]}
    runs.update({name: [sys.executable, "-c", AUTOFIX, *argv] for name, argv, _ in COMMANDS})
    runs.update({name: [sys.executable, "-c", code] for name, code in REFERENCES})
    for command in runs.values():  # compiled bytecode, a warm file cache and the result cache for every round alike
        seconds(command, env, cwd)
    walls: dict[str, list[float]] = {name: [] for name in runs}
    cpus: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, command in runs.items():
            wall, cpu = seconds(command, env, cwd)
            walls[name].append(wall)
            cpus[name].append(cpu)
    floor, floor_cpu = statistics.median(walls["floor"]), statistics.median(cpus["floor"])
    print(f"{sys.executable}, median of {repeat} runs; wall, then CPU")
    print(f"{FLOOR_NAME:<40}{floor:>7.3f} s {'':>7} {floor_cpu:>7.3f} s")
    missed = 0
    targets: list[tuple[str, float | None]] = [(name, target) for name, _, target in COMMANDS]
    for name, target in [*targets, *((name, None) for name, _ in REFERENCES)]:
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        ratios = f"{name:<40}{wall:>7.3f} s {wall / floor:>6.2f}x {cpu:>7.3f} s {cpu / floor_cpu:>6.2f}x"
        if target is None:
            print(f"{ratios}  (reference)")
            continue
        verdict = "PASS" if wall / floor <= target else "FAIL"
        missed += verdict == "FAIL"
        print(f"{ratios}  target {target:>3.1f}x  {verdict}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
