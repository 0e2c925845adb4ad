"""The CLI in a real pseudo-terminal: colour and a progress bar there, plain text in a pipe."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from autofix.output import PROGRESS_MIN_FILES

ANSI = re.compile(rb"\x1b\[")
RELU = "import torch.nn as nn\nrelu = nn.ReLU(inplace=True)\n"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for number in range(PROGRESS_MIN_FILES + 5):
        (tmp_path / f"model_{number:02d}.py").write_text(RELU)
    return tmp_path


def _environment() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("CI", "NO_COLOR", "FORCE_COLOR")}
    return {**env, "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "40"}


def _in_a_terminal(command: list[str], cwd: Path, environment: dict[str, str] | None = None) -> tuple[int, bytes]:
    """The command's stdout and stderr, both on one pseudo-terminal, and its exit code."""
    leader, follower = pty.openpty()
    env = {**_environment(), **(environment or {})}
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the terminal's last writer has gone
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    return proc.wait(timeout=120), shown


COMMAND = [sys.executable, "-m", "autofix", "check", "--fix", "relu-no-inplace", "."]


def test_a_terminal_gets_colour_and_a_progress_bar(tree: Path):
    code, shown = _in_a_terminal(COMMAND, tree)
    assert code == 1 and b"Traceback" not in shown
    assert ANSI.search(shown)
    assert b"\x1b[1mmodel_00.py\x1b[0m:2:" in shown  # the path in bold
    assert b"autofix planning" in shown or b"autofix examining" in shown  # the bar, drawn and then cleared
    assert f"/{PROGRESS_MIN_FILES + 5}".encode() in shown
    assert b"help: autofix apply --fix relu-no-inplace model_00.py" in re.sub(rb"\x1b\[[0-9;]*m", b"", shown)


def test_the_same_command_in_a_pipe_is_plain_text(tree: Path):
    piped = subprocess.run(COMMAND, cwd=tree, env=_environment(), capture_output=True, timeout=120)
    assert piped.returncode == 1 and b"Traceback" not in piped.stderr
    assert not ANSI.search(piped.stdout) and not ANSI.search(piped.stderr)
    assert piped.stdout.startswith(b"model_00.py:2:1: relu-no-inplace ")
    assert b"autofix planning" not in piped.stderr and b"autofix examining" not in piped.stderr


@pytest.mark.parametrize(("flags", "environment"), [(["--no-color"], {}), ([], {"NO_COLOR": "1"})])
def test_no_color_in_a_terminal_prints_findings_without_escape_codes(tree: Path, flags: list[str], environment: dict):
    code, shown = _in_a_terminal([*COMMAND, *flags], tree, environment)
    findings = shown.split(b"model_00.py", 1)[1].split(b"findings in")[0]  # after the bar is gone
    assert code == 1 and not ANSI.search(findings)
