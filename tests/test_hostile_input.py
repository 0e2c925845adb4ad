"""Hostile input costs one file and one line, never a traceback; the rest of the batch is fixed.

Config problems (a missing or circular ``_base_``, a config that raises) only arise for
transforms that resolve configs with mmengine, so they are tested with small test-only
transforms handed to the engine directly, independent of the registered ones.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from testing_transforms import Crashes, ResolvesConfig
from typer.testing import CliRunner

from autofix.cli import app
from autofix.engine import run
from autofix.registry import resolve_fix_ids

FIX_SITE = "r = nn.ReLU(inplace=True)\n"
FIXED = "r = nn.ReLU()\n"
RELU = resolve_fix_ids(["relu-no-inplace"])

# name -> (bytes, a part of the one-line cause). Each also holds a fix site, so it is not
# skipped by the prefilter: every one of them reaches libcst unless refused first.
HOSTILE = {
    "syntax_error": (b"def f(:\n" + FIX_SITE.encode(), "syntax error at line 1"),
    "binary": (b"\x7fELF\x02\x01\x01\x00\x00" + FIX_SITE.encode(), "binary data"),
    "undecodable": (b"r = nn.ReLU(inplace=True)  # \xff\xfe latin-1 without a cookie\n", "not UTF-8"),
    "nested_parens": (("x = " + "(" * 5000 + "1" + ")" * 5000 + "\n" + FIX_SITE).encode(), "nested"),
    "nested_unary": (("x = " + "-" * 100_000 + "1\n" + FIX_SITE).encode(), "nested too deeply to parse"),
    # One flat node for CPython, 10000 levels for libcst: its parser would segfault.
    "long_and_chain": (("x = " + "a and " * 10_000 + "1\n" + FIX_SITE).encode(), "nested more than 1000 levels"),
    "nested_calls": (("x = " + "f(" * 150 + "1" + ")" * 150 + "\n" + FIX_SITE).encode(), "nested too deeply to transform"),
    "valid_but_not_for_libcst": (("x = " + "'a' " * 10_000 + "\n" + FIX_SITE).encode(), "libcst cannot parse line 2"),
    "huge": ((FIX_SITE + "x = 1\n" * 900_000).encode(), "5.4 MB, over the 1024 KiB limit"),
}


@pytest.fixture
def batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """pkg/a_good.py and pkg/z_good.py need a fix; every hostile file lies between them."""
    (tmp_path / "pkg").mkdir()
    for name in ("a_good", "z_good"):
        (tmp_path / "pkg" / f"{name}.py").write_text(FIX_SITE)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _assert_good_files_fixed(root: Path) -> None:
    assert (root / "pkg" / "a_good.py").read_text() == FIXED
    assert (root / "pkg" / "z_good.py").read_text() == FIXED


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_file_is_one_line_error_and_the_batch_goes_on(batch: Path, name: str):
    data, cause = HOSTILE[name]
    hostile = batch / "pkg" / f"{name}.py"
    hostile.write_bytes(data)
    result = CliRunner().invoke(app, ["apply", "--fix", "relu-no-inplace", "pkg"])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith(f"error: pkg/{name}.py: "), result.stderr
    assert cause in errors[0]
    assert "Traceback" not in result.output
    assert hostile.read_bytes() == data
    _assert_good_files_fixed(batch)


def test_all_hostile_files_in_one_process_cost_one_line_each(batch: Path):
    """As a real process: no traceback, no crash (libcst segfaults on some of these), exit 2."""
    for name, (data, _) in HOSTILE.items():
        (batch / "pkg" / f"{name}.py").write_bytes(data)
    proc = subprocess.run(
        [sys.executable, "-m", "autofix", "apply", "--fix", "relu-no-inplace", "pkg"],
        capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"},
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    for name, (_, cause) in HOSTILE.items():
        named = [line for line in errors if line.startswith(f"error: pkg/{name}.py: ")]
        assert len(named) == 1 and cause in named[0], (name, errors)
    assert len(errors) == len(HOSTILE)
    assert f"2 files changed, 0 unchanged, {len(HOSTILE)} errors." in proc.stderr
    _assert_good_files_fixed(batch)


def test_fifo_or_device_named_py_is_refused_without_reading_it(batch: Path):
    """Reading either would block or never end: the whole run would hang."""
    os.mkfifo(batch / "pkg" / "m_fifo.py")
    (batch / "pkg" / "m_zeros.py").symlink_to("/dev/zero")
    proc = subprocess.run(
        [sys.executable, "-m", "autofix", "apply", "--fix", "relu-no-inplace", "pkg"],
        capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"}, timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    for name in ("m_fifo.py", "m_zeros.py"):
        assert f"error: pkg/{name}: not a regular file (a FIFO, socket or device); exclude it" in proc.stderr
    _assert_good_files_fixed(batch)


def test_empty_file_is_valid_python_and_left_alone(batch: Path):
    empty = batch / "pkg" / "empty.py"
    empty.write_bytes(b"")
    os.utime(empty, ns=(1_000_000_000, 1_000_000_000))
    result = CliRunner().invoke(app, ["apply", "--fix", "relu-no-inplace", "pkg"])
    assert result.exit_code == 0, result.output
    assert "2 files changed, 1 unchanged." in result.stderr
    assert empty.read_bytes() == b"" and empty.stat().st_mtime_ns == 1_000_000_000
    _assert_good_files_fixed(batch)


def test_read_only_file_is_reported_left_alone_and_the_batch_goes_on(batch: Path):
    read_only = batch / "pkg" / "m_read_only.py"
    read_only.write_text(FIX_SITE)
    read_only.chmod(0o444)
    result = CliRunner().invoke(app, ["apply", "--fix", "relu-no-inplace", "pkg"])
    assert result.exit_code == 2
    assert "error: pkg/m_read_only.py: file is read-only; make it writable (chmod u+w) to fix it" in result.stderr
    assert read_only.read_text() == FIX_SITE
    _assert_good_files_fixed(batch)


ACT_CFG_RELU = "model = dict(act_cfg=dict(type='ReLU', inplace=True))\n"
ACT_CFG_FIXED = "model = dict(act_cfg=dict(type='ReLU', inplace=False))\n"
BROKEN_CONFIGS = {  # name -> (bytes, a part of the one-line cause)
    "missing_base.py": (b"_base_ = './nowhere.py'\n" + ACT_CFG_RELU.encode(), "FileNotFoundError"),
    "circular_a.py": (
        b"_base_ = './circular_b.py'\n" + ACT_CFG_RELU.encode(),
        "circular _base_: circular_a.py -> circular_b.py -> circular_a.py",
    ),
    "circular_b.py": (
        b"_base_ = ['./circular_a.py']\n" + ACT_CFG_RELU.encode(),
        "circular _base_: circular_b.py -> circular_a.py -> circular_b.py",
    ),
    # A `raise` statement would make it a script; a value that raises keeps it a config.
    "raises.py": (ACT_CFG_RELU.encode() + b"size = int('config bug')\n", "ValueError: invalid literal"),
    # Python (and autofix) read it by its cookie; mmengine reads configs as UTF-8.
    "latin_1.py": (b"# -*- coding: latin-1 -*-\n" + ACT_CFG_RELU.encode() + b"name = '\xe9t\xe9'\n", "UnicodeDecodeError"),
}


def test_configs_mmengine_cannot_resolve_are_one_line_reasons_and_others_are_fixed(tmp_path: Path):
    for name, (data, _) in BROKEN_CONFIGS.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "base.py").write_text("optimizer = dict(lr=0.1)\n")
    (tmp_path / "good.py").write_text("_base_ = './base.py'\n" + ACT_CFG_RELU)
    report = run([tmp_path], [*RELU, ResolvesConfig()], {}, write=True)
    outcome = {Path(r.shown).name: r for r in report.results}
    assert (outcome["good.py"].status, outcome["base.py"].status) == ("changed", "unchanged")
    assert (tmp_path / "good.py").read_text() == "_base_ = './base.py'\n" + ACT_CFG_FIXED
    named = run([tmp_path / name for name in BROKEN_CONFIGS], [*RELU, ResolvesConfig()], {}, write=True)
    for name, (data, cause) in BROKEN_CONFIGS.items():
        found_in_folder = outcome[name]  # not examined: a warning, unless --strict
        assert found_in_folder.status == "unresolvable" and cause in found_in_folder.error
        given = next(r for r in named.results if Path(r.shown).name == name)
        assert given.status == "error" and given.error.startswith("cannot resolve the config: ")
        assert cause in given.error and "\n" not in given.error
        assert (tmp_path / name).read_bytes() == data


def test_a_transform_bug_is_a_one_line_error_for_that_file_only(tmp_path: Path):
    (tmp_path / "a.py").write_text(FIX_SITE)
    result = run([tmp_path / "a.py"], [*RELU, Crashes()], {}, write=True).results[0]
    assert result.status == "error"
    assert result.error == "internal error, file left as it was (ValueError: first line of the bug); please report it"
    assert (tmp_path / "a.py").read_text() == FIX_SITE
