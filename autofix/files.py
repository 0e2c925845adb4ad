"""Finding, decoding and safely replacing Python files. Nothing here knows about transforms."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import stat
import subprocess
import tempfile
import threading
import tokenize
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

_SKIPPED_DIRS = {"__pycache__", "node_modules", "site-packages"}
TEMP_SUFFIX = ".autofix-tmp"
# libcst needs ~30 s and ~0.8 GB per MiB of source (5 MB: 200 s, 3.5 GB); no hand-written
# config or model file comes near this, so anything larger is refused, not ground through.
MAX_SOURCE_BYTES = 1024 * 1024
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


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


def read_source(path: Path) -> bytes:
    """The file's bytes, refusing (before reading them) files too large to transform.

    A FIFO or device named ``*.py`` is refused too: reading it could block or never end.
    """
    status = path.stat()
    if not stat.S_ISREG(status.st_mode):
        raise FileError("not a regular file (a FIFO, socket or device); exclude it")
    size = status.st_size
    if size > MAX_SOURCE_BYTES:
        raise FileError(
            f"file is {size / 1e6:.1f} MB, over the {MAX_SOURCE_BYTES // 1024} KiB limit for source files; exclude it"
        )
    return path.read_bytes()


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
    import pathspec  # only folder walks match patterns: a run on named files skips its import

    patterns = pathspec.GitIgnoreSpec.from_lines(exclude)
    ignored_files, ignored_dirs = _git_ignored(folder)
    return lambda relative: relative in ignored_files or relative in ignored_dirs or patterns.match_file(relative)


def find_python_files(
    paths: Iterable[Path], exclude: Sequence[str] = ()
) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Expand files and folders (recursively, ``*.py``) into a sorted, duplicate-free list.

    In folders, hidden folders, ``__pycache__``, virtual envs, what git ignores and what matches an
    ``exclude`` pattern (gitignore-style, relative to the folder) are skipped; files named
    explicitly are always taken. Paths that lead to one file (symlinks to it, or a link and its
    target) count once, under the name that sorts first, so the file is read, shown and written
    once. Returns the files and, separately, the given paths that do not exist.
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
    by_real_path: dict[str, Path] = {}
    for key in sorted(found):
        by_real_path.setdefault(os.path.realpath(found[key]), found[key])
    return list(by_real_path.values()), missing


def display_path(path: Path) -> str:
    """The path as diffs and messages show it: relative to the working directory when inside it."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return absolute.as_posix()


@contextlib.contextmanager
def stop_signals_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM while the block runs, then act on them as their handlers would.

    A stop that lands between creating the temp file and the rename (or in the cleanup after
    a failed write) would otherwise leave a temp file behind. Handlers can only be swapped in
    the main thread; elsewhere the block runs unguarded.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {}
    for signum in _STOP_SIGNALS:
        handler = signal.getsignal(signum)
        if handler is not None and handler != signal.SIG_IGN:  # None: set outside Python; leave it
            previous[signum] = signal.signal(signum, lambda number, frame: received.append(number))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(received):
            signal.raise_signal(signum)  # the restored handler runs now: KeyboardInterrupt, exit...


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable; some file systems cannot fsync a folder, which is fine."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def replace_atomically(path: Path, data: bytes, original: bytes) -> None:
    """Replace the file's bytes with ``data`` via a temp file in the same folder, fsync and a rename.

    Writes through symlinks to their target, keeps the permission bits and (where allowed) the
    owner, and refuses when the file is read-only or no longer holds ``original`` (someone
    changed it since it was read). SIGINT/SIGTERM wait until the file is whole again.
    """
    target = path.resolve()
    with stop_signals_deferred():
        try:
            status = target.stat()
            mode = stat.S_IMODE(status.st_mode)
            if not mode & stat.S_IWUSR:
                raise FileError("file is read-only; make it writable (chmod u+w) to fix it")
            fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TEMP_SUFFIX, dir=target.parent)
        except OSError as exc:
            raise FileError(f"cannot write: {exc.strerror}") from None
        try:
            with os.fdopen(fd, "wb") as temp:
                temp.write(data)
                temp.flush()
                os.fsync(temp.fileno())
            os.chmod(temp_name, mode)
            with contextlib.suppress(PermissionError):  # only root may give a file to someone else
                os.chown(temp_name, status.st_uid, status.st_gid)
            # Compared as late as possible: an edit made while the temp file was written counts too.
            if target.read_bytes() != original:
                raise FileError("file changed while autofix was running; run autofix again")
            os.replace(temp_name, target)
        except BaseException as exc:
            Path(temp_name).unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise FileError(f"cannot write: {exc.strerror}") from None
            raise
        _fsync_folder(target.parent)
