"""The user's training environment: where its packages are, found without importing them into autofix.

autofix is installed in an environment of its own (the README's venv), while mmdet, mmcv and the
other OpenMMLab packages live where the user trains: the active virtualenv (``VIRTUAL_ENV``), else
the active conda env (``CONDA_PREFIX``), or the interpreter given with ``--python``. That
interpreter is run once per run with a tiny script that asks ``importlib.util.find_spec`` (which
finds a top-level package without importing it) where the packages are; nothing of the training
environment is ever imported into autofix's process. A package the training environment lacks is
looked up in autofix's own.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# Asked about together, so that one run of the interpreter answers a whole run's look-ups.
OPENMMLAB_PACKAGES = (
    "mmcv", "mmengine", "mmdet", "mmdet3d", "mmseg", "mmpretrain", "mmcls", "mmyolo", "mmrotate", "mmocr",
    "mmpose", "mmaction", "mmtrack", "mmselfsup", "mmrazor", "mmagic", "mmedit", "mmflow", "mmfewshot",
    "mmgen", "mmhuman3d",
)

# Runs in the training environment's interpreter (any Python 3): each package's folder, or null.
# `python -c` puts the working directory first on sys.path; training finds its packages without it.
_LOCATE = """
import importlib.util, json, os, sys
if sys.path and sys.path[0] == '':
    del sys.path[0]
found = {}
for name in sys.argv[1:]:
    try:
        spec = importlib.util.find_spec(name)
    except Exception:
        spec = None
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    found[name] = folders[0] if folders else os.path.dirname(spec.origin) if spec is not None and spec.origin else None
print(json.dumps(found))
"""

# A training environment's interpreter that has not answered in this time is taken to have no packages.
_LOCATE_TIMEOUT_S = 60


@dataclass(frozen=True)
class TrainingEnvironment:
    """The Python the user trains with, and how autofix chose it."""

    python: Path
    origin: str  # "--python", "VIRTUAL_ENV" or "CONDA_PREFIX"
    folder: Path | None = None  # the env the variable named

    def __str__(self) -> str:
        return f"{self.folder or self.python} ({self.origin})"


def _interpreter_in(prefix: Path) -> Path | None:
    """The python of a virtualenv or conda env (POSIX ``bin/``, Windows ``Scripts\\`` or the env's root)."""
    for candidate in ("bin/python", "bin/python3", "Scripts/python.exe", "python.exe"):
        if (prefix / candidate).is_file():
            return prefix / candidate
    return None


def _is_own(prefix: Path) -> bool:
    return os.path.realpath(prefix) == os.path.realpath(sys.prefix)


def find_training_environment(python: str | None, environ: Mapping[str, str]) -> TrainingEnvironment | None:
    """``--python`` (an interpreter, or the env folder holding one), else the active virtualenv or conda
    env unless it is autofix's own; None when there is none. ValueError: a ``--python`` that cannot be used."""
    if python:
        given = Path(python).expanduser()
        interpreter = _interpreter_in(given) if given.is_dir() else given
        if interpreter is None or not interpreter.is_file() or not os.access(interpreter, os.X_OK):
            raise ValueError(f"--python {python}: not a Python interpreter (e.g. /opt/conda/envs/NAME/bin/python)")
        return TrainingEnvironment(interpreter, "--python")
    for variable in ("VIRTUAL_ENV", "CONDA_PREFIX"):
        prefix = environ.get(variable)
        if not prefix or _is_own(Path(prefix)):
            continue
        interpreter = _interpreter_in(Path(prefix))
        if interpreter is not None:
            return TrainingEnvironment(interpreter, variable, Path(prefix))
    return None


_UNCHOSEN = object()
_chosen: TrainingEnvironment | None | object = _UNCHOSEN


def use(training: TrainingEnvironment | None) -> None:
    """Make ``training`` the environment this process looks packages up in (a run's, or a pool worker's)."""
    global _chosen
    _chosen = training
    _locations.cache_clear()  # one answer per run: packages may have been installed since the last


def chosen() -> TrainingEnvironment | None:
    """The environment chosen by :func:`use`; else the active virtualenv or conda env."""
    global _chosen
    if _chosen is _UNCHOSEN:
        _chosen = find_training_environment(None, os.environ)
    return _chosen  # type: ignore[return-value]


@functools.cache
def _locations(python: Path, names: tuple[str, ...]) -> tuple[dict[str, str | None], str]:
    """Each package's folder in ``python``'s environment, and why it could not be asked (empty if it was)."""
    try:
        done = subprocess.run(
            [str(python), "-c", _LOCATE, *names], capture_output=True, text=True, timeout=_LOCATE_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {}, f"cannot run {python}: {exc}"
    try:
        found = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else None
    except (ValueError, IndexError):
        found = None
    if not isinstance(found, dict):
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return {}, f"{python} could not say where its packages are: {last}"
    return found, ""


def _asked(training: TrainingEnvironment, name: str) -> tuple[dict[str, str | None], str]:
    """The training environment's answer that covers ``name`` (the OpenMMLab packages are asked about together)."""
    return _locations(training.python, OPENMMLAB_PACKAGES if name in OPENMMLAB_PACKAGES else (name,))


def training_package_dir(name: str) -> Path | None:
    """The folder of top-level package ``name`` in the training environment, if there is one and it has it."""
    training = chosen()
    if training is None:
        return None
    folder = _asked(training, name)[0].get(name)
    return Path(folder) if folder else None


def package_dir(name: str) -> Path | None:
    """The folder of top-level package ``name``: the training environment's, else autofix's own (neither imports it)."""
    found = training_package_dir(name)
    if found is not None:
        return found
    spec = importlib.util.find_spec(name)
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    return Path(folders[0]) if folders else None


def not_installed(name: str) -> str:
    """Says where ``name`` was looked for, and the cure."""
    training = chosen()
    if training is None:
        where = "and no training environment is active (no VIRTUAL_ENV or CONDA_PREFIX)"
    else:
        problem = _asked(training, name)[1]
        where = f"nor in {training}" + (f" ({problem})" if problem else "")
    return (f"{name} is not installed in autofix's environment {where}; "
            "activate your training environment or pass --python PATH")


def installed_file(package: str, relative: str, flag: str, lacking: str = "") -> Path:
    """The file ``relative`` (``/``-separated) of ``package`` in the training environment, else autofix's: what a
    library-edit rule's ``flag`` adds to a run's paths. ValueError: why there is none (``lacking``: which
    builds of the package have no such file)."""
    folder = package_dir(package)
    if folder is None:
        raise ValueError(f"{flag}: {not_installed(package)} (or pass the path to {package}/{relative})")
    found = folder.joinpath(*relative.split("/"))
    if not found.is_file():
        why = f" ({lacking})" if lacking else ""
        raise ValueError(f"{flag}: the {package} at {folder} has no {relative}{why}: nothing to patch")
    return found
