"""From a training log or a pasted traceback to the known crash it shows, and its fix.

A crash is recognised by its ``LogSignature``: the error message, and, where the log shows the
traceback around that message, a frame in the function it is raised from. Logs come in any shape:
ANSI colours, mmengine or ``[rank0]:`` line prefixes, Windows or site-packages paths, prose in
any language around them, tracebacks listed innermost first (debuggers) or cut short.
"""

from __future__ import annotations

import bisect
import re
import shlex
import sys
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rich.text import Text

from autofix import environment
from autofix.crashes import CrashFix, LogSignature, Remedy
from autofix.engine import RunReport
from autofix.registry import all_transforms, crash_fixes, fix_ids

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
_RANK_PREFIX = re.compile(r"^\[(?:rank|default)\d+\]:[ \t]?", re.MULTILINE)
_FRAME = re.compile(r'File\s+"?(?P<path>[^"\n]+?)"?,\s+line\s+(?P<line>\d+)(?:,\s+in\s+(?P<function>[^\s,]+))?')
_TRACEBACK_START = re.compile(
    r"Traceback \(most recent call last\)|During handling of the above exception|The above exception was the direct cause"
)
_EXCEPTION_LINE = re.compile(r"^\s*(?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception)\s*:")
# Lines a traceback puts between two frames: the source line, `^^^^` markers, "[Previous line repeated...]".
_MOST_LINES_BETWEEN_FRAMES = 4
_LONGEST_MESSAGE = 400  # characters of a crash's message a diagnosis shows


class LogUnreadable(Exception):
    """The input is not a text log; the text says why."""


@dataclass(frozen=True)
class Frame:
    path: str
    line: int
    function: str

    def where(self) -> str:
        return f"{self.function} ({self.path}, line {self.line})"


@dataclass(frozen=True)
class Sighting:
    """One place in the log where a crash's message appears, and the traceback frames around it."""

    line: int  # 1-based line of the log
    message: str  # the log's lines holding the message, whitespace collapsed
    frames: tuple[Frame, ...]  # innermost last
    raised_in: Frame | None  # the frame that fits the signature


@dataclass(frozen=True)
class Match:
    crash: CrashFix
    sighting: Sighting
    occurrences: int


@dataclass(frozen=True)
class NearMiss:
    """Text that looks like a known crash but is not it; said so plainly, never counted as a match."""

    crash: CrashFix
    line: int
    reason: str


@dataclass
class Diagnosis:
    matches: list[Match] = field(default_factory=list)
    near_misses: list[NearMiss] = field(default_factory=list)


def read_log(source: str | None) -> tuple[str, str]:
    """The text of a log file, or of standard input for ``-``/None; and the name to show for it."""
    if source in (None, "-"):
        if sys.stdin.isatty():
            print("autofix: reading a log from standard input; end it with Ctrl-D (Ctrl-Z Enter on Windows)", file=sys.stderr)
        return decode_log(sys.stdin.buffer.read(), "standard input"), "standard input"
    try:
        data = Path(source).read_bytes()
    except FileNotFoundError:
        raise LogUnreadable(f"{source}: no such file") from None
    except IsADirectoryError:
        raise LogUnreadable(f"{source}: is a folder, not a log file") from None
    except OSError as exc:
        raise LogUnreadable(f"{source}: cannot read: {exc.strerror}") from None
    return decode_log(data, source), source


def decode_log(data: bytes, shown: str) -> str:
    """UTF-8 (or UTF-16 with a BOM, as PowerShell writes); bytes of other encodings become U+FFFD,
    which is harmless: every signature is ASCII."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16", errors="replace")
    elif b"\0" in data:
        raise LogUnreadable(f"{shown}: binary data (NUL bytes), not a text log")
    else:
        text = data.decode("utf-8", errors="replace").removeprefix("\ufeff")
    if not text.strip():
        raise LogUnreadable(f"{shown}: empty, nothing to diagnose")
    return text


def normalise(text: str) -> str:
    """Plain lines, as many as the file has: no colours, no per-rank prefixes, and of a line that
    carriage returns overwrite (progress bars) only what a terminal would show last."""
    lines = _ANSI.sub("", text).replace("\r\n", "\n").split("\n")
    return _RANK_PREFIX.sub("", "\n".join(line.rsplit("\r", 1)[-1] for line in lines))


class _Log:
    def __init__(self, text: str) -> None:
        self.text = normalise(text)
        self.lines = self.text.split("\n")
        self.starts = [0]
        for line in self.lines[:-1]:
            self.starts.append(self.starts[-1] + len(line) + 1)
        self.frames: dict[int, Frame] = {}
        for index, line in enumerate(self.lines):
            found = _FRAME.search(line)
            if found:
                self.frames[index] = Frame(found["path"].strip(), int(found["line"]), found["function"] or "?")

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset) - 1

    def frames_around(self, index: int) -> tuple[Frame, ...]:
        """The frames of the traceback this message line ends (or, debugger style, starts), innermost last."""
        before = self._walk(range(index - 1, -1, -1))
        if before:
            return tuple(reversed(before))
        return tuple(reversed(self._walk(range(index + 1, len(self.lines)))))

    def _walk(self, indexes: Iterable[int]) -> list[Frame]:
        found: list[Frame] = []
        gap = 0
        for index in indexes:
            if index in self.frames:
                found.append(self.frames[index])
                gap = 0
            elif _TRACEBACK_START.search(self.lines[index]) or _EXCEPTION_LINE.match(self.lines[index]):
                break
            else:
                gap += 1
                if gap > _MOST_LINES_BETWEEN_FRAMES:
                    break
        return found


def _sightings(log: _Log, signature: LogSignature) -> list[Sighting]:
    sightings = []
    for found in signature.message_pattern().finditer(log.text):
        index = log.line_of(found.start())
        frames = log.frames_around(index)
        raised_in = next((f for f in reversed(frames) if signature.raised_at(f.function, f.path)), None)
        end = log.text.find("\n", found.end())
        shown = log.text[log.starts[index]:end if end != -1 else None]  # the whole lines, "RuntimeError: " included
        message = " ".join(shown.split())
        if len(message) > _LONGEST_MESSAGE and "\n" in shown:  # a long one (torch's advice in between): its ends
            first, last = shown.split("\n")[0], shown.split("\n")[-1]
            opening = textwrap.shorten(first, _LONGEST_MESSAGE // 2, placeholder=" ...")
            message = f"{opening} ... {' '.join(last.split())}"
        message = textwrap.shorten(message, _LONGEST_MESSAGE, placeholder=" ...")
        sightings.append(Sighting(index + 1, message, frames, raised_in))
    return sightings


def diagnose_text(text: str) -> Diagnosis:
    """Every known crash the log shows (each once), and the look-alikes it shows instead."""
    log = _Log(text)
    diagnosis = Diagnosis()
    for crash in crash_fixes().values():
        sightings = [s for signature in crash.signatures for s in _sightings(log, signature)]
        with_frames = [s for s in sightings if s.frames]
        confirmed = [s for s in with_frames if s.raised_in is not None]
        if confirmed:
            # Prefer the exception line itself ("RuntimeError: ...") over prose quoting the message.
            best = min(confirmed, key=lambda s: (not _EXCEPTION_LINE.match(log.lines[s.line - 1]), s.line))
            diagnosis.matches.append(Match(crash, best, len(sightings)))
        elif with_frames:  # the place is visible and it is not the crash's: a different bug
            sighting = with_frames[0]
            places = " or ".join(sorted({name for sig in crash.signatures for name in sig.raised_in}))
            diagnosis.near_misses.append(NearMiss(
                crash, sighting.line,
                f"has {crash.id}'s message, but its traceback ends in {sighting.frames[-1].where()}, "
                f"not in {places}" + _advice(crash),
            ))
        elif sightings:  # only the message survived (a truncated paste): it is enough
            diagnosis.matches.append(Match(crash, sightings[0], len(sightings)))
        else:
            near = _family_only(log, crash)
            if near:
                diagnosis.near_misses.append(near)
    return diagnosis


def _family_only(log: _Log, crash: CrashFix) -> NearMiss | None:
    for signature in crash.signatures:
        family = signature.family_pattern()
        found = family.search(log.text) if family else None
        if found:
            index = log.line_of(found.start())
            excerpt = textwrap.shorten(log.lines[index].strip(), 160, placeholder=" ...")
            return NearMiss(crash, index + 1, f"resembles {crash.id} but is not it: {excerpt!r}" + _advice(crash))
    return None


def _advice(crash: CrashFix) -> str:
    return f"; {crash.lookalike_advice}" if crash.lookalike_advice else ""


# Where a log names the config it trained: its command line (tools/train.py CFG, or a configs/...py word
# outside traceback frames), else mmengine's work dir, which tools/train.py names after the config's stem
# (the `work_dir = './work_dirs/<stem>'` line of the Config: dump, "Checkpoints will be saved to ...").
_TRAIN_COMMAND = re.compile(r"\btrain\.py\s+['\"]?(?P<path>[^\s'\"]+\.py)\b")
_CONFIGS_WORD = re.compile(r"(?<![^\s'\"=(])(?P<path>(?:[^\s'\"]*/)?configs/[^\s'\"]+\.py)\b")
_WORK_DIR = re.compile(r"\bwork_dirs/(?P<stem>[^\s'\"/]+)")


def config_named_in_log(text: str, root: Path | None = None) -> str | None:
    """The config a training log names, as a path from ``root`` (the working directory) where it is there;
    else as the log names it. None when the log names none."""
    lines = [line for line in normalise(text).splitlines() if not _FRAME.search(line)]
    for pattern in (_TRAIN_COMMAND, _CONFIGS_WORD):
        for line in lines:
            found = pattern.search(line)
            if found and "site-packages" not in found["path"] and ".mim/" not in found["path"]:
                return found["path"]
    for line in lines:
        found = _WORK_DIR.search(line)
        if found:
            return _config_by_stem(found["stem"].rstrip("."), root or Path.cwd())
    return None


def _config_by_stem(stem: str, root: Path) -> str:
    """``<stem>.py`` in ``root`` or under its configs/ folder (the first in path order), else the bare name."""
    folder = root / "configs"
    found = [root / f"{stem}.py", *(sorted(folder.rglob(f"{stem}.py")) if folder.is_dir() else [])]
    return next((path.relative_to(root).as_posix() for path in found if path.is_file()), f"{stem}.py")


# --- output -------------------------------------------------------------------------------------

_WIDTH = 88  # paragraphs are wrapped here; printed with soft_wrap so the terminal never re-wraps them


# Stands for the training environment's interpreter in a command that cannot find it from here.
_PYTHON_PLACEHOLDER = "PYTHON"


def _python_given() -> str:
    """``--python`` as given to diagnose, for the commands it prints: they run where no environment may be
    active (an active one the commands find again themselves)."""
    training = environment.chosen()
    return shlex.quote(str(training.python)) if training and training.origin == "--python" else ""


def remedy_command(crash: CrashFix, remedy: Remedy, path: str | None) -> tuple[str, str]:
    """The remedy's command as it works from this shell, and, when it needs the training environment's
    interpreter named (a library file its flag finds there, and neither that environment nor
    autofix's own has it), why."""
    python = _python_given()
    rule = all_transforms().get(remedy.fix)
    words = remedy.target.split()
    flags = {option.key: True for option in (rule.options if rule else ()) if option.flag and f"--{option.name}" in words}
    if flags and not python:
        try:
            rule().extra_paths(flags)
        except ValueError as exc:
            return remedy.command(crash.path_argument(path), _PYTHON_PLACEHOLDER), str(exc)
    return remedy.command(crash.path_argument(path), python), ""


def remedy_lines(crash: CrashFix, path: str | None) -> Text:
    """The remedies in the order to prefer them: what each does, its cost, and its command."""
    out = Text()
    for number, remedy in enumerate(crash.remedies, 1):
        out.append(f"  {number}. {remedy.fix}", style="bold")
        if not remedy.available(fix_ids()):
            out.append(" (not in this version of autofix yet)", style="dim")
        out.append("\n" + _wrapped(remedy.summary, "     ") + _wrapped(f"cost: {remedy.cost}", "     "))
        command, needs_python = remedy_command(crash, remedy, path)
        out.append(f"     $ {command}\n", style="cyan")
        if needs_python:
            out.append(_wrapped(f"{_PYTHON_PLACEHOLDER}: the python you train with; without it: {needs_python}", "       "),
                       style="dim")
    return out


def _wrapped(paragraph: str, indent: str = "  ") -> str:
    return textwrap.fill(paragraph, _WIDTH, initial_indent=indent, subsequent_indent=indent) + "\n"


def render_match(match: Match, log_name: str, config: str | None, named_in_log: bool = False) -> Text:
    """A recognised crash; ``config`` (given, or ``named_in_log``) goes into the commands."""
    crash, sighting = match.crash, match.sighting
    out = Text()
    out.append(f"{crash.id}", style="bold red")
    out.append(f": line {sighting.line} of {log_name}:\n")
    if named_in_log and not crash.fixed_in_a_library:
        out.append(f"  config {config}, as the log names it (--config CFG names another)\n")
    out.append(_wrapped(sighting.message, "  > "))
    if sighting.raised_in is not None:
        out.append(f"  raised in {sighting.raised_in.where()}\n")
    else:
        places = " or ".join(signature.place for signature in crash.signatures)
        out.append(f"  could not see where it was raised (no traceback frames around it); {crash.id} is raised in {places}\n")
    out.append("\nWhat happened\n", style="bold")
    out.append(_wrapped(crash.what_happened))
    out.append("\nRemedies, best first (any one is enough)\n", style="bold")
    out.append_text(remedy_lines(crash, config))
    out.append(f"\nFix it with the default remedy ({', '.join(crash.default_transforms)}):\n", style="bold")
    out.append(f"  $ {crash.command(config, _python_given())}\n", style="cyan")
    if crash.fixed_in_a_library:
        out.append("  (add --dry-run to see the diff first)\n", style="dim")
    else:
        shown = shlex.quote(config) if config else crash.path_hint
        out.append(f"  (add --dry-run to see the diff first; `autofix diagnose LOG --config {shown}` shows it too)\n",
                   style="dim")
    return out


def render_no_match(diagnosis: Diagnosis, log_name: str) -> Text:
    out = Text()
    out.append(f"No known crash in {log_name}.\n", style="bold")
    for near in diagnosis.near_misses:
        out.append(f"  line {near.line} {near.reason}\n")
    known = ", ".join(f"{crash.id} ({crash.crash.split(' (')[0]})" for crash in crash_fixes().values())
    out.append(_wrapped(f"autofix recognises: {known}.", ""), style="dim")
    return out


def diagnosis_json(
    diagnosis: Diagnosis, log_name: str, config: str | None, report: RunReport | None, applied: bool,
    named_in_log: bool = False,
) -> dict:
    """The whole diagnosis as one JSON-ready document; ``config`` (given, or ``named_in_log``) goes into
    the commands."""
    matches = []
    for match in diagnosis.matches:
        crash, sighting = match.crash, match.sighting
        frame = sighting.raised_in
        matches.append({
            "id": crash.id,
            "crash": crash.crash,
            "line": sighting.line,
            "occurrences": match.occurrences,
            "message": sighting.message,
            "raised_in": None if frame is None else {"function": frame.function, "file": frame.path, "line": frame.line},
            "what_happened": crash.what_happened,
            "remedies": [
                {
                    "fix": remedy.fix,
                    "summary": remedy.summary,
                    "cost": remedy.cost,
                    "available": remedy.available(fix_ids()),
                    "command": remedy_command(crash, remedy, config)[0],
                }
                for remedy in crash.remedies
            ],
            "command": crash.command(config, _python_given()),
        })
    document: dict = {
        "input": log_name,
        "matches": matches,
        "near_misses": [{"id": n.crash.id, "line": n.line, "reason": n.reason} for n in diagnosis.near_misses],
        "config_named_in_log": config if named_in_log else None,
        "fix": None,
    }
    if report is not None:
        document["fix"] = {
            "config": config,
            "applied": applied,
            "diff": "".join(r.diff for r in sorted(report.results, key=lambda r: r.shown)),
            "files": [
                {"path": r.shown, "status": r.status, "notes": list(r.notes), "error": r.error or None}
                for r in sorted(report.results, key=lambda r: r.shown)
            ],
        }
    return document
