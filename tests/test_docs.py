"""The rules' pages: `autofix explain`, `autofix list` and the generated docs/rules.md."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from autofix.cli import app
from autofix.docs import (
    REGENERATE,
    RULES_PAGE,
    SECTIONS,
    applicability,
    docstring_sections,
    rule_page,
    rules_markdown,
    summary_line,
)
from autofix.index import list_lines
from autofix.registry import all_transforms, crash_fixes

ANSI = re.compile(r"\x1b\[")


def explain(fix_id: str, columns: int = 100) -> str:
    result = CliRunner().invoke(app, ["explain", fix_id], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return result.stdout


def test_docs_rules_md_is_up_to_date():
    assert RULES_PAGE.read_text(encoding="utf-8") == rules_markdown(), f"docs/rules.md is stale: run `{REGENERATE}`"


@pytest.mark.parametrize("rule_id", list(all_transforms()))
def test_every_rule_page_has_the_five_sections_in_order(rule_id: str):
    rule = all_transforms()[rule_id]
    summary, _ = docstring_sections(rule)  # raises unless the docstring has its summary and sections
    assert "``" not in rule.doc() and len(summary) <= 60
    headings = re.findall(r"^## (.+)$", rule_page(rule), flags=re.MULTILINE)
    assert tuple(headings[: len(SECTIONS)]) == SECTIONS
    assert f"Applicability: **{rule.applicability.value}**" in rule_page(rule)
    if not rule.options:
        assert "## Options\n\nNone.\n" in rule_page(rule)


def test_explain_a_rule_shows_its_sections_options_and_examples():
    out = explain("split-thr")
    lines = out.splitlines()
    positions = [lines.index(heading) for heading in SECTIONS]
    assert positions == sorted(positions)
    assert "Applicability: safe." in out and "--split-thr N" in out
    assert "split_thr=10001" in out and "+model.train_cfg.rpn_proposal.nms.split_thr = 12001" in out
    assert "``" not in out and "## " not in out and not ANSI.search(out)
    assert all(len(line) <= 100 and line == line.rstrip() for line in lines)


def test_explain_a_crash_fix_names_its_rules_without_inlining_their_pages():
    out = explain("amp-nms")
    for section in ("What happened", "Recognised in a log", "Remedies", "Rules"):
        assert section in out.splitlines()
    assert "autofix apply --fix nms-dtype-cast --mmcv" in out
    flat = " ".join(out.split())
    for rule_id in crash_fixes()["amp-nms"].default_transforms:
        assert f"See autofix explain {rule_id}." in flat
    assert "What it does" not in out and "Fix safety" not in out and "``" not in out


def test_explain_an_unknown_id_is_an_error():
    result = CliRunner().invoke(app, ["explain", "nope"])
    assert result.exit_code == 2 and "unknown fix id 'nope'" in result.stderr


def test_list_is_one_line_per_id_within_80_columns():
    out = CliRunner().invoke(app, ["list"], env={"COLUMNS": "200"}).stdout
    lines = out.splitlines()
    ids = [*crash_fixes(), *all_transforms()]
    rows = [line for line in lines if line.split(" ", 1)[0] in ids]
    assert [row.split()[0] for row in rows] == ids  # crash fixes first, each once, on one line
    for row, entry in zip(rows, [*crash_fixes().values(), *all_transforms().values()]):
        assert row.split()[1] == ("safe" if applicability(entry).value == "safe" else "unsafe")
        assert row.endswith(summary_line(entry).replace("`", ""))
    assert all(len(line) <= 80 for line in lines) and "┃" not in out and "│" not in out
    assert lines[-1] == "An id's page: autofix explain ID"


def test_list_on_a_narrow_terminal_wraps_summaries_between_words():
    lines = list_lines(width=50)
    assert all(len(line) <= 50 for line in lines)
    words = " ".join(lines).split()
    start = 0
    for entry in [*crash_fixes().values(), *all_transforms().values()]:
        summary = summary_line(entry).replace("`", "").split()
        start = words.index(entry.id, start) + 2  # after the id and its safety
        assert words[start:start + len(summary)] == summary  # every word whole, in order


def test_list_as_json():
    result = CliRunner().invoke(app, ["list", "--format", "json"])
    entries = json.loads(result.stdout)
    assert [e["id"] for e in entries] == [*crash_fixes(), *all_transforms()]
    split_thr = next(e for e in entries if e["id"] == "split-thr")
    assert split_thr["kind"] == "rule" and split_thr["applicability"] == "safe"
    assert split_thr["options"][0]["name"] == "split-thr"
    amp_nms = next(e for e in entries if e["id"] == "amp-nms")
    assert amp_nms["kind"] == "crash-fix" and amp_nms["default_rules"] == ["split-thr", "nms-dtype-cast"]
    assert amp_nms["remedies"][0] == {**amp_nms["remedies"][0], "fix": "split-thr", "available": True}
    assert next(e for e in entries if e["id"] == "resize-down")["options"][0]["default"] == "1333x800"


@pytest.mark.parametrize("fix_id", [*crash_fixes(), *all_transforms()])
def test_every_page_is_rendered_to_the_terminal_width_without_rest_or_markdown_marks(fix_id: str):
    out = explain(fix_id, columns=60)
    assert all(len(line) <= 60 and line == line.rstrip() for line in out.splitlines())
    assert "``" not in out and not re.search(r"^#+ ", out, flags=re.MULTILINE) and not ANSI.search(out)
