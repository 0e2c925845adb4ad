"""The real-config corpora: the configs OpenMMLab wheels ship under ``.mim/configs``, downloaded once into a
git-ignored cache. mmdet 3.3.0 is the main tree; mmdet 2.28.2 (2.x keys: ``data=``, ``fp16``, ``optimizer``) and
mmsegmentation 1.2.2 (another codebase's 3.x-style tree) widen what every config rule is judged on."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

CACHE = Path(__file__).resolve().parent.parent / ".cache"


@dataclass(frozen=True)
class Corpus:
    distribution: str  # the name on PyPI
    version: str
    package: str  # the import name, whose .mim/configs the wheel ships

    @property
    def name(self) -> str:
        return f"{self.package}-{self.version}"

    def configs(self) -> Path:
        """``.cache/<distribution>-<version>/<package>/.mim/configs``, fetched from PyPI with pip on first use."""
        root = CACHE / f"{self.distribution}-{self.version}"
        configs = root / self.package / ".mim" / "configs"
        if configs.is_dir():
            return configs
        wheels = CACHE / "wheels"
        wheel = wheels / f"{self.distribution}-{self.version}-py3-none-any.whl"
        if not wheel.exists():
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", str(wheels),
                 f"{self.distribution}=={self.version}"],
                check=True,
            )
        with zipfile.ZipFile(wheel) as archive:
            members = [m for m in archive.namelist() if m.startswith(f"{self.package}/.mim/configs/")]
            archive.extractall(root, members)
        return configs


MMDET = Corpus("mmdet", "3.3.0", "mmdet")
CORPORA = {corpus.name: corpus for corpus in (MMDET, Corpus("mmdet", "2.28.2", "mmdet"), Corpus("mmsegmentation", "1.2.2", "mmseg"))}
MMDET_VERSION = MMDET.version


def mmdet_configs() -> Path:
    return MMDET.configs()


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
