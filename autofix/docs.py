"""The rules' and crash fixes' documentation, as Markdown: ``autofix explain``, ``autofix list`` and docs/rules.md.

A rule's docstring is written in ruff's manner: a one-line summary, then ``## What it does``, ``## Why`` and
``## Fix safety``. Its page adds what the rule declares: ``## Example`` from its first fixed example, the
applicability and cost under ``## Fix safety``, ``## Options`` from ``options``, and its other examples as diffs.
``python -m autofix.docs`` writes every page into docs/rules.md, and the catalogue index
(autofix/catalogue_index.json) that ``--help``, ``list`` and ``explain`` read.
"""

from __future__ import annotations

import difflib
import re
import textwrap
from pathlib import Path
from typing import Any

from autofix.crashes import CrashFix
from autofix.index import option_value
from autofix.registry import all_transforms, crash_fixes, fix_ids
from autofix.rule import Applicability, Example, FileKind, Rule

SECTIONS = ("What it does", "Why", "Example", "Fix safety", "Options")
DOCSTRING_SECTIONS = ("What it does", "Why", "Fix safety")  # the other two come from the rule's declarations
RULES_PAGE = Path(__file__).resolve().parent.parent / "docs" / "rules.md"
REGENERATE = "python -m autofix.docs"


class DocstringError(ValueError):
    """A rule's docstring lacks the summary line or the sections a page is built from."""


def docstring_sections(rule: type[Rule]) -> tuple[str, dict[str, str]]:
    """A rule's summary line and its docstring's sections by heading; DocstringError if they are not as expected."""
    summary, _, rest = rule.doc().partition("\n")
    parts = re.split(r"^## (.+)$", rest, flags=re.MULTILINE)
    headings = tuple(parts[1::2])
    if not summary.strip() or parts[0].strip() or headings != DOCSTRING_SECTIONS:
        expected = ", ".join(f"## {h}" for h in DOCSTRING_SECTIONS)
        raise DocstringError(f"{rule.id}: the docstring must be a one-line summary, then {expected}; found {headings}")
    return summary.strip(), {heading: body.strip() for heading, body in zip(headings, parts[2::2])}


def summary_line(entry: type[Rule] | CrashFix) -> str:
    """The one-line summary: a crash fix's own, a rule's docstring's first line."""
    if isinstance(entry, CrashFix):
        return entry.summary
    return docstring_sections(entry)[0]


def plain(text: str) -> str:
    """Plain text (crash messages, costs, titles) escaped for Markdown, where `_base_` would be emphasis.

    Backticks stay: these texts quote commands in them, as Markdown does. An underscore opens emphasis
    only at the start of a word, so only those are escaped (each of them: `__init__`).
    """
    return re.sub(r"[\\*\[\]<]|(?<!\w)_+(?=\w)", lambda match: "".join("\\" + c for c in match.group()), text)


def _crash_fixes_offering(rule_id: str) -> list[str]:
    return [crash.id for crash in crash_fixes().values() if any(r.fix == rule_id for r in crash.remedies)]


def _fence(code: str, language: str = "python") -> str:
    return f"```{language}\n{code.rstrip()}\n```"


def _example_context(rule: type[Rule], example: Example) -> list[str]:
    """The options an example runs with and the files beside it, as Markdown blocks."""
    blocks = []
    by_key = {option.key: option for option in rule.options}
    if example.options:
        flags = [
            f"`--{by_key[key].name}`" if by_key[key].flag else f"`--{by_key[key].name} {option_value(value)}`"
            for key, value in example.options.items()
        ]
        blocks.append(f"With {', '.join(flags)}.")
    for name, text in example.files_dedented().items():
        blocks += [f"Beside it, `{name}`:", _fence(text)]
    return blocks


def _file_name(example: Example) -> str:
    return "config.py" if example.kind is FileKind.CONFIG else "model.py"


def _first_fixed(rule: type[Rule]) -> Example | None:
    return next((example for example in rule.examples if example.after is not None), None)


def _example_section(rule: type[Rule]) -> str:
    example = _first_fixed(rule)
    if example is None:
        return "None: every example is left alone."
    blocks = [_label(example), *_example_context(rule, example)]
    blocks += [f"Before (`{_file_name(example)}`):", _fence(example.source), "After:", _fence(example.expected)]
    return "\n\n".join(blocks)


def _label(example: Example) -> str:
    """An example's title, saying when the rule leaves it alone."""
    title = example.title or ("left alone" if example.after is None else "fixed")
    if example.after is None and not title.startswith("left alone"):
        title = f"left alone: {title}"
    return f"*{plain(title)}*"


def _more_examples(rule: type[Rule]) -> str:
    first_fixed = _first_fixed(rule)
    blocks = []
    for example in rule.examples:
        if example is first_fixed:
            continue
        blocks += [_label(example), *_example_context(rule, example)]
        if example.after is None:
            blocks.append(_fence(example.source))
        else:
            name = _file_name(example)
            before, after = example.source.splitlines(keepends=True), example.expected.splitlines(keepends=True)
            diff = difflib.unified_diff(before, after, f"a/{name}", f"b/{name}")
            blocks.append(_fence("".join(diff), "diff"))
    return "\n\n".join(blocks)


def _fix_safety(rule: type[Rule], written: str) -> str:
    return f"Applicability: **{rule.applicability.value}**.\n\n{written}\n\nCost: {plain(rule.tradeoff)}."


def _options_section(rule: type[Rule]) -> str:
    if not rule.options:
        return "None."
    lines = []
    for option in rule.options:
        usage = f"--{option.name}" if option.flag else f"--{option.name} {option.metavar or 'VALUE'}".rstrip()
        default = "" if option.default is None else f" Default: `{option_value(option.default)}`."
        lines.append(f"- `{usage}` (`{option.name}` in `[tool.autofix]`): {plain(option.help)}.{default}")
    return "\n".join(lines)


def rule_page(rule: type[Rule]) -> str:
    """A rule's page: its summary, the five sections in order, then its other examples."""
    summary, written = docstring_sections(rule)
    offered_by = ", ".join(f"`{crash_id}`" for crash_id in _crash_fixes_offering(rule.id)) or "none"
    sections = {
        "What it does": written["What it does"],
        "Why": written["Why"],
        "Example": _example_section(rule),
        "Fix safety": _fix_safety(rule, written["Fix safety"]),
        "Options": _options_section(rule),
    }
    blocks = [f"# {rule.id}", summary, f"Crash: {plain(rule.crash)}.\n\nA remedy of the crash fixes: {offered_by}."]
    blocks += [f"## {heading}\n\n{sections[heading]}" for heading in SECTIONS]
    more = _more_examples(rule)
    if more:
        blocks.append(f"## More examples\n\n{more}")
    return "\n\n".join(blocks) + "\n"


def crash_page(crash: CrashFix) -> str:
    """A crash fix's page: the crash, what happened, the remedies, and one line per rule (not the rules' pages)."""
    rules = all_transforms()
    places = " or ".join(signature.place for signature in crash.signatures)
    blocks = [
        f"# {crash.id}",
        f"{summary_line(crash)} A crash fix: `autofix apply --fix {crash.id} {crash.path_hint}` runs "
        + ", ".join(f"`{t}`" for t in crash.default_transforms) + ".",
        f"Crash: {plain(crash.crash)}.",
        f"## What happened\n\n{plain(crash.what_happened)}",
        f"## Recognised in a log\n\n`autofix diagnose LOG` recognises its message raised in {places}, as in:",
        *(_fence(textwrap.dedent(log).strip("\n"), "text") for log in crash.log_examples),
    ]
    remedies = ["## Remedies\n\nBest first; any one is enough."]
    for number, remedy in enumerate(crash.remedies, 1):
        missing = "" if remedy.available(fix_ids()) else " (not in this version of autofix yet)"
        remedies.append(
            f"{number}. **{remedy.fix}**{missing}: {plain(remedy.summary)}.\n\n"
            f"   Cost: {plain(remedy.cost)}.\n\n"
            f"   `{remedy.command(crash.path_hint)}`"
        )
    blocks.append("\n\n".join(remedies))
    lines = ["## Rules"]
    for remedy in crash.remedies:
        if remedy.fix in rules:
            rule = rules[remedy.fix]
            default = ", default" if rule.id in crash.default_transforms else ""
            see = "Its page follows." if rule.id == crash.id else f"See `autofix explain {rule.id}`."
            lines.append(f"- `{rule.id}` ({rule.applicability.value}{default}): {summary_line(rule)} {see}")
    blocks.append(lines[0] + "\n\n" + "\n".join(lines[1:]))
    return "\n\n".join(blocks) + "\n"


def page(fix_id: str) -> str | None:
    """The page of a rule or crash-fix id; None for an unknown id."""
    if fix_id in crash_fixes():
        own_rule = [rule_page(all_transforms()[fix_id])] if fix_id in all_transforms() else []
        return "\n".join([crash_page(crash_fixes()[fix_id]), *own_rule])
    if fix_id in all_transforms():
        return rule_page(all_transforms()[fix_id])
    return None


def _demoted(markdown: str) -> str:
    """Every heading one level down (outside code blocks), for pages inside docs/rules.md."""
    lines, in_code = [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        lines.append("#" + line if not in_code and line.startswith("#") else line)
    return "\n".join(lines) + "\n"


def rules_markdown() -> str:
    """docs/rules.md: every crash fix, then every rule."""
    crashes, rules = crash_fixes(), all_transforms()
    index = [
        "# Crash fixes and rules",
        f"<!-- Generated by `{REGENERATE}` from the rules' docstrings and declarations; do not edit. -->",
        "The same pages as `autofix explain ID`. A crash fix names a crash and its remedies; a rule is one fix.",
        "Crash fixes: " + ", ".join(f"[{crash_id}](#{crash_id})" for crash_id in crashes) + ".",
        "Rules: " + ", ".join(f"[{rule_id}](#{rule_id})" for rule_id in rules) + ".",
    ]
    pages = [_demoted(crash_page(crash)) for crash in crashes.values()]
    pages += [_demoted(rule_page(rule)) for rule in rules.values()]
    return "\n\n".join(index) + "\n\n" + "\n".join(pages)


def applicability(entry: type[Rule] | CrashFix) -> Applicability:
    """A rule's; a crash fix's is that of its default remedy (changes results if one of its rules does)."""
    if not isinstance(entry, CrashFix):
        return entry.applicability
    defaults = [all_transforms()[t] for t in entry.default_transforms if t in all_transforms()]
    safe = all(rule.applicability is Applicability.SAFE for rule in defaults)
    return Applicability.SAFE if safe else Applicability.CHANGES_RESULTS


def list_json() -> list[dict[str, Any]]:
    """``autofix list --format json``: every crash fix (its remedies), then every rule (its options)."""
    entries: list[dict[str, Any]] = [
        {"id": crash.id, "kind": "crash-fix", "summary": summary_line(crash),
         "applicability": applicability(crash).value, "crash": crash.crash,
         "default_rules": list(crash.default_transforms),
         "remedies": [{"fix": r.fix, "summary": r.summary, "cost": r.cost, "command": r.command(crash.path_hint),
                       "available": r.available(fix_ids())} for r in crash.remedies],
         "options": []}
        for crash in crash_fixes().values()
    ]
    for rule in all_transforms().values():
        options = [{"name": o.name, "flag": o.flag, "metavar": o.metavar, "default": _json_default(o.default),
                    "help": o.help} for o in rule.options]
        entries.append({"id": rule.id, "kind": "rule", "summary": summary_line(rule), "crash": rule.crash,
                        "applicability": rule.applicability.value, "opt_in": rule.opt_in,
                        "crash_fixes": _crash_fixes_offering(rule.id), "options": options})
    return entries


def _json_default(value: Any) -> Any:
    return option_value(value) if isinstance(value, tuple) else value


def main() -> None:
    from autofix import index  # what --help, list and explain read instead of importing the rules

    RULES_PAGE.parent.mkdir(exist_ok=True)
    RULES_PAGE.write_text(rules_markdown(), encoding="utf-8")
    index.INDEX_FILE.write_text(index.index_text(), encoding="utf-8")
    print(f"wrote {RULES_PAGE} and {index.INDEX_FILE}")


if __name__ == "__main__":
    main()
