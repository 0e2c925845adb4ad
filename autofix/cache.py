"""A result cache, as ruff's: a run whose every input is unchanged prints what it printed last time, and exits
as it did, without importing libcst, mmengine, the engine or a rule.

A run's key is the sha256 of what its output depends on: autofix itself (its version and the files of the
package, the libraries it runs on), the command and its settings (the mode, the ``--fix`` ids, rule options,
``--verify``...), the project's pyproject.toml files (``fix``, options, ``configs`` and ``exclude``), the
training environment as autofix resolves it, the terminal the output goes to, and each file's key: its bytes
and, for a file with ``_base_``/``read_base``, the bytes of every file of its chain, found without mmengine.
A base found only by mmengine (``pkg::``, an absolute ``read_base`` import, a ``_base_`` that is not a literal)
makes the run uncacheable. A folder is walked as a run walks it, without pyproject.toml's ``exclude``: more
files in the key only means more misses, never a stale answer.

A run's output depends on the other files of the run (a base's notes name the configs inheriting it, a
config's fix on its bases' fixes in the same run), so the entry is per run: what it printed, in order, and
its exit code. Only runs that wrote nothing are stored (``--dry-run``, ``--diff``, ``check``, a write run that
changed nothing), never an error (exit 2) or an interrupt. The cache lives in ``.autofix_cache/`` in the
project root (the folder of the nearest pyproject.toml, else the working directory); ``--no-cache`` or
``AUTOFIX_NO_CACHE=1`` bypasses it. Entries are written atomically; one that cannot be read is a miss, and a
cache that cannot be written is left alone: a cache never fails a run.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TextIO

from autofix import __version__, environment
from autofix.files import FileError, display_path, find_python_files, read_source
from autofix.mmconfig import direct_bases, may_inherit

FOLDER_NAME = ".autofix_cache"
DISABLE_VARIABLE = "AUTOFIX_NO_CACHE"
# Bounded: the least recently used entries go beyond this many; a bigger entry (a huge diff) is not stored.
MAX_ENTRIES = 256
MAX_ENTRY_BYTES = 16 * 2**20
# What rich decides colour, width and terminal features by.
PRESENTATION_VARIABLES = ("NO_COLOR", "FORCE_COLOR", "TERM", "COLORTERM", "COLUMNS", "LINES", "CI",
                          "TTY_COMPATIBLE", "TTY_INTERACTIVE")
# Libraries whose upgrade changes what a run finds (where they are installed, and when that changed).
LIBRARIES = ("libcst", "mmengine", "mmcv", "mmdet", "pathspec", "rich")
PACKAGE = Path(__file__).resolve().parent


class Uncacheable(Exception):
    """An input of the run that the cache cannot see whole: the run goes on uncached."""


def enabled(no_cache: bool) -> bool:
    return not no_cache and os.environ.get(DISABLE_VARIABLE, "") in ("", "0")


def project_root(start: Path) -> Path:
    """The folder of the nearest pyproject.toml at ``start`` or above it, else ``start``."""
    return next((folder for folder in (start, *start.parents) if (folder / "pyproject.toml").is_file()), start)


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode("ascii")).hexdigest()


def _bytes_or_none(path: Path) -> bytes | None:
    try:
        return read_source(path)
    except (OSError, FileError):
        return None


class FileKeys:
    """Each file's key: the sha256 of its bytes and, along its ``_base_`` / ``read_base`` chain, of every base's.
    Uncacheable: a base only mmengine can find. A missing or broken base is part of the key as it is. Each
    file is read and parsed once, however many configs share it as a base."""

    def __init__(self) -> None:
        self._own: dict[Path, tuple[str, list[Path] | None]] = {}  # digest, direct bases (None: not all found)

    def _read(self, path: Path) -> tuple[str, list[Path] | None]:
        if path not in self._own:
            data = _bytes_or_none(path)
            bases: list[Path] | None = []
            if data is not None:
                with contextlib.suppress(UnicodeDecodeError, SyntaxError, ValueError, RecursionError, MemoryError):
                    text = data.decode("utf-8")  # one that cannot be read or parsed is the run's to report
                    if may_inherit(text):
                        found, complete = direct_bases(path, ast.parse(text))
                        bases = found if complete else None
            digest = "missing" if data is None else hashlib.sha256(data).hexdigest()
            self._own[path] = (digest, bases)
        return self._own[path]

    def key(self, path: Path) -> str:
        digest = hashlib.sha256()
        pending, seen = [Path(os.path.abspath(path))], set()
        while pending:
            current = pending.pop()
            if current in seen:
                continue  # a circular chain is the run's to report
            seen.add(current)
            own, bases = self._read(current)
            if bases is None:
                raise Uncacheable(f"{current}: a base found only by mmengine")
            digest.update(f"{current}\0{own}\0".encode("utf-8", "surrogateescape"))
            pending.extend(bases)
        return digest.hexdigest()


def _stamp(path: str | os.PathLike[str]) -> list[Any]:
    try:
        status = os.stat(path)
    except OSError:
        return [str(path), None]
    return [str(path), status.st_size, status.st_mtime_ns]


def _autofix_itself() -> list[Any]:
    """The version, and every file of the package: a checkout's edits change results without a new version."""
    stamps = [__version__, sys.version, sys.prefix]
    for folder, dirs, files in os.walk(PACKAGE):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        stamps += [_stamp(os.path.join(folder, name)) for name in sorted(files) if name.endswith((".py", ".json"))]
    for name in LIBRARIES:  # where each library is and when it was installed, without importing it
        spec = importlib.util.find_spec(name)
        stamps.append(_stamp(spec.origin) if spec is not None and spec.origin else [name, None])
    return stamps


def _training_environment(python: str | None) -> list[Any]:
    """The training environment as a run resolves it, and when its packages last changed."""
    training = environment.find_training_environment(python, os.environ)  # ValueError: the run says why
    if training is None:
        return [None]
    prefix = training.folder or training.python.parent.parent
    installed = sorted([*prefix.glob("lib/python*/site-packages"), *prefix.glob("Lib/site-packages")])
    return [str(training), *(_stamp(folder) for folder in installed)]


def _pyprojects(start: Path) -> list[Any]:
    """Every pyproject.toml a run may read its settings from, as bytes' digests."""
    found = []
    for folder in (start, *start.parents):
        data = _bytes_or_none(folder / "pyproject.toml")
        if data is not None:
            found.append([str(folder), hashlib.sha256(data).hexdigest()])
    return found


def _presentation() -> list[Any]:
    """What the output looks like depends on: terminals, their size, and rich's variables."""
    terminals = [stream.isatty() for stream in (sys.stdout, sys.stderr)]
    size = list(shutil.get_terminal_size()) if any(terminals) else None
    return [terminals, size, {name: os.environ.get(name) for name in PRESENTATION_VARIABLES}]


class Run:
    """A run's place in the cache: its key, and the files its output may come from (as shown)."""

    def __init__(self, folder: Path, key: str, shown: list[str]) -> None:
        self.folder = folder
        self.key = key
        self.shown = shown

    @property
    def entry_path(self) -> Path:
        return self.folder / f"{self.key}.json"

    def stored(self) -> dict[str, Any] | None:
        """The entry of an earlier identical run, or None (none, or unreadable)."""
        try:
            entry = json.loads(self.entry_path.read_text(encoding="utf-8"))
            chunks = [(stream, text) for stream, text in entry["output"]]
            exit_code = entry["exit_code"]
        except (OSError, ValueError, TypeError, KeyError):
            return None
        if exit_code not in (0, 1) or not all(stream in ("stdout", "stderr") and isinstance(text, str)
                                               for stream, text in chunks):
            return None
        with contextlib.suppress(OSError, ValueError):
            os.utime(self.entry_path)  # recently used: pruned last
        return {"output": chunks, "exit_code": exit_code}

    def record(self) -> Recording:
        return Recording(self)

    def store(self, output: list[tuple[str, str]], exit_code: int) -> None:
        # ASCII: what a run printed may hold any character, a lone surrogate (an undecodable file name) included
        text = json.dumps({"autofix": __version__, "output": output, "exit_code": exit_code})
        if len(text) > MAX_ENTRY_BYTES:
            return
        with contextlib.suppress(OSError, ValueError):
            self.folder.mkdir(exist_ok=True)
            ignore = self.folder / ".gitignore"
            if not ignore.exists():
                ignore.write_text("# Made by autofix: its cache is never committed.\n*\n", encoding="utf-8")
            handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".", suffix=".tmp")
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as stream:
                    stream.write(text)
                os.replace(temporary, self.entry_path)
            finally:
                if os.path.exists(temporary):
                    os.unlink(temporary)
            self._prune()

    def _prune(self) -> None:
        entries = [entry for entry in os.scandir(self.folder) if entry.name.endswith(".json")]
        if len(entries) <= MAX_ENTRIES:
            return
        entries.sort(key=lambda entry: entry.stat().st_mtime_ns)
        for entry in entries[: len(entries) - MAX_ENTRIES]:
            with contextlib.suppress(OSError, ValueError):
                os.unlink(entry.path)


def look_up(command: str, settings: Mapping[str, Any], paths: Iterable[Path], exclude: list[str],
            python: str | None) -> Run | None:
    """The run's key and place in the cache; None when it cannot be cached (an input it cannot see whole)."""
    paths = list(paths)
    cwd = Path.cwd()
    try:
        files, missing = find_python_files(paths, exclude)  # as the run walks, bar pyproject.toml's exclude
        if missing or not files:
            return None  # the run reports them
        keys = FileKeys()
        file_keys = [(display_path(path), keys.key(path)) for path in files]
        key = _digest({
            "autofix": _autofix_itself(),
            "command": command,
            "settings": settings,
            "paths": [str(path) for path in paths],
            "cwd": str(cwd),
            "pyproject": _pyprojects(cwd),
            "training": _training_environment(python),
            "presentation": _presentation(),
            "files": file_keys,
        })
    except (Uncacheable, ValueError, OSError):
        return None
    return Run(project_root(cwd) / FOLDER_NAME, key, [shown for shown, _ in file_keys])


def replay(entry: Mapping[str, Any]) -> int:
    """Print a stored run's output as it was printed (stream by stream, in order); its exit code."""
    streams = {"stdout": sys.stdout, "stderr": sys.stderr}
    for stream, text in entry["output"]:
        streams[stream].write(text)
        streams[stream].flush()
    return int(entry["exit_code"])


class _Tee:
    """A standard stream that also keeps what is written to it, in order with the other stream's."""

    def __init__(self, stream: TextIO, name: str, output: list[tuple[str, str]]) -> None:
        self._stream = stream
        self._name = name
        self._output = output

    def write(self, text: str) -> int:
        if self._output and self._output[-1][0] == self._name:
            self._output[-1] = (self._name, self._output[-1][1] + text)
        else:
            self._output.append((self._name, text))
        return self._stream.write(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:  # isatty, flush, encoding, fileno...: the stream's own
        return getattr(self._stream, name)


class Recording:
    """A cache miss: what the run prints is kept, and stored when the run ends if it may be replayed."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.output: list[tuple[str, str]] = []
        self.replayable = False
        self._streams = (sys.stdout, sys.stderr)
        sys.stdout = _Tee(sys.stdout, "stdout", self.output)  # type: ignore[assignment]
        sys.stderr = _Tee(sys.stderr, "stderr", self.output)  # type: ignore[assignment]

    def ran(self, shown: Iterable[str], wrote: bool, drew_progress: bool) -> None:
        """What the run did: only a run over the files of the key that wrote nothing and drew no progress bar
        (a terminal's animation) may be replayed. A rule's flag that adds an installed library's file
        (``--mmcv``) adds a file the key lacks."""
        self.replayable = not wrote and not drew_progress and set(shown) <= set(self.run.shown)

    def finish(self, exit_code: int | None) -> None:
        """The streams given back; the output stored for a run that finished with 0 or 1 (None: it did not)."""
        sys.stdout, sys.stderr = self._streams
        if self.replayable and exit_code in (0, 1):
            self.run.store(self.output, exit_code)
