"""The process pool: a run that uses it always ends, whatever happens to its workers or to itself."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from test_interrupt import default_stop_signals

from autofix.engine.scheduler import WORKER_DIED

TESTS = Path(__file__).parent
RUN_WITH_A_DYING_WORKER = """
import json, sys
from pathlib import Path
from testing_transforms import DiesOnMarker, Sets101To18
from autofix.engine import run, scheduler
scheduler.POOL_MIN_CANDIDATES_SPAWNED = scheduler.POOL_MIN_CANDIDATES_FORKED  # the pool starts either way
report = run([Path("tree")], [DiesOnMarker(), Sets101To18()], {}, write=False, jobs=2)
print(json.dumps({Path(r.shown).stem: [r.status, r.error] for r in report.results}))
"""


def test_a_worker_killed_mid_run_costs_its_files_and_the_run_ends(tmp_path: Path):
    tree = tmp_path / "tree"
    tree.mkdir()
    for index in range(20):  # two levels of 20 candidates: a pool of 2 takes each level in two chunks
        (tree / f"base_{index:02d}.py").write_text("depth = 101\n")
        (tree / f"leaf_{index:02d}.py").write_text(f"_base_ = './base_{index:02d}.py'\nwidth = 101\n")
    (tree / "base_07.py").write_text("depth = 101  # test: the worker dies here\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-c", RUN_WITH_A_DYING_WORKER], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=120,  # a hang fails the test instead of the suite
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    results = json.loads(done.stdout)
    died = sorted(name for name, (status, error) in results.items() if (status, error) == ("error", WORKER_DIED))
    assert len(results) == 40
    # Its level's chunks that had not come back are lost (the pool breaks), and a new pool takes the next level.
    assert "base_07" in died and all(name.startswith("base_") for name in died)
    assert all(results[f"leaf_{index:02d}"][0] == "changed" for index in range(20))
    assert all(results[name][0] == "changed" for name in results if name not in died)


RUN_WITH_A_WORKER_KILLED_WHILE_SENDING = """
import multiprocessing.connection, os, signal
from autofix.engine.scheduler import Workers

def half_sent(item):
    # In the worker: its next send (this function's result) stops halfway, and the worker dies.
    def send(connection, buffer, write=os.write):
        write(connection._handle, bytes(buffer[: len(buffer) // 2]))
        os.kill(os.getpid(), signal.SIGKILL)
    multiprocessing.connection.Connection._send = send
    return "x" * 1_000_000

with Workers(2) as workers:
    workers.start_for(files=0, candidates=10_000)
    print(list(workers.map(half_sent, [1, 2], chunks_per_worker=1, lost=lambda item: f"lost {item}")))
"""


def test_a_worker_killed_halfway_through_sending_its_results_costs_them_and_the_run_ends():
    """CPython's ProcessPoolExecutor waits forever for the rest of such a result (see _unstick_result_reader)."""
    done = subprocess.run(
        [sys.executable, "-c", RUN_WITH_A_WORKER_KILLED_WHILE_SENDING], capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert done.stdout.strip() == "['lost 1', 'lost 2']"


RUN_SLOW_CHUNKS = """
import json, time
from autofix.engine.scheduler import Workers

def slow(item):
    time.sleep(0.3)
    return item

told = []
with Workers(2) as workers:
    workers.start_for(files=0, candidates=10_000)
    results = list(workers.map(slow, list(range(6)), chunks_per_worker=1, lost=lambda item: None, finished=told.append))
print(json.dumps([results, told]))
"""


def test_a_pool_tells_items_finished_inside_a_chunk_before_the_chunk_returns():
    """Two workers take three items each: the count moves as items finish, not only when a chunk is back."""
    done = subprocess.run([sys.executable, "-c", RUN_SLOW_CHUNKS], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    results, told = json.loads(done.stdout)
    assert results == list(range(6))
    assert told == sorted(told) and told[-1] == 6
    assert any(0 < count < 3 for count in told)  # before either chunk of three came back


# 50 pooled CLI runs over four copies of the mmdet tree (3,476 files). A full run takes ~25 s on 2
# loaded cores, so all but FULL_RUNS of them get SIGTERM a random moment into their first seconds:
# while Python starts, while the pool plans the files, or while it examines the first levels.
RUNS, FULL_RUNS, SIGTERM_WITHIN_S = 50, 2, 5.0


def test_corpus_pooled_runs_always_end_and_never_print_a_traceback(mmdet_corpus: Path, tmp_path: Path):
    for copy in range(4):
        shutil.copytree(mmdet_corpus, tmp_path / f"configs{copy}")
    seed = random.randrange(2**32)
    chance = random.Random(seed)
    command = [sys.executable, "-m", "autofix", "apply", "--fix", "amp-nms", "--jobs", "2", "--dry-run", str(tmp_path)]
    walls: list[float] = []
    for index in range(RUNS):
        signal_after = None if index < FULL_RUNS else chance.uniform(0.0, SIGTERM_WITHIN_S)
        started = time.monotonic()
        proc = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "NO_COLOR": "1"}, preexec_fn=default_stop_signals,
        )
        try:
            if signal_after is not None:
                try:
                    proc.wait(timeout=signal_after)
                except subprocess.TimeoutExpired:
                    proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=180 if signal_after is None else 30)
        finally:
            proc.kill()
        walls.append(time.monotonic() - started)
        context = f"run {index} (seed {seed}, SIGTERM after {signal_after}): rc {proc.returncode}\n{stderr}"
        # -SIGTERM: the signal came before autofix had installed its handler, so Python's default ended it.
        assert proc.returncode in (0, 1, 2, 128 + signal.SIGTERM, -signal.SIGTERM), context
        assert "Traceback" not in stderr, context
    print(f"{RUNS} runs, {RUNS - FULL_RUNS} sent SIGTERM, longest {max(walls):.1f} s, all {sum(walls):.0f} s")
