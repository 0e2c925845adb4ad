"""Transforms that exist only for tests: each stands for one behaviour the engine must survive."""

from __future__ import annotations

import os
import signal

import libcst as cst

from autofix.rule import Applicability, Rule, TransformContext


class UndocumentedTransform(Rule):
    """Placeholder documentation; the subclasses' behaviour is what the tests are about."""

    summary = crash = tradeoff = "test only"
    applicability = Applicability.SAFE
    prefilter = ("",)  # every file
    examples = ()


class ResolvesConfig(UndocumentedTransform):
    """Needs the resolved config, as config transforms do; changes nothing itself."""

    id = "test-resolves-config"

    def transform(self, module: cst.Module, context: TransformContext) -> cst.Module:
        context.resolve_config()
        return module


class Crashes(UndocumentedTransform):
    """A transform with a bug."""

    id = "test-crashes"

    def transform(self, module: cst.Module, context: TransformContext) -> cst.Module:
        raise ValueError("first line of the bug\nsecond line")


class _ReplaceInteger(cst.CSTTransformer):
    def __init__(self, old: str, new: str) -> None:
        self.old, self.new = old, new

    def leave_Integer(self, original: cst.Integer, updated: cst.Integer) -> cst.Integer:
        return updated.with_changes(value=self.new) if updated.value == self.old else updated


class Sets101To18(UndocumentedTransform):
    """Rewrites the literal ``101`` to ``18``; claims (for --verify) to change only ``model.depth``."""

    id = "test-sets-101-to-18"
    intended_keys = ("model.depth",)

    def transform(self, module: cst.Module, context: TransformContext) -> cst.Module:
        return module.visit(_ReplaceInteger("101", "18"))


class Sets101To18Undeclared(Sets101To18):
    """The same rewrite, but --verify is told it only touches ``model.act_cfg``."""

    id = "test-sets-101-to-18-undeclared"
    intended_keys = ("model.act_cfg.*",)


class TurnsFlagOff(UndocumentedTransform):
    """Appends ``flag = False`` where the resolved config (bases included) has ``flag = True``."""

    id = "test-turns-flag-off"

    def transform(self, module: cst.Module, context: TransformContext) -> cst.Module:
        if context.resolve_config().get("flag") is not True:
            return module
        return module.with_changes(body=[*module.body, cst.parse_statement("flag = False\n")])


class _StripTrailingComments(cst.CSTTransformer):
    def leave_TrailingWhitespace(
        self, original: cst.TrailingWhitespace, updated: cst.TrailingWhitespace
    ) -> cst.TrailingWhitespace:
        return updated.with_changes(comment=None, whitespace=cst.SimpleWhitespace(""))


class DropsComments(UndocumentedTransform):
    """Deletes every end-of-line comment, as a careless argument removal can."""

    id = "test-drops-comments"

    def transform(self, module: cst.Module, context: TransformContext) -> cst.Module:
        return module.visit(_StripTrailingComments())


class DiesOnMarker(UndocumentedTransform):
    """Kills the process it runs in, as the kernel's out-of-memory killer would, on a file holding ``MARKER``."""

    id = "test-dies-on-marker"
    MARKER = "# test: the worker dies here"

    def transform(self, module: cst.Module, context: TransformContext) -> cst.Module:
        if self.MARKER in module.code:
            os.kill(os.getpid(), signal.SIGKILL)
        return module
