"""SIGINT and SIGTERM mid-run: every file as it was or fully fixed, no temp file, exit 130/143."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autofix.files import TEMP_SUFFIX

FILES = 300
PADDING = "".join(f"layer_{i} = dict(type='Conv', channels=[{i}, {i + 1}], bias=True)  # padding\n" for i in range(20))
ORIGINAL = "import torch.nn as nn\n" + PADDING + "r = nn.ReLU(inplace=True)\n" + PADDING
FIXED = ORIGINAL.replace("nn.ReLU(inplace=True)", "nn.ReLU()")


def default_stop_signals() -> None:
    # A shell that starts jobs in the background hands them SIGINT ignored; Python then never
    # raises KeyboardInterrupt. The test is about what autofix does with the signal, so it
    # starts the command as a terminal would.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _wait_until(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.005)


@pytest.mark.parametrize("attempt", range(3))
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_stopped_run_leaves_each_file_as_it_was_or_fully_fixed(tmp_path: Path, signum: int, attempt: int):
    tree = tmp_path / "tree"
    for index in range(FILES):
        folder = tree / f"d{index % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{index:03d}.py").write_text(ORIGINAL)
    first = tree / "d0" / "f000.py"  # files are processed in sorted order
    delay = random.uniform(0.0, 0.1)  # fixed files are written in one burst of a few tenths of a second
    proc = subprocess.Popen(
        [sys.executable, "-m", "autofix", "apply", "--fix", "relu-no-inplace", str(tree)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "NO_COLOR": "1"}, preexec_fn=default_stop_signals,
    )
    try:
        _wait_until(lambda: first.read_text() == FIXED, timeout=60)
        time.sleep(delay)
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    name = signal.Signals(signum).name
    assert proc.returncode == 128 + signum, (delay, stderr)
    assert stderr.splitlines() == [
        f"autofix: interrupted by {name}; each file is either as it was or fully fixed, "
        "so running the same command again finishes the job"
    ]
    contents = {path.relative_to(tree): path.read_text() for path in tree.rglob("*") if path.is_file()}
    assert len(contents) == FILES, f"stray files: {sorted(p for p in contents if p.suffix != '.py')}"
    assert not [path for path in contents if path.name.endswith(TEMP_SUFFIX)]
    assert set(contents.values()) <= {ORIGINAL, FIXED}
    fixed = sum(text == FIXED for text in contents.values())
    assert 0 < fixed < FILES, f"the signal came after {delay:.2f}s, when the run had {fixed} files fixed"
    print(f"{name} after {delay:.2f}s: {fixed} of {FILES} files fixed, {FILES - fixed} as they were, no temp files")
