"""What runs when and where: the inheritance graph, its levels, and the process pool that takes a level's files."""

from __future__ import annotations

import ast
import multiprocessing
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from autofix.files import FileError, read_source
from autofix.mmconfig import FileLoadCache, direct_bases, may_inherit
from autofix.rule import Rule

if TYPE_CHECKING:
    from autofix.engine.pipeline import _Planned

# A process pool is started for at least this many files to plan, or candidate files to transform.
# Measured on 2 cores: a forked pool of 2 starts in ~0.05 s, a spawned one in ~1.4 s (each worker
# imports autofix, libcst and typer); planning a file (read, syntax check) costs ~0.5 ms and a
# candidate file ~10-50 ms (parse, transform, resolve with mmengine).
POOL_MIN_FILES_FORKED, POOL_MIN_CANDIDATES_FORKED = 256, 16
POOL_MIN_FILES_SPAWNED, POOL_MIN_CANDIDATES_SPAWNED = 4096, 256


class Inheritance:
    """The ``_base_`` / ``read_base`` graph of a run's files (and the files outside it that they inherit)."""

    def __init__(self, texts: Mapping[str, str], bases: Mapping[str, tuple[list[str], bool]]) -> None:
        self.texts = dict(texts)  # absolute path -> text: this run's files, then the bases read from disk
        self._bases = dict(bases)  # absolute path -> (direct bases, whether that list is complete)
        self._ancestors: dict[str, tuple[list[str], bool]] = {}

    def text(self, key: str) -> str | None:
        if key not in self.texts:
            try:  # read_source: never a FIFO (reading one would hang the run) nor a huge file
                self.texts[key] = read_source(Path(key)).decode("utf-8")
            except (OSError, UnicodeDecodeError, FileError):
                return None
        return self.texts[key]

    def bases(self, key: str) -> tuple[list[str], bool]:
        if key not in self._bases:
            text = self.text(key)
            if text is None:
                return [], False
            try:
                self._bases[key] = direct_base_keys(Path(key), ast.parse(text)) if may_inherit(text) else ([], True)
            except SyntaxError:
                return [], False
        return self._bases[key]

    def ancestors(self, key: str) -> tuple[list[str], bool]:
        """Every file ``key`` inherits from, nearest first, and whether all of them could be read."""
        if key not in self._ancestors:
            self._ancestors[key] = ([], True)  # a circular _base_ is mmengine's error to report, not a hang
            found: list[str] = []
            bases, complete = self.bases(key)
            for base in bases:
                complete = complete and self.text(base) is not None
                inherited, inherited_complete = self.ancestors(base)
                complete = complete and inherited_complete
                for path in (base, *inherited):
                    if path not in found and path != key:
                        found.append(path)
            self._ancestors[key] = (found, complete)
        return self._ancestors[key]


def direct_base_keys(path: Path, tree: ast.Module) -> tuple[list[str], bool]:
    found, complete = direct_bases(path, tree)
    return [str(base) for base in found], complete


def passes_chain_prefilter(
    transform: Rule, key: str, graph: Inheritance, fixed: Mapping[str, str]
) -> bool:
    """A config transform's chain markers appear in the file or a file it inherits (as read, or as fixed).

    True when the inheritance chain cannot be read in full: mmengine will then say what is wrong.
    """
    if not transform.chain_prefilter:
        return True
    ancestors, complete = graph.ancestors(key)
    if not complete:
        return True
    texts = [graph.text(key) or "", *(graph.text(a) or "" for a in ancestors), *(fixed[a] for a in ancestors if a in fixed)]
    return any(marker in text for text in texts for marker in transform.chain_prefilter)


def _pool_size(jobs: int, files: int, candidates: int) -> int:
    """Worker processes worth starting for this many files to plan or candidate files to examine (1: none)."""
    if multiprocessing.get_start_method() == "fork":
        min_files, min_candidates = POOL_MIN_FILES_FORKED, POOL_MIN_CANDIDATES_FORKED
    else:
        min_files, min_candidates = POOL_MIN_FILES_SPAWNED, POOL_MIN_CANDIDATES_SPAWNED
    # Each worker gets at least half a minimum's worth: fewer would idle while others start up.
    if files < min_files and candidates < min_candidates:
        return 1
    return max(1, min(jobs, max(files * 2 // min_files, candidates * 2 // min_candidates)))


def levels(planned: Mapping[str, _Planned], graph: Inheritance) -> list[list[str]]:
    """The planned files grouped so that each file's planned ancestors are all in earlier groups."""
    depth: dict[str, int] = {}

    def level_of(key: str) -> int:
        if key not in depth:
            depth[key] = 0  # guards a circular _base_
            ancestors, _ = graph.ancestors(key)
            depth[key] = 1 + max((level_of(a) for a in ancestors if a in planned), default=-1)
        return depth[key]

    groups: dict[int, list[str]] = {}
    for key in sorted(planned):
        groups.setdefault(level_of(key), []).append(key)
    return [groups[level] for level in sorted(groups)]


# The mmengine load cache of the process examining files: the run's in this process, a pool worker's own in each worker.
_load_cache = FileLoadCache()


def load_cache() -> FileLoadCache:
    return _load_cache


def _new_load_cache() -> None:
    global _load_cache
    _load_cache = FileLoadCache()


Item = TypeVar("Item")
Result = TypeVar("Result")


class Workers:
    """Where a run's files are planned and examined: a process pool, started once it pays, or this process."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self.pool: Any = None
        self.size = 1
        _new_load_cache()  # for the files examined in this process

    def start_for(self, files: int, candidates: int) -> None:
        size = _pool_size(self.jobs, files, candidates)
        if self.pool is None and size > 1:
            self.pool = multiprocessing.Pool(size, initializer=_new_load_cache)
            self.size = size

    def map(
        self, function: Callable[[Item], Result], items: Sequence[Item], chunks_per_worker: int
    ) -> Iterable[Result]:
        """``function`` over ``items``, results in order; a worker takes runs of neighbouring items."""
        if self.pool is None:
            return map(function, items)
        chunk = max(1, -(-len(items) // (self.size * chunks_per_worker)))
        return self.pool.imap(function, items, chunksize=chunk)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.terminate()
