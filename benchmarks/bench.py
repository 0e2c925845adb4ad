"""Wall time and peak memory of autofix over the mmdet 3.3.0 config tree, against the libcst floor.

The floor is what any libcst-based rewriter pays: start Python, import libcst, then read, parse
and re-emit every file, in one process. Every command runs as a fresh subprocess (start-up
included), the commands take turns for ``--repeat`` rounds so that load from other work on the
machine falls on all of them alike, and medians are printed: wall time, and CPU time (user +
system of the command's whole process tree, which other load on the machine disturbs less).
Peak memory is the largest summed RSS of a command's process tree (pool workers included),
sampled every 20 ms.

Run from a checkout: ``.venv/bin/python benchmarks/bench.py`` (the first run downloads the
``mmdet==3.3.0`` wheel into the git-ignored ``.cache/``, as the tests do).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from corpus import MMDET_VERSION, mmdet_configs  # noqa: E402 (the tests' downloader, shared)

FLOOR = """
import sys
from pathlib import Path
import libcst
for path in sorted(Path(sys.argv[1]).rglob("*.py")):
    libcst.parse_module(path.read_text(encoding="utf-8")).code
"""


def _tree_rss_kib(pid: int) -> int:
    """The summed resident memory of ``pid`` and its descendants (Linux /proc; 0 where unreadable)."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            with open(f"/proc/{current}/status", encoding="ascii") as status:
                total += next((int(line.split()[1]) for line in status if line.startswith("VmRSS:")), 0)
            with open(f"/proc/{current}/task/{current}/children", encoding="ascii") as children:
                pending.extend(int(child) for child in children.read().split())
        except (OSError, ValueError):
            continue
    return total


def measure(command: list[str]) -> tuple[float, float, int, int]:
    """Run ``command``; return its wall seconds, CPU seconds (its whole tree), exit code and peak tree RSS in KiB."""
    peak = 0
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss_kib(process.pid))
            done.wait(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    code = process.wait()
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu, code, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="rounds; medians are printed (default 3)")
    args = parser.parse_args()

    corpus = mmdet_configs()
    files = sorted(corpus.rglob("*.py"))
    autofix = [sys.executable, "-m", "autofix", "apply", "--dry-run", "--no-color"]
    shown = os.path.relpath(corpus, ROOT)
    commands = {
        "floor: read + libcst parse + re-emit, 1 process": [sys.executable, "-c", FLOOR, shown],
        "autofix --fix amp-nms": [*autofix, "--fix", "amp-nms", shown],
        "autofix --fix relu-no-inplace": [*autofix, "--fix", "relu-no-inplace", shown],
        "autofix --fix amp-nms --verify": [*autofix, "--fix", "amp-nms", "--verify", shown],
        "autofix --fix amp-nms --jobs 1": [*autofix, "--fix", "amp-nms", "--jobs", "1", shown],
        "autofix --fix amp-nms --jobs 2": [*autofix, "--fix", "amp-nms", "--jobs", "2", shown],
        "autofix --fix relu-no-inplace --jobs 1": [*autofix, "--fix", "relu-no-inplace", "--jobs", "1", shown],
        "autofix --fix relu-no-inplace --jobs 2": [*autofix, "--fix", "relu-no-inplace", "--jobs", "2", shown],
        "autofix check (every rule that is not opt-in)": [sys.executable, "-m", "autofix", "check", "--no-color", shown],
    }
    print(f"mmdet {MMDET_VERSION} configs: {len(files)} files, {sum(len(p.read_bytes().splitlines()) for p in files)} lines")
    print(f"{os.cpu_count()} cores; load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    walls: dict[str, list[float]] = {label: [] for label in commands}
    cpus: dict[str, list[float]] = {label: [] for label in commands}
    peaks: dict[str, list[int]] = {label: [] for label in commands}
    codes: dict[str, set[int]] = {label: set() for label in commands}
    for round_number in range(1, args.repeat + 1):
        for label, command in commands.items():
            wall, cpu, code, peak = measure(command)
            walls[label].append(wall)
            cpus[label].append(cpu)
            peaks[label].append(peak)
            codes[label].add(code)
            print(f"  round {round_number}: {label}: {wall:.2f} s, {cpu:.2f} CPU s, exit {code}, {peak / 1024:.0f} MiB", flush=True)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")

    floor = statistics.median(walls["floor: read + libcst parse + re-emit, 1 process"])
    floor_label = "floor: read + libcst parse + re-emit, 1 process"
    floor_cpu, floor_best = statistics.median(cpus[floor_label]), min(walls[floor_label])
    print("medians; 'best' is the fastest run of each, the least disturbed by other load")
    print(
        f"{'command':<42} {'wall s':>7} {'x floor':>8} {'CPU s':>6} {'x floor':>8} {'best s':>7} {'x floor':>8}"
        f" {'peak MiB':>9}  wall runs (s)"
    )
    for label in commands:
        wall, cpu, best = statistics.median(walls[label]), statistics.median(cpus[label]), min(walls[label])
        runs = ", ".join(f"{w:.2f}" for w in walls[label])
        print(
            f"{label.split(': ')[0] if label == floor_label else label:<42} {wall:>7.2f} {wall / floor:>8.2f}"
            f" {cpu:>6.2f} {cpu / floor_cpu:>8.2f} {best:>7.2f} {best / floor_best:>8.2f}"
            f" {max(peaks[label]) / 1024:>9.0f}  {runs}"
        )
    verify = statistics.median(walls["autofix --fix amp-nms --verify"]) - statistics.median(walls["autofix --fix amp-nms"])
    print(f"\n--verify adds {verify:+.2f} s to amp-nms (median against median)")
    print("exit codes:", ", ".join(f"{label.split(': ')[0]}: {sorted(c)}" for label, c in codes.items()))


if __name__ == "__main__":
    main()
