"""The real-config corpus: mmdet 3.3.0's shipped configs, downloaded once into a git-ignored cache."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

CACHE = Path(__file__).resolve().parent.parent / ".cache"
MMDET_VERSION = "3.3.0"


def mmdet_configs() -> Path:
    """``.cache/mmdet-3.3.0/mmdet/.mim/configs``, fetched from PyPI with pip on first use."""
    root = CACHE / f"mmdet-{MMDET_VERSION}"
    configs = root / "mmdet" / ".mim" / "configs"
    if configs.is_dir():
        return configs
    wheels = CACHE / "wheels"
    wheel = wheels / f"mmdet-{MMDET_VERSION}-py3-none-any.whl"
    if not wheel.exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", str(wheels),
             f"mmdet=={MMDET_VERSION}"],
            check=True,
        )
    with zipfile.ZipFile(wheel) as archive:
        members = [m for m in archive.namelist() if m.startswith("mmdet/.mim/configs/")]
        archive.extractall(root, members)
    return configs


def resolve_tree(folder: Path) -> dict[str, dict | None]:
    """Every ``*.py`` under ``folder`` (relative path) -> its effective config, or None where mmengine cannot load it."""
    from autofix.mmconfig import ConfigUnavailable, resolve

    resolved: dict[str, dict | None] = {}
    for path in sorted(folder.rglob("*.py")):
        try:
            resolved[path.relative_to(folder).as_posix()] = resolve(path, {})
        except ConfigUnavailable:
            resolved[path.relative_to(folder).as_posix()] = None
    return resolved
