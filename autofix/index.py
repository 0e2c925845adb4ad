"""The catalogue's index: every id with its summary, fix safety, options and page, read without importing a rule.

Importing the rules means importing libcst and their helpers, several times what starting the command line
costs; ``--help``, the flags of ``apply`` and ``check``, ``list`` and ``explain`` need only what they declare.
``python -m autofix.docs`` writes it into autofix/catalogue_index.json beside docs/rules.md, and a test fails
when it is stale, as it does for docs/rules.md.
"""

from __future__ import annotations

import difflib
import json
import textwrap
from pathlib import Path
from typing import Any

INDEX_FILE = Path(__file__).resolve().parent / "catalogue_index.json"
LIST_WIDTH = 80

_INDEX = json.loads(INDEX_FILE.read_text(encoding="utf-8"))
LIST: list[dict[str, Any]] = _INDEX["list"]  # what `autofix list --format json` prints (docs.list_json)
CRASH_FIXES = [entry for entry in LIST if entry["kind"] == "crash-fix"]
RULES = [entry for entry in LIST if entry["kind"] == "rule"]
PAGES: dict[str, str] = _INDEX["pages"]
MODULES: dict[str, list[str]] = _INDEX["modules"]  # id -> the catalogue modules `--fix ID` needs


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
    if not all(fix_id in MODULES for fix_id in fix_ids):
        return None
    return list(dict.fromkeys(module for fix_id in fix_ids for module in MODULES[fix_id]))


def page(fix_id: str) -> str | None:
    """The Markdown page of a rule or crash fix (what ``autofix explain`` shows); None for an unknown id."""
    return PAGES.get(fix_id)


def unknown_fix_id(fix_id: str, known: list[str] | None = None) -> str:
    """The error for an id that names no rule or crash fix, with the closest known id where one is close."""
    close = difflib.get_close_matches(fix_id, fix_ids() if known is None else known, n=1)
    suggestion = f"; did you mean `{close[0]}`?" if close else ""
    return f"unknown fix id {fix_id!r}{suggestion} (`autofix list` shows every id)"


def list_lines(width: int = LIST_WIDTH) -> list[str]:
    """``autofix list``: one line per id at 80 columns, crash fixes first; narrower, a summary wraps
    between words under itself."""
    id_width = max(len(entry["id"]) for entry in LIST) + 1
    room = max(width - id_width - len("unsafe "), 20)
    lines = ["Crash fixes (--fix ID runs its default rules):"]
    for number, entry in enumerate(LIST):
        if number == len(CRASH_FIXES):
            lines += ["", "Rules (one fix each):"]
        safety = "safe" if entry["applicability"] == "safe" else "unsafe"
        prefix = f"{entry['id']:<{id_width}}{safety:<7}"
        wrapped = textwrap.wrap(entry["summary"].replace("`", ""), room, break_long_words=False, break_on_hyphens=False)
        lines += [prefix + wrapped[0], *(" " * len(prefix) + line for line in wrapped[1:])]
    lines += ["", "unsafe: changes training results.", "An id's page: autofix explain ID"]
    return lines


def index_text() -> str:
    """autofix/catalogue_index.json as the catalogue declares it now (this imports every rule)."""
    from autofix import docs
    from autofix.registry import all_transforms, crash_fixes, declaring_module

    def module(rule_id: str) -> list[str]:
        rule = all_transforms().get(rule_id)
        return [] if rule is None else [rule.__module__.rpartition(".")[2]]

    modules = {rule_id: module(rule_id) for rule_id in all_transforms()}
    for crash in crash_fixes().values():
        needed = [declaring_module(crash), *(name for rule_id in crash.default_transforms for name in module(rule_id))]
        modules[crash.id] = list(dict.fromkeys([*needed, *modules.get(crash.id, [])]))
    pages = {fix_id: docs.page(fix_id) for fix_id in (*crash_fixes(), *all_transforms())}
    document = {"generated_by": docs.REGENERATE, "list": docs.list_json(), "modules": modules, "pages": pages}
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"
