"""What runs when and where: the inheritance graph, its levels, and the process pool that takes a level's files."""

from __future__ import annotations

import ast
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as ResultTimeout  # not the builtin before Python 3.11
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.sharedctypes import RawArray
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from autofix import environment
from autofix.files import FileError, read_source, stop_signals_deferred
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


# How often a wait for a worker's results checks that no worker died unnoticed (see _unstick_result_reader),
# and how often it tells the items the workers have finished.
_STUCK_CHECK_S = 1.0
_PROGRESS_POLL_S = 0.1

# The most chunks a map hands out per worker: each chunk has a slot counting its finished items.
MAX_CHUNKS_PER_WORKER = 8

# What a file whose worker died before returning it is reported as.
WORKER_DIED = "a worker process died while processing it (killed, or out of memory?); run again with --jobs 1"

# The mmengine load cache of the process examining files: the run's here, each pool worker's own there.
_load_cache = FileLoadCache()


def load_cache() -> FileLoadCache:
    return _load_cache


def _new_load_cache() -> None:
    global _load_cache
    _load_cache = FileLoadCache()


# In a pool worker: the pool's per-chunk counts of finished items (shared memory, one writer per slot,
# so no lock a dying worker could leave held).
_finished_in_chunk: Any = None


def _start_worker(training: environment.TrainingEnvironment | None, finished_in_chunk: Any) -> None:
    global _finished_in_chunk
    _finished_in_chunk = finished_in_chunk
    if environment.chosen() != training:  # a spawned worker has not seen --python (a forked one keeps the answers)
        environment.use(training)
    # A forked worker inherits the CLI's SIGTERM handler and Python's SIGINT one, which would raise
    # (and print a traceback) wherever the worker happens to be; the parent alone stops the run in
    # order, and ends the workers itself.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _new_load_cache()


Item = TypeVar("Item")
Result = TypeVar("Result")


def _run_chunk(function: Callable[[Item], Result], items: Sequence[Item], slot: int) -> list[Result]:
    results = []
    for item in items:
        results.append(function(item))
        _finished_in_chunk[slot] += 1  # read by the parent while it waits: progress within the chunk
    return results


class Workers:
    """Where a run's files are planned and examined: a process pool, started once it pays, or this process.

    A worker that dies (killed, out of memory, a crash in native code) costs the items it had not
    returned, never the run: they come back as ``lost(item)`` and the next ``map`` gets a new pool.
    """

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self.pool: ProcessPoolExecutor | None = None
        self.size = 1
        self.broken = False
        self.finished_in_chunk: Any = None
        _new_load_cache()  # for the files examined in this process

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, error_type: type[BaseException] | None, *_: object) -> None:
        if self.pool is None:
            return
        if error_type is not None:  # Ctrl-C, SIGTERM or a bug: what the workers are doing is not wanted
            self._kill_workers()
            self._unstick_result_reader()
        # A stop landing inside shutdown would leave live workers for the interpreter's exit to wait on.
        with stop_signals_deferred():
            self.pool.shutdown(wait=True, cancel_futures=True)

    def start_for(self, files: int, candidates: int) -> None:
        size = _pool_size(self.jobs, files, candidates)
        if self.pool is None and size > 1:
            self.size = size
            self.pool = self._new_pool()

    def map(
        self,
        function: Callable[[Item], Result],
        items: Sequence[Item],
        *,
        chunks_per_worker: int,
        lost: Callable[[Item], Result],
        finished: Callable[[int], None] | None = None,
    ) -> Iterator[Result]:
        """``function`` over ``items``, results in order; a worker takes runs of neighbouring items.

        ``lost(item)`` stands for the result of an item whose worker died before returning it.
        ``finished(count)`` is told how many items are done, in any worker, as they finish.
        """
        told = finished or (lambda count: None)
        if self.pool is None:
            for count, item in enumerate(items, 1):
                result = function(item)
                told(count)
                yield result
            return
        assert chunks_per_worker <= MAX_CHUNKS_PER_WORKER
        if self.broken:
            self.pool.shutdown(wait=True)
            self.pool, self.broken = self._new_pool(), False
        size = max(1, -(-len(items) // (self.size * chunks_per_worker)))
        chunks = [items[start:start + size] for start in range(0, len(items), size)]
        counts = self.finished_in_chunk
        counts[:len(chunks)] = [0] * len(chunks)
        # Workers start here: a stop must not land inside the executor's bookkeeping (a forked worker
        # it never recorded would outlive the run), nor in a worker before _start_worker resets its handlers.
        with stop_signals_deferred():
            futures = [self._submit(function, chunk, slot) for slot, chunk in enumerate(chunks)]
        returned = 0  # items of the chunks already yielded (a lost chunk's items too)
        for slot, (chunk, future) in enumerate(zip(chunks, futures)):
            try:
                results = self._result(future, lambda: told(returned + sum(counts[slot:len(chunks)])))
            except BrokenProcessPool:
                self.broken = True
                results = [lost(item) for item in chunk]
            returned += len(chunk)
            told(returned + sum(counts[slot + 1:len(chunks)]))
            yield from results

    def _result(self, future: Future[list[Result]], waiting: Callable[[], None]) -> list[Result]:
        checked = time.monotonic()
        while True:
            try:
                return future.result(timeout=_PROGRESS_POLL_S)
            except ResultTimeout:
                waiting()
                if time.monotonic() - checked < _STUCK_CHECK_S:
                    continue
                checked = time.monotonic()
                if any(process.exitcode is not None for process in list((self.pool._processes or {}).values())):
                    self._unstick_result_reader()  # a dead worker the pool has not noticed: see there

    def _new_pool(self) -> ProcessPoolExecutor:
        self.finished_in_chunk = RawArray("q", self.size * MAX_CHUNKS_PER_WORKER)
        return ProcessPoolExecutor(self.size, initializer=_start_worker,
                                   initargs=(environment.chosen(), self.finished_in_chunk))

    def _submit(self, function: Callable[[Item], Result], chunk: Sequence[Item], slot: int) -> Future[list[Result]]:
        try:
            return self.pool.submit(_run_chunk, function, chunk, slot)
        except BrokenProcessPool as exc:  # a worker died while the chunks were being handed out
            future: Future[list[Result]] = Future()
            future.set_exception(exc)
            return future

    def _unstick_result_reader(self) -> None:
        """End the pool's manager thread when a worker died halfway through sending a result.

        CPython's ProcessPoolExecutor then waits forever for the rest of that result: the result pipe
        is shared, and this process holds a writer, so no end of file ever comes (the run would hang
        in the pool's shutdown, or at exit joining the thread). Bytes written into the pipe complete
        the message as garbage, which the manager thread cannot unpickle: it declares the pool broken,
        ends the other workers and stops. Reproduced by killing a worker 0.9 s into sending 600 MB.
        """
        manager = self.pool._executor_manager_thread
        writer = self.pool._result_queue._writer.fileno()
        os.set_blocking(writer, False)
        garbage = bytes(1 << 20)
        while manager is not None and manager.is_alive():
            try:
                os.write(writer, garbage)
            except BlockingIOError:  # the pipe is full: the reader is behind, or done with the message
                manager.join(0.001)

    def _kill_workers(self) -> None:
        # Workers only read files, so killing one loses nothing; ProcessPoolExecutor has no public
        # way to end them before Python 3.14, and shutdown() would wait for their chunks to finish.
        for process in list((self.pool._processes or {}).values()):
            process.kill()
