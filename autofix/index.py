"""The catalogue's index: every id with its summary, fix safety, options and page, read without importing a rule.

Importing the rules means importing libcst and their helpers, several times what starting the command line
costs; ``--help``, the flags of ``apply`` and ``check``, ``list`` and ``explain`` need only what they declare.
``python -m autofix.docs`` writes it into autofix/catalogue_index.json beside docs/rules.md, and a test fails
when it is stale, as it does for docs/rules.md.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

INDEX_FILE = Path(__file__).resolve().parent / "catalogue_index.json"
LIST_WIDTH = 80

_INDEX = json.loads(INDEX_FILE.read_text(encoding="utf-8"))
CRASH_FIXES: list[dict[str, Any]] = _INDEX["crash_fixes"]
RULES: list[dict[str, Any]] = _INDEX["rules"]
PAGES: dict[str, str] = _INDEX["pages"]


def fix_ids() -> list[str]:
    """Every id ``--fix`` and ``explain`` take: crash fixes first, then rules."""
    return list(PAGES)


def option_specs() -> list[dict[str, Any]]:
    """Every rule option (its rule's id under ``rule``), in the order of the rules."""
    return [{**option, "rule": rule["id"]} for rule in RULES for option in rule["options"]]


def option_value(value: Any) -> str:
    """An option's value as the command line and pyproject.toml write it."""
    if isinstance(value, (tuple, list)) and all(isinstance(part, int) for part in value):
        return "x".join(map(str, value))  # sizes are written WxH
    return str(value)


def catalogue_modules(fix_ids: list[str]) -> list[str] | None:
    """The modules of autofix.catalogue that declare these ids and the rules their crash fixes run; None when
    an id is not in the index."""
    modules: dict[str, None] = {}
    for fix_id in fix_ids:
        entries = [entry for entry in (*CRASH_FIXES, *RULES) if entry["id"] == fix_id]
        if not entries:
            return None
        for entry in entries:
            modules.update(dict.fromkeys(entry["modules"]))
    return list(modules)


def page(fix_id: str) -> str | None:
    """The Markdown page of a rule or crash fix (what ``autofix explain`` shows); None for an unknown id."""
    return PAGES.get(fix_id)


def unknown_fix_id(fix_id: str, known: list[str] | None = None) -> str:
    """The error for an id that names no rule or crash fix, with the closest known id where one is close."""
    close = difflib.get_close_matches(fix_id, fix_ids() if known is None else known, n=1)
    suggestion = f"; did you mean `{close[0]}`?" if close else ""
    return f"unknown fix id {fix_id!r}{suggestion} (`autofix list` shows every id)"


def list_lines(width: int = LIST_WIDTH) -> list[str]:
    """``autofix list``: one line per id, crash fixes first, each cut to ``width`` columns."""
    entries = [*CRASH_FIXES, *RULES]
    id_width = max(len(entry["id"]) for entry in entries) + 2
    lines = ["Crash fixes (--fix ID runs its default remedy):"]
    for number, entry in enumerate(entries):
        if number == len(CRASH_FIXES):
            lines += ["", "Rules:"]
        safety = "safe" if entry["applicability"] == "safe" else "unsafe"
        line = f"  {entry['id']:<{id_width}}{safety:<8}{entry['summary'].replace('`', '')}"
        lines.append(line if len(line) <= width else line[: width - 1] + "…")
    lines += ["", "unsafe: changes training results. `autofix explain ID` shows an id's page."]
    return lines


def list_json() -> list[dict[str, Any]]:
    """``autofix list --format json``: every crash fix, then every rule."""
    entries: list[dict[str, Any]] = [
        {"id": crash["id"], "kind": "crash-fix", "summary": crash["summary"], "applicability": crash["applicability"],
         "default_rules": list(crash["default_rules"]), "options": []}
        for crash in CRASH_FIXES
    ]
    for rule in RULES:
        options = [{"name": o["name"], "default": o["default"], "help": o["help"]} for o in rule["options"]]
        entries.append({"id": rule["id"], "kind": "rule", "summary": rule["summary"],
                        "applicability": rule["applicability"], "options": options})
    return entries


def index_text() -> str:
    """autofix/catalogue_index.json as the catalogue declares it now (this imports every rule)."""
    from autofix import docs
    from autofix.registry import all_transforms, crash_fixes, declaring_module

    def module(rule_id: str) -> list[str]:
        rule = all_transforms().get(rule_id)
        return [] if rule is None else [rule.__module__.rpartition(".")[2]]

    crashes = [
        {"id": crash.id, "summary": docs.summary_line(crash), "applicability": docs.applicability(crash).value,
         "default_rules": list(crash.default_transforms),
         "modules": list(dict.fromkeys([declaring_module(crash), *(m for t in crash.default_transforms
                                                                    for m in module(t))]))}
        for crash in crash_fixes().values()
    ]
    rules = [
        {"id": rule.id, "summary": docs.summary_line(rule), "applicability": rule.applicability.value,
         "modules": module(rule.id),
         "options": [{"name": o.name, "help": o.help, "metavar": o.metavar, "flag": o.flag, "default": o.default}
                     for o in rule.options]}
        for rule in all_transforms().values()
    ]
    pages = {fix_id: docs.page(fix_id) for fix_id in (*crash_fixes(), *all_transforms())}
    document = {"generated_by": docs.REGENERATE, "crash_fixes": crashes, "rules": rules, "pages": pages}
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"
