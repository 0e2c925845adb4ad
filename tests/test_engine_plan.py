"""What the engine does before any transform runs: which files it parses, and which configs it resolves."""

from __future__ import annotations

from pathlib import Path

import pytest

from autofix.engine import run, safety
from autofix.registry import resolve_fix_ids

AMP_NMS = resolve_fix_ids(["amp-nms"])
RPN_BASE = """
model = dict(
    rpn_head=dict(anchor_generator=dict(type='AnchorGenerator', strides=[4, 8, 16, 32, 64])),
    train_cfg=dict(rpn_proposal=dict(nms_pre=2000, nms=dict(type='nms', iou_threshold=0.7{extra}))))
"""
# Code that fails when mmengine executes it: an error proves the config was resolved.
FAILS_WHEN_RESOLVED = "_base_ = './base.py'\nbroken = 1 / 0\n"


def _statuses(report) -> dict[str, str]:
    return {Path(r.shown).name: r.status for r in report.results}


def test_a_config_is_resolved_only_when_its_chain_mentions_the_transforms_markers(tmp_path: Path):
    with_rpn = tmp_path / "with_rpn"
    without = tmp_path / "without"
    for folder, base in ((with_rpn, RPN_BASE.format(extra="")), (without, "model = dict(type='RetinaNet')\n")):
        folder.mkdir()
        (folder / "base.py").write_text(base)
        (folder / "leaf.py").write_text(FAILS_WHEN_RESOLVED)
    report = run([with_rpn / "leaf.py", without / "leaf.py"], AMP_NMS, {}, write=False)
    errors = {r.shown: r.error for r in report.results if r.status == "error"}
    assert list(errors) == [(with_rpn / "leaf.py").as_posix()]
    assert "ZeroDivisionError" in errors[(with_rpn / "leaf.py").as_posix()]
    assert report.count("unchanged") == 1


def test_a_chain_that_cannot_be_read_in_full_is_resolved_so_mmengine_reports_it(tmp_path: Path):
    (tmp_path / "leaf.py").write_text("_base_ = './missing.py'\n")
    report = run([tmp_path / "leaf.py"], AMP_NMS, {}, write=False)
    assert report.results[0].status == "error" and "missing" in report.results[0].error


def test_configs_whose_resolved_value_needs_no_fix_are_not_parsed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    parsed: list[int] = []
    parse = safety.parse_module
    monkeypatch.setattr(safety, "parse_module", lambda text: parsed.append(len(text)) or parse(text))
    (tmp_path / "fine.py").write_text(RPN_BASE.format(extra=", split_thr=100000"))
    (tmp_path / "needs.py").write_text(RPN_BASE.format(extra=""))
    report = run([tmp_path], AMP_NMS, {}, write=False)
    assert _statuses(report) == {"fine.py": "unchanged", "needs.py": "changed"}
    assert parsed == [len((tmp_path / "needs.py").read_text())]


def test_configs_inheriting_a_base_fixed_in_the_run_need_no_fix_of_their_own(tmp_path: Path):
    (tmp_path / "a.py").write_text(RPN_BASE.format(extra=""))
    (tmp_path / "b.py").write_text("_base_ = './a.py'\n")
    (tmp_path / "c.py").write_text("_base_ = ['./b.py']\nlr = 0.1\n")
    (tmp_path / "d.py").write_text("_base_ = './a.py'\n")
    report = run([tmp_path], AMP_NMS, {}, write=False)
    assert _statuses(report) == {"a.py": "changed", "b.py": "unchanged", "c.py": "unchanged", "d.py": "unchanged"}
    a_result = next(r for r in report.results if r.shown.endswith("a.py"))
    assert "a base of 3 other configs in this run" in a_result.notes[-1]
