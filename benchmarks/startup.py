"""Start-up of the ``autofix`` commands, as ratios to ``python -c "import typer"`` in the same environment.

A pre-commit hook or an editor pays start-up on every run, so each command is timed whole: a fresh
process, run the way the ``autofix`` script runs it (``from autofix.cli import main; main()``), on this
checkout. The commands take turns for ``--repeat`` rounds, so that load from other work on the machine
falls on all of them alike, and the median wall time of each is divided by the floor's. The targets are
issue 12's; the exit code is 1 when a command misses its target.

Run from a checkout: ``.venv/bin/python benchmarks/startup.py`` (``-X importtime`` on one of the commands
shows what it imports).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
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

# What each command is, its arguments, and the most it may cost as a multiple of `import typer`.
COMMANDS = (
    ("autofix --version", ["--version"], 1.5),
    ("autofix --help", ["--help"], 1.5),
    ("autofix list", ["list"], 3.0),
    ("autofix explain amp-nms", ["explain", "amp-nms"], 3.0),
    ("apply --dry-run, one model file", ["apply", "--dry-run", "--fix", "inplace-relu", MODEL], 3.5),
    ("apply --dry-run, one config", ["apply", "--dry-run", "--fix", "amp-nms", CONFIG], 6.0),
)


def seconds(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="rounds; the median of each command is reported")
    args = parser.parse_args()
    # This checkout's autofix, whatever is installed; no colour or progress bar to draw.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "NO_COLOR": "1", "CI": "1"}
    runs = {"floor": [sys.executable, "-c", "import typer"]}
    runs.update({name: [sys.executable, "-c", AUTOFIX, *argv] for name, argv, _ in COMMANDS})
    runs.update({name: [sys.executable, "-c", code] for name, code in REFERENCES})
    for command in runs.values():  # compiled bytecode and a warm file cache for every round alike
        seconds(command, env)
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeat):
        for name, command in runs.items():
            times[name].append(seconds(command, env))
    floor = statistics.median(times["floor"])
    print(f"{sys.executable}, median of {args.repeat} runs")
    print(f"{FLOOR_NAME:<40}{floor:>8.3f} s")
    missed = 0
    for name, _, target in COMMANDS:
        median = statistics.median(times[name])
        ratio = median / floor
        verdict = "PASS" if ratio <= target else "FAIL"
        missed += verdict == "FAIL"
        print(f"{name:<40}{median:>8.3f} s {ratio:>6.2f}x  target {target:>3.1f}x  {verdict}")
    for name, _ in REFERENCES:
        median = statistics.median(times[name])
        print(f"{name:<40}{median:>8.3f} s {median / floor:>6.2f}x  (reference)")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
