"""Unified diffs that ``git apply`` and ``patch -p1`` accept, and their colouring."""

from __future__ import annotations

import difflib

from rich.text import Text

_NO_NEWLINE = "\\ No newline at end of file\n"


def unified_diff(before: str, after: str, path: str) -> str:
    """Diff two texts of the file shown as ``path`` (relative to the working directory)."""
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=f"a/{path}",
        tofile=f"b/{path}",
    )
    out: list[str] = []
    for line in lines:
        if line.endswith("\n"):
            out.append(line)
        else:  # the last line of a file without a final newline
            out.append(line + "\n" + _NO_NEWLINE)
    return "".join(out)


_STYLES = (("+++", "bold"), ("---", "bold"), ("@@", "cyan"), ("+", "green"), ("-", "red"))


def colour_diff(diff: str) -> Text:
    text = Text()
    for line in diff.splitlines(keepends=True):
        style = next((s for prefix, s in _STYLES if line.startswith(prefix)), "")
        text.append(line, style=style)
    return text
