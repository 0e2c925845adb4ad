"""Golden files: tests/golden/<transform>/<case>.py must become <case>.expected.py, and stay so.

An optional <case>.options.json passes transform options (as the CLI would). Config cases resolve
with mmengine at their own path, so the `_base_` files they inherit live in subfolders beside them
(only files directly in tests/golden/<transform>/ are cases)."""

from __future__ import annotations

import json
from pathlib import Path

import libcst as cst
import pytest

from autofix.engine import ConfigSession, rewrite_at
from autofix.registry import all_transforms

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(
    p for p in GOLDEN.glob("*/*.py") if not p.name.endswith(".expected.py")
)


def _case_id(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def _load(case: Path):
    transform = all_transforms()[case.parent.name]()
    options_file = case.with_suffix(".options.json")
    options = json.loads(options_file.read_text()) if options_file.exists() else {}
    expected = case.with_name(case.stem + ".expected.py").read_text(encoding="utf-8")
    return transform, options, expected


def test_every_golden_case_has_an_expected_file_and_a_transform():
    assert CASES, "no golden cases found"
    for case in CASES:
        assert case.parent.name in all_transforms(), f"{case}: no transform {case.parent.name!r}"
        assert case.with_name(case.stem + ".expected.py").exists(), f"{case}: missing expected file"


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_golden(case: Path):
    transform, options, expected = _load(case)
    result = rewrite_at(case, case.read_text(encoding="utf-8"), [transform], options, ConfigSession())
    assert result.text == expected
    cst.parse_module(result.text)  # the output is still Python


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_golden_is_idempotent(case: Path):
    transform, options, expected = _load(case)
    assert rewrite_at(case, expected, [transform], options, ConfigSession()).text == expected
