"""Golden files: tests/golden/<transform>/<case>.py must become <case>.expected.py, and stay so.

A large file with a small change stores <case>.expected.diff instead: the unified diff of the fix.

An optional <case>.options.json passes transform options (as the CLI would). Config cases resolve
with mmengine at their own path, so the `_base_` files they inherit live in subfolders beside them
(only files directly in tests/golden/<transform>/ are cases)."""

from __future__ import annotations

import json
from pathlib import Path

import libcst as cst
import pytest

from autofix.diffs import unified_diff
from autofix.engine import ConfigSession, rewrite_at
from autofix.registry import all_transforms

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(
    p for p in GOLDEN.glob("*/*.py") if not p.name.endswith(".expected.py")
)


def _case_id(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def _expected_file(case: Path) -> Path:
    diff = case.with_name(case.stem + ".expected.diff")
    return diff if diff.exists() else case.with_name(case.stem + ".expected.py")


def _load(case: Path):
    """The transform, its options, and the expected text (a stored diff applied by the transform itself)."""
    transform = all_transforms()[case.parent.name]()
    options_file = case.with_suffix(".options.json")
    options = json.loads(options_file.read_text()) if options_file.exists() else {}
    return transform, options


def _fix(case: Path, text: str, transform, options) -> str:
    return rewrite_at(case, text, [transform], options, ConfigSession()).text


def test_every_golden_case_has_an_expected_file_and_a_transform():
    assert CASES, "no golden cases found"
    for case in CASES:
        assert case.parent.name in all_transforms(), f"{case}: no transform {case.parent.name!r}"
        assert _expected_file(case).exists(), f"{case}: missing expected file"


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_golden(case: Path):
    transform, options = _load(case)
    source = case.read_text(encoding="utf-8")
    fixed = _fix(case, source, transform, options)
    expected = _expected_file(case)
    if expected.suffix == ".diff":
        assert unified_diff(source, fixed, case.name) == expected.read_text(encoding="utf-8")
    else:
        assert fixed == expected.read_text(encoding="utf-8")
    cst.parse_module(fixed)  # the output is still Python


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_golden_is_idempotent(case: Path):
    transform, options = _load(case)
    fixed = _fix(case, case.read_text(encoding="utf-8"), transform, options)
    assert _fix(case, fixed, transform, options) == fixed
