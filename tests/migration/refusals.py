"""What ``autofix migrate`` refused along a config's inheritance chain: a migrated config may keep a 2.x construct,
differ from its port or fail to build only where the run refused something in it or in a base it inherits."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from autofix.engine import RunReport
from autofix.mmconfig import base_paths


def refused_by_file(report: RunReport, folder: Path) -> dict[str, tuple[str, ...]]:
    """Relative path (inside ``folder``) -> what the run refused in that file."""
    return {Path(os.path.abspath(r.shown)).relative_to(folder).as_posix(): r.refused for r in report.results}


def refused_in_chain(folder: Path, refused: Mapping[str, Sequence[str]], relative: str) -> set[str]:
    """What the run refused in the file ``relative`` and in every base it inherits from."""
    found: set[str] = set()
    pending, seen = [folder / relative], set()
    while pending:
        path = pending.pop()
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        found.update(refused.get(path.relative_to(folder).as_posix(), ()))
        pending += base_paths(path, path.read_text(encoding="utf-8"))
    return found
