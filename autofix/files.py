"""Finding, decoding and safely replacing Python files. Nothing here knows about transforms."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import tempfile
import tokenize
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pathspec

_SKIPPED_DIRS = {"__pycache__", "node_modules", "site-packages"}
TEMP_SUFFIX = ".autofix-tmp"


class FileError(Exception):
    """A problem with one file, worded for the user: what is wrong and what to do."""


@dataclass(frozen=True)
class DecodedSource:
    """A file's text plus what is needed to write it back byte for byte."""

    text: str
    encoding: str
    bom: bool

    def encode(self, text: str) -> bytes:
        data = text.encode(self.encoding)
        return b"\xef\xbb\xbf" + data if self.bom else data


def decode_source(data: bytes) -> DecodedSource:
    """Decode as Python does (BOM, PEP 263 cookie, else UTF-8); newlines are left untouched."""
    if b"\0" in data:
        raise FileError("binary data (NUL bytes), not Python source; exclude it")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        raise FileError(f"not UTF-8 and no usable coding cookie ({exc}); declare its encoding (PEP 263)") from None
    bom = encoding == "utf-8-sig"
    body = data[3:] if bom else data
    codec = "utf-8" if bom else encoding
    try:
        return DecodedSource(body.decode(codec), codec, bom)
    except (UnicodeDecodeError, LookupError) as exc:
        raise FileError(f"not valid {codec} ({exc}); declare its encoding (PEP 263)") from None


def _is_virtualenv(folder: Path) -> bool:
    return (folder / "pyvenv.cfg").is_file()


def _git_ignored(folder: Path) -> tuple[set[str], set[str]]:
    """The untracked files and folders under ``folder`` that git ignores, relative to it (folders end in "/").

    One ``git ls-files`` call; git names a wholly ignored folder once, so the walk can prune it.
    Nothing is ignored outside a git work tree, or when ``folder`` itself is ignored (it was asked for).
    """

    def git(*args: str) -> subprocess.CompletedProcess[bytes] | None:
        try:
            return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, check=False)
        except OSError:  # git is not installed
            return None

    itself = git("check-ignore", "-q", ".")
    if itself is None or itself.returncode != 1:  # 0: the folder is ignored; 128: not a work tree
        return set(), set()
    listed = git("ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory")
    if listed is None or listed.returncode != 0:
        return set(), set()
    entries = [e.decode("utf-8", "surrogateescape") for e in listed.stdout.split(b"\0") if e]
    return {e for e in entries if not e.endswith("/")}, {e for e in entries if e.endswith("/")}


def _walk_python_files(folder: Path, excluded: Callable[[str], bool]) -> Iterable[Path]:
    """``*.py`` under ``folder``; ``excluded`` gets paths relative to it, folders with a trailing "/"."""
    for root, dirs, files in os.walk(folder):
        root_path = Path(root)
        relative = root_path.relative_to(folder).as_posix()
        prefix = "" if relative == "." else relative + "/"
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".")
            and d not in _SKIPPED_DIRS
            and not _is_virtualenv(root_path / d)
            and not excluded(f"{prefix}{d}/")
        )
        for name in files:
            if name.endswith(".py") and not excluded(prefix + name):
                yield root_path / name


def _exclusion(folder: Path, exclude: Sequence[str]) -> Callable[[str], bool]:
    """Whether a path relative to ``folder`` is skipped: an ``exclude`` pattern (gitignore-style) or .gitignore."""
    patterns = pathspec.GitIgnoreSpec.from_lines(exclude)
    ignored_files, ignored_dirs = _git_ignored(folder)
    return lambda relative: relative in ignored_files or relative in ignored_dirs or patterns.match_file(relative)


def find_python_files(
    paths: Iterable[Path], exclude: Sequence[str] = ()
) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Expand files and folders (recursively, ``*.py``) into a sorted, duplicate-free list.

    In folders, hidden folders, ``__pycache__``, virtual envs, what git ignores and what matches an
    ``exclude`` pattern (gitignore-style, relative to the folder) are skipped; files named
    explicitly are always taken. Returns the files and, separately, the given paths that do not exist.
    """
    found: dict[str, Path] = {}
    missing: list[tuple[Path, str]] = []
    for path in paths:
        if path.is_dir():
            candidates: Iterable[Path] = _walk_python_files(path, _exclusion(path, exclude))
        elif path.is_file():
            candidates = [path]
        else:
            missing.append((path, "no such file or folder"))
            continue
        for candidate in candidates:
            found.setdefault(os.path.normpath(candidate), candidate)
    return [found[key] for key in sorted(found)], missing


def display_path(path: Path) -> str:
    """The path as diffs and messages show it: relative to the working directory when inside it."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return absolute.as_posix()


def replace_atomically(path: Path, data: bytes, original: bytes) -> None:
    """Replace the file's bytes with ``data`` via a temp file in the same folder and a rename.

    Writes through symlinks to their target, keeps the permission bits, and refuses when the
    file is read-only or no longer holds ``original`` (someone changed it since it was read).
    """
    target = path.resolve()
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
        if not mode & stat.S_IWUSR:
            raise FileError("file is read-only; make it writable (chmod u+w) to fix it")
        if target.read_bytes() != original:
            raise FileError("file changed while autofix was running; run autofix again")
        fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TEMP_SUFFIX, dir=target.parent)
    except OSError as exc:
        raise FileError(f"cannot write: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as temp:
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        os.chmod(temp_name, mode)
        os.replace(temp_name, target)
    except BaseException as exc:
        Path(temp_name).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise FileError(f"cannot write: {exc.strerror}") from None
        raise
