"""``autofix check``: the known crashes' causes, found in configs and model files before training.

- ``amp-nms``: a config that trains with AMP whose RPN can hand ``batched_nms`` at least
  ``split_thr`` boxes (counted by :mod:`autofix.domain.rpn` from the config mmengine resolves).
- ``inplace-relu``: a model file that overwrites a ReLU's output in place (:mod:`autofix.domain.relu_flow`).
"""

from __future__ import annotations

import ast
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import libcst as cst

from autofix.domain.relu_flow import InplaceOverwrite, inplace_relu_overwrites
from autofix.domain.rpn import RpnLoad, rpn_loads, uses_amp
from autofix.filekind import detect_kind
from autofix.files import (
    FileError,
    decode_source,
    display_path,
    find_python_files,
    read_source,
)
from autofix.mmconfig import ConfigUnavailable, FileLoadCache, resolve
from autofix.rule import FileKind

# A model file can only hold the crash if it has a ReLU and some in-place write.
_RELU_MARKERS = re.compile(r"relu|ConvModule|build_activation_layer", re.IGNORECASE)
_WRITE_MARKERS = re.compile(r"inplace|\w_\(|[-+*/%&|^<>]=|\]\s*=[^=]")


@dataclass(frozen=True)
class Finding:
    path: str
    line: int | None
    crash: str
    message: str
    fix: str  # the command to run, or what to change by hand
    details: Mapping[str, Any] = field(default_factory=dict)  # the numbers behind the message, for --format json

    def as_line(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.crash}: {self.message}; fix: {self.fix}"


@dataclass
class CheckReport:
    findings: list[Finding] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (path, what is wrong)
    checked: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "findings": [{**vars(f), "details": dict(f.details)} for f in self.findings],
            "errors": [{"path": path, "error": error} for path, error in self.errors],
            "files_checked": self.checked,
        }


def check_paths(paths: Iterable[Path], assume_amp: bool = False) -> CheckReport:
    files, missing = find_python_files(paths)
    report = CheckReport(errors=[(display_path(p), why) for p, why in missing])
    cache = FileLoadCache()  # the files share their bases: load each once
    for path in files:
        shown = display_path(path)
        try:
            text = decode_source(read_source(path)).text
            if detect_kind(text) is FileKind.CONFIG:
                report.findings += config_findings(path, shown, text, assume_amp, cache)
            else:
                report.findings += model_findings(shown, text)
        except (FileError, ConfigUnavailable) as exc:
            report.errors.append((shown, str(exc)))
        except OSError as exc:
            report.errors.append((shown, f"cannot read: {exc.strerror}"))
        except RecursionError:
            report.errors.append((shown, "expressions nested too deeply to analyse"))
        else:
            report.checked += 1
    report.findings.sort(key=lambda f: (f.path, f.line or 0))
    return report


# --- amp-nms ------------------------------------------------------------------------------------


def config_findings(
    path: Path, shown: str, text: str, assume_amp: bool, cache: FileLoadCache | None = None
) -> list[Finding]:
    config = resolve(path, {}, cache)
    if not (assume_amp or uses_amp(config)) or "train_dataloader" not in config:
        return []  # no AMP, or a fragment (a _base_ model file) that does not train by itself
    amp = "AMP (tools/train.py --amp)" if assume_amp and not uses_amp(config) else "AMP (AmpOptimWrapper)"
    return [
        Finding(
            shown, _setting_line(text, load), "amp-nms", _amp_nms_message(load, amp),
            f"autofix apply --fix amp-nms {shlex.quote(shown)}", _amp_nms_details(load),
        )
        for load in rpn_loads(config)
        if load.at_risk
    ]


def _amp_nms_message(load: RpnLoad, amp: str) -> str:
    proposal = load.proposal
    rpn = f"trains with {amp} and its RPN ({'.'.join(proposal.path)})"
    if load.boxes is None:
        return f"{rpn} has no nms_pre: any number of boxes reach batched_nms"
    if not load.per_level:
        return (f"{rpn} can hand batched_nms up to {load.boxes} boxes ({proposal.levels} levels x nms_pre "
                f"{proposal.nms_pre}; {load.assumption}), at least split_thr {proposal.split_thr}")
    width, height = load.batch
    return (f"{rpn} hands batched_nms {load.boxes} boxes ({' + '.join(map(str, load.per_level))} over "
            f"{len(load.per_level)} levels) for {load.image.width}x{load.image.height} train images, batch padded "
            f"to {width}x{height} ({load.assumption}), at least split_thr {proposal.split_thr}")


def _amp_nms_details(load: RpnLoad) -> dict[str, Any]:
    return {
        "boxes": load.boxes,
        "split_thr": load.proposal.split_thr,
        "per_level": list(load.per_level),
        "image": None if load.image is None else [load.image.width, load.image.height],
        "batch": None if load.batch is None else list(load.batch),
        "assumption": load.assumption,
        "rpn_proposal": ".".join(load.proposal.path),
    }


def _literal(node: ast.AST) -> Any:
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    return _as_tuples(value)


def _as_tuples(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_as_tuples(v) for v in value)
    return value


def _setting_line(text: str, load: RpnLoad) -> int | None:
    """The line of this file that sets what the count depends on: the train scale that produced the
    largest image, else the rpn_proposal, else the AMP optim_wrapper; None when it sets none of them."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    scale = _as_tuples(load.image.scale) if load.image is not None else None
    scale_lines, proposal_lines, amp_lines = [], [], []
    for node in ast.walk(tree):
        if scale is not None and isinstance(node, (ast.Tuple, ast.List)) and _literal(node) == scale:
            scale_lines.append(node.lineno)
        elif isinstance(node, ast.keyword) and node.arg == "rpn_proposal":  # rpn_proposal=dict(...)
            proposal_lines.append(node.value.lineno)
        elif isinstance(node, (ast.Constant, ast.Attribute)) and "rpn_proposal" in (getattr(node, "value", None), getattr(node, "attr", None)):
            proposal_lines.append(node.lineno)  # {'rpn_proposal': ...}, model.train_cfg.rpn_proposal.x = ...
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.endswith("AmpOptimWrapper"):
            amp_lines.append(node.lineno)
        elif isinstance(node, (ast.Name, ast.Attribute)) and getattr(node, "id", getattr(node, "attr", "")) == "AmpOptimWrapper":
            amp_lines.append(node.lineno)
    for lines in (scale_lines, proposal_lines, amp_lines):
        if lines:
            return min(lines)
    return None


# --- inplace-relu -------------------------------------------------------------------------------

_FIX_BY_HAND = "make it out of place by hand (e.g. y = y.mul(2) for y.mul_(2))"


def model_findings(shown: str, text: str) -> list[Finding]:
    if not (_RELU_MARKERS.search(text) and _WRITE_MARKERS.search(text)):
        return []
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError as exc:
        raise FileError(f"syntax error at line {exc.raw_line}: {exc.message}") from None
    return [_relu_finding(shown, overwrite) for overwrite in inplace_relu_overwrites(module)]


def _relu_finding(shown: str, overwrite: InplaceOverwrite) -> Finding:
    relu = overwrite.relu
    message = (
        f"{overwrite.code!r} overwrites {overwrite.value}, the output of the ReLU {relu.source} "
        f"(line {relu.line}), in place ({overwrite.operation} in {overwrite.scope}); backward needs it unchanged"
    )
    fix = f"autofix apply --fix {overwrite.fix} {shlex.quote(shown)}" if overwrite.fix else _FIX_BY_HAND
    details = {"relu_line": relu.line, "relu": relu.source, "operation": overwrite.operation, "scope": overwrite.scope}
    return Finding(shown, overwrite.line, "inplace-relu", message, fix, details)


def summary(report: CheckReport) -> str:
    found = len(report.findings)
    files = len({f.path for f in report.findings})
    parts = [
        f"{found} risk{'s' if found != 1 else ''} in {files} file{'s' if files != 1 else ''}" if found else "no risks found",
        f"{report.checked} file{'s' if report.checked != 1 else ''} checked",
    ]
    if report.errors:
        parts.append(f"{len(report.errors)} error{'s' if len(report.errors) != 1 else ''}")
    return ", ".join(parts) + "."
