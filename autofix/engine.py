"""find files -> read -> transform -> diff -> write. Knows nothing of any one transform."""

from __future__ import annotations

import ast

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import libcst as cst

from autofix.diffs import unified_diff
from autofix.filekind import detect_kind
from autofix.files import FileError, decode_source, display_path, find_python_files, replace_atomically
from autofix.transform import FileKind, Transform, TransformContext


@dataclass(frozen=True)
class Rewrite:
    """The outcome of running transforms over one text."""

    text: str
    applied: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass
class FileResult:
    shown: str
    status: str  # "changed", "unchanged" or "error"
    diff: str = ""
    applied: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    error: str = ""
    written: bool = False


@dataclass
class RunReport:
    results: list[FileResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)


def _check_syntax(text: str) -> None:
    """CPython's own parser: ~10x cheaper than libcst for a file no transform needs."""
    try:
        ast.parse(text)
    except SyntaxError as exc:
        raise FileError(f"syntax error at line {exc.lineno}: {exc.msg}; fix it or exclude the file") from None
    except (RecursionError, MemoryError):
        raise FileError("expressions nested too deeply to parse; exclude the file") from None


def rewrite_source(
    text: str,
    transforms: Sequence[Transform],
    options: Mapping[str, Any] | None = None,
    kind: FileKind | None = None,
    resolved_config: Callable[[], Mapping[str, Any] | None] = lambda: None,
) -> Rewrite:
    """Parse once, run every selected transform whose prefilter matches, and return the new text.

    Raises ``FileError`` for text that is not valid Python.
    """
    candidates = [t for t in transforms if t.may_apply(text)]
    if not candidates:
        _check_syntax(text)  # errors are reported even where nothing would change
        return Rewrite(text)
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError as exc:
        raise FileError(f"syntax error at line {exc.raw_line}: {exc.message}; fix it or exclude the file") from None
    except RecursionError:
        raise FileError("expressions nested too deeply to parse; exclude the file") from None
    # libcst drops a final lone "\r"; anything else it cannot reproduce must not be written back.
    round_trip = module.code
    if round_trip != text and not (text.startswith(round_trip) and text[len(round_trip):].isspace()):
        raise FileError("libcst cannot reproduce this file byte for byte, so it is left alone; please report it")
    lost_tail = text[len(round_trip):]
    context = TransformContext(
        kind=kind or detect_kind(text), options=options or {}, resolved_config=resolved_config
    )
    applied: list[str] = []
    code = round_trip
    for transform in candidates:
        module = transform.transform(module, context)
        new_code = module.code
        if new_code != code:
            applied.append(transform.id)
            code = new_code
    return Rewrite(code + lost_tail, tuple(applied), tuple(context.notes))


def process_file(
    path: Path, transforms: Sequence[Transform], options: Mapping[str, Any], write: bool
) -> FileResult:
    shown = display_path(path)
    try:
        original = path.read_bytes()
        source = decode_source(original)
        rewrite = rewrite_source(source.text, transforms, options)
        if rewrite.text == source.text:
            return FileResult(shown, "unchanged")
        result = FileResult(
            shown,
            "changed",
            diff=unified_diff(source.text, rewrite.text, shown),
            applied=rewrite.applied,
            notes=rewrite.notes,
        )
        if write:
            replace_atomically(path, source.encode(rewrite.text), original)
            result.written = True
        return result
    except FileError as exc:
        return FileResult(shown, "error", error=str(exc))
    except OSError as exc:
        return FileResult(shown, "error", error=f"cannot read: {exc.strerror}")
    except RecursionError:
        return FileResult(shown, "error", error="expressions nested too deeply to transform; exclude the file")


def run(
    paths: Iterable[Path], transforms: Sequence[Transform], options: Mapping[str, Any], write: bool
) -> RunReport:
    files, missing = find_python_files(paths)
    report = RunReport([FileResult(display_path(p), "error", error=why) for p, why in missing])
    report.results.extend(process_file(path, transforms, options, write) for path in files)
    return report
