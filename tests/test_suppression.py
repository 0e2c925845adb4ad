"""`# autofix: skip` comments: the engine leaves those statements (or files) alone and counts them."""

from __future__ import annotations

import textwrap
from pathlib import Path

from autofix.engine import rewrite_source, run
from autofix.registry import resolve_fix_ids

RELU = resolve_fix_ids(["relu-no-inplace"])
SPLIT_THR = resolve_fix_ids(["split-thr"])


def _relu(source: str):
    return rewrite_source(textwrap.dedent(source).lstrip("\n"), RELU)


def test_a_line_comment_keeps_that_statement_and_is_counted():
    result = _relu(
        """
        import torch.nn as nn
        a = nn.ReLU(inplace=True)  # autofix: skip
        b = nn.ReLU(inplace=True)
        """
    )
    assert result.text.splitlines()[1:] == ["a = nn.ReLU(inplace=True)  # autofix: skip", "b = nn.ReLU()"]
    assert result.suppressed == ("relu-no-inplace",)


def test_a_comment_naming_another_transform_does_not_suppress_this_one():
    result = _relu(
        """
        import torch.nn as nn
        a = nn.ReLU(inplace=True)  # autofix: skip[split-thr]
        b = nn.ReLU(inplace=True)  # autofix: skip[split-thr, relu-no-inplace]
        """
    )
    assert "a = nn.ReLU()  # autofix: skip[split-thr]" in result.text
    assert "b = nn.ReLU(inplace=True)  # autofix: skip[split-thr, relu-no-inplace]" in result.text
    assert result.suppressed == ("relu-no-inplace",)


def test_a_compound_statement_is_skipped_by_a_comment_on_its_first_line():
    source = """
        import torch.nn as nn


        class Block(nn.Module):
            def __init__(self):  # autofix: skip
                self.a = nn.ReLU(inplace=True)
                self.b = nn.ReLU(inplace=True)

            def forward(self, x):
                return nn.ReLU(inplace=True)(x)
        """
    result = _relu(source)
    assert "self.a = nn.ReLU(inplace=True)" in result.text and "self.b = nn.ReLU(inplace=True)" in result.text
    assert "return nn.ReLU()(x)" in result.text
    assert result.suppressed == ("relu-no-inplace",)


def test_a_comment_inside_a_multiline_statement_skips_the_whole_statement():
    result = _relu(
        """
        import torch.nn as nn
        acts = dict(
            first=nn.ReLU(inplace=True),  # autofix: skip
            second=nn.ReLU(inplace=True),
        )
        other = nn.ReLU(inplace=True)
        """
    )
    assert result.text.count("inplace=True") == 2
    assert "other = nn.ReLU()" in result.text


def test_a_comment_line_above_a_statement_does_not_skip_it():
    result = _relu(
        """
        import torch.nn as nn
        # autofix: skip
        a = nn.ReLU(inplace=True)
        """
    )
    assert "a = nn.ReLU()" in result.text and not result.suppressed


def test_a_comment_above_the_first_code_skips_the_file(tmp_path: Path):
    skipped = tmp_path / "skipped.py"
    skipped.write_text("#!/usr/bin/env python\n# autofix: skip\nimport torch.nn as nn\nr = nn.ReLU(inplace=True)\n")
    late = tmp_path / "late.py"
    late.write_text("import torch.nn as nn\n# autofix: skip\nr = nn.ReLU(inplace=True)\n")
    named = tmp_path / "named.py"
    named.write_text("# autofix: skip[split-thr]\nimport torch.nn as nn\nr = nn.ReLU(inplace=True)\n")
    report = run([tmp_path], RELU, {}, write=True)
    by_name = {Path(r.shown).name: r for r in report.results}
    assert by_name["skipped.py"].status == "skipped"
    assert by_name["skipped.py"].suppressed == ("relu-no-inplace",)
    assert "inplace=True" in skipped.read_text()
    assert by_name["late.py"].status == "changed" and by_name["named.py"].status == "changed"


CONFIG = """
model = dict(
    rpn_head=dict(anchor_generator=dict(type='AnchorGenerator', strides=[4, 8, 16, 32, 64])),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=2000, max_per_img=1000, nms=dict(type='nms', iou_threshold=0.7))))
"""


def test_split_thr_leaves_a_skipped_definition_alone_and_counts_it(tmp_path: Path):
    skipped = tmp_path / "skipped.py"
    skipped.write_text(CONFIG.replace("model = dict(", "model = dict(  # autofix: skip[split-thr]"))
    other = tmp_path / "other.py"
    other.write_text(CONFIG.replace("model = dict(", "model = dict(  # autofix: skip[relu-no-inplace]"))
    left = run([skipped], SPLIT_THR, {}, write=True).results[0]
    fixed = run([other], SPLIT_THR, {}, write=True).results[0]
    assert left.status == "unchanged" and left.suppressed == ("split-thr",)
    assert left.notes == ()  # what it would have set was not set
    assert fixed.status == "changed" and "split_thr=10001" in other.read_text()


def test_split_thr_skipped_for_a_whole_config(tmp_path: Path):
    config = tmp_path / "config.py"
    config.write_text("# autofix: skip[split-thr]\n" + CONFIG)
    result = run([config], resolve_fix_ids(["amp-nms"]), {}, write=True).results[0]
    assert result.status == "unchanged" and result.suppressed == ("split-thr",)
    assert "split_thr" not in config.read_text()
