"""Crash fix ``migrate-2to3`` and rule ``legacy-2x-keys``: an mmdetection 2.x config run on 3.x."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import libcst as cst

from autofix.config_edit import inherits
from autofix.crashes import CrashFix, LogSignature, Remedy
from autofix.migration import ENVIRONMENT_KEYS, LEGACY_KEYS, migrate
from autofix.migration.detectors import ARGUMENT_NAMES, legacy_model_arguments
from autofix.migration.runtime import legacy_hooks
from autofix.mmconfig import is_lazy_style, registry_name
from autofix.provenance import assigned_name
from autofix.rule import Applicability, ConfigRule, Example, FileKind, Finding, Severity, TransformContext

# Transforms mmdet 3.x no longer registers: a 2.x pipeline.
LEGACY_TRANSFORMS = frozenset({"DefaultFormatBundle", "Collect", "ImageToTensor", "Normalize", "MultiScaleFlipAug"})
# Arguments 3.x transforms refuse, by transform (3.x Mosaic/MixUp still take img_scale).
LEGACY_ARGUMENTS = {"Resize": ("img_scale", "multiscale_mode"), "RandomFlip": ("flip_ratio",)}
# Keys only a 3.x (mmengine) config has (and a model's data_preprocessor).
THREE_X_KEYS = ("default_scope", "train_dataloader", "val_dataloader", "optim_wrapper", "param_scheduler", "env_cfg")
# mmengine refuses these outright; the other legacy keys it silently ignores.
_RUNNER_KEYS = ("train_dataloader", "train_cfg", "optim_wrapper")

_REGISTRY_MISS = "|".join(sorted(LEGACY_TRANSFORMS))
_REFUSED_ARGUMENT = "|".join(sorted({argument for arguments in LEGACY_ARGUMENTS.values() for argument in arguments}))

MIGRATE_2TO3 = CrashFix(
    id="migrate-2to3",
    summary="An mmdetection 2.x config run with mmdet 3.x.",
    crash="ValueError: train_dataloader, train_cfg, and optim_wrapper should be either all None or not None",
    what_happened=(
        "The config is written for mmdetection 2.x (mmcv 1.x): `data`, `optimizer`, `lr_config`, `runner`, "
        "`evaluation` and pipelines with DefaultFormatBundle/Collect. mmengine reads none of those keys, so the "
        "runner finds no train_dataloader (or no train loop) and stops; a 2.x transform is not in the mmdet 3.x "
        "registry; a 2.x argument (img_scale, flip_ratio) reaches a 3.x transform. Worse, where the run does start, "
        "fp16, optimizer_config, lr_config, evaluation, checkpoint_config and log_config are silently ignored."
    ),
    default_transforms=("legacy-2x-keys",),
    remedies=(
        Remedy(
            "legacy-2x-keys",
            "rewrite the config (and its bases) to the mmdet 3.x form, key by key as the official ports do",
            "none where a mapping is exact; what has none is left as written and named",
            subcommand="migrate",
        ),
    ),
    signatures=(
        LogSignature(
            message=r"train_dataloader, train_cfg, and optim_wrapper should be either all None or not None",
            raised_in=("__init__",),
            place="mmengine's Runner.__init__ (mmengine/runner/runner.py)",
            raised_in_file="mmengine/runner/runner.py",
        ),
        LogSignature(
            message=r"`self._train_loop` should not be None",
            raised_in=("train_loop", "train"),
            place="mmengine's Runner.train_loop (mmengine/runner/runner.py)",
            raised_in_file="mmengine/runner/runner.py",
        ),
        LogSignature(
            message=rf"'(?:{_REGISTRY_MISS}) is not in the (?:mmdet::)?transform registry",
            raised_in=("build_from_cfg",),
            place="mmengine's build_from_cfg, building the dataset's pipeline",
            family=r"is not in the (?:mmdet::)?transform registry",
        ),
        LogSignature(
            message=rf"__init__\(\) got an unexpected keyword argument '(?:{_REFUSED_ARGUMENT})'",
            raised_in=("build_from_cfg",),
            place="mmengine's build_from_cfg, building a pipeline transform",
        ),
    ),
    path_hint="CONFIG",
    log_examples=(
        """
        Traceback (most recent call last):
          File "tools/train.py", line 121, in <module>
            main()
          File "tools/train.py", line 110, in main
            runner = Runner.from_cfg(cfg)
          File "/usr/local/lib/python3.10/site-packages/mmengine/runner/runner.py", line 462, in from_cfg
            runner = cls(
          File "/usr/local/lib/python3.10/site-packages/mmengine/runner/runner.py", line 284, in __init__
            raise ValueError(
        ValueError: train_dataloader, train_cfg, and optim_wrapper should be either all None or not None, but got train_dataloader=None, train_cfg=None, optim_wrapper=None
        """,
        """
        Traceback (most recent call last):
          File "tools/train.py", line 133, in main
            runner.train()
          File "/opt/conda/lib/python3.8/site-packages/mmengine/runner/runner.py", line 1703, in train
            if self._train_loop is None:
          File "/opt/conda/lib/python3.8/site-packages/mmengine/runner/runner.py", line 520, in train_loop
            raise RuntimeError(
        RuntimeError: `self._train_loop` should not be None
        """,
        """
          File "/opt/conda/lib/python3.8/site-packages/mmengine/registry/build_functions.py", line 100, in build_from_cfg
            raise KeyError(
        KeyError: 'DefaultFormatBundle is not in the mmdet::transform registry. Please check whether the value of `DefaultFormatBundle` is correct or it was registered as expected. More details can be found at https://mmengine.readthedocs.io/en/latest/advanced_tutorials/config.html#import-the-custom-module'
        """,
        """
          File "/home/user/.local/lib/python3.9/site-packages/mmengine/registry/build_functions.py", line 121, in build_from_cfg
            obj = obj_cls(**args)  # type: ignore
        TypeError: __init__() got an unexpected keyword argument 'img_scale'
        """,
    ),
)


def _transform_lists(value: Any, path: str) -> Iterator[tuple[str, list[Mapping[str, Any]]]]:
    """Every list of transform dicts in a config value (pipelines, nested transforms), with its dotted key."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _transform_lists(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, (list, tuple)):
        if value and all(isinstance(item, Mapping) and "type" in item for item in value):
            yield path, list(value)
        for index, item in enumerate(value):
            yield from _transform_lists(item, f"{path}[{index}]")


def legacy_constructs(config: Mapping[str, Any]) -> list[str]:
    """The 2.x keys, transforms, transform arguments and custom hooks of a resolved config, named as ``check``
    shows them. In a 3.x config some 2.x names are variables (see :func:`_a_3x_variable`): a 2.x environment key
    beside a 3.x runtime is ignored as harmlessly as the official ports keep it (a model base of theirs sets
    ``cudnn_benchmark``)."""
    model = config.get("model")
    three_x = any(key in config for key in THREE_X_KEYS) or (isinstance(model, Mapping) and "data_preprocessor" in model)
    found = [key for key in LEGACY_KEYS if key in config and not (three_x and _a_3x_variable(config, key))]
    found += legacy_hooks(config)
    if isinstance(model, Mapping):
        # mmseg 1.x segmentors take `pretrained`; only a 2.x detector's is refused
        found += [name for name in legacy_model_arguments(model) if not (three_x and name == "model.pretrained")]
    for _, transforms in _transform_lists(config, ""):
        for transform in transforms:
            name = registry_name(transform.get("type")) or ""
            if name in LEGACY_TRANSFORMS:
                found.append(name)
            found += [f"{name}({argument}=)" for argument in LEGACY_ARGUMENTS.get(name, ()) if argument in transform]
    return list(dict.fromkeys(found))


def _a_3x_variable(config: Mapping[str, Any], key: str) -> bool:
    """Whether a 2.x name in a 3.x config is one of its variables: an environment key the ports keep, or an
    ``optimizer`` beside an ``optim_wrapper`` (mmseg 1.x bases write ``optimizer = dict(...)`` for their
    ``optim_wrapper = dict(optimizer=optimizer)``)."""
    return key in ENVIRONMENT_KEYS or (key == "optimizer" and "optim_wrapper" in config)


class Legacy2xKeys(ConfigRule):
    """Migrates an mmdetection 2.x config to the 3.x form.

    ## What it does
    Finds the keys, transforms and transform arguments of mmdetection 2.x (mmcv 1.x) in a config's
    effective config: `data`, `optimizer`, `optimizer_config`, `fp16`, `lr_config`, `runner`,
    `evaluation`, `checkpoint_config`, `log_config`, ...; `DefaultFormatBundle`, `Collect`,
    `Normalize`, `MultiScaleFlipAug`; `Resize(img_scale=...)`, `RandomFlip(flip_ratio=...)`.
    Its fix is `autofix migrate`: each file's own statements are rewritten to their 3.x form
    (bases first, so a child that overrides part of a 2.x key gets the matching 3.x partial
    override), keeping comments, variables and `_base_`. The mapping rules are listed by
    `autofix explain migrate-2to3`.

    ## Why
    mmengine reads none of the 2.x keys. A 2.x config either stops at once ("train_dataloader,
    train_cfg, and optim_wrapper should be either all None or not None", "DefaultFormatBundle is not
    in the mmdet::transform registry") or, worse, trains without its fp16, gradient clipping,
    learning-rate schedule, evaluation and checkpoint settings.

    ## Fix safety
    Safe where a mapping is exact: the migrated config trains as the 2.x one did, as the official
    3.x ports do (the learning-rate warmup uses mmengine's `LinearLR(end=warmup_iters)`, one
    iteration shorter than mmcv's, as the ports do). A construct with no exact mapping is left as
    written and named in the file's notes (`refused` in `--format json`); `check` keeps reporting it.
    """

    id = "legacy-2x-keys"
    summary = "Migrates 2.x keys mmengine ignores or refuses to 3.x"
    crash = MIGRATE_2TO3.crash
    tradeoff = "None where the mapping is exact; constructs with none are left as written and named"
    applicability = Applicability.SAFE
    prefilter = ("_base_", *LEGACY_KEYS, *LEGACY_TRANSFORMS, "img_scale", "flip_ratio", *ARGUMENT_NAMES)
    intended_keys = ("*",)  # a migration rewrites the whole config
    fix_command = "migrate PATH"
    only_fixes_problems = False  # the 2.x meaning decides, not the config with this run's migrated bases
    examples = (
        Example(
            """
            optimizer = dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001)
            optimizer_config = dict(grad_clip=dict(max_norm=35, norm_type=2))
            """,
            """
            optim_wrapper = dict(
                type='OptimWrapper',
                optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001),
                clip_grad=dict(max_norm=35, norm_type=2))
            """,
            kind=FileKind.CONFIG,
            title="2.x optimizer and gradient clipping",
        ),
        Example(
            """
            optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.02))
            """,
            kind=FileKind.CONFIG,
            title="a 3.x config is left alone",
        ),
    )

    def findings(self, config: Mapping[str, Any], options: Mapping[str, Any]) -> list[Finding]:
        found = legacy_constructs(config)
        if not found:
            return []
        refused = not any(key in config for key in _RUNNER_KEYS) and ("data" in config or "runner" in config)
        shown = ", ".join(found[:3]) + (f" (+{len(found) - 3} more)" if len(found) > 3 else "")
        why = ("mmengine stops: no train_dataloader, train_cfg or optim_wrapper" if refused
               else "mmengine ignores them, or mmdet 3.x refuses them")
        return [
            Finding(f"2.x config: {shown}", Severity.CRASH if refused else Severity.SILENT,
                    detail=f"{why}: {', '.join(found)}", details={"legacy": found})
        ]

    def transform(self, module: cst.Module, context: TransformContext) -> cst.Module:
        if context.kind is not FileKind.CONFIG or is_lazy_style(context.text):
            return module  # read_base configs are 3.x by construction
        # The 2.x meaning decides: a leaf of 2.x bases this run has migrated may still need its part.
        old = context.resolve_original()
        if not legacy_constructs(old):
            return module
        base = context.resolve_config(_bases_only(module)) if inherits(module) else {}
        migration = migrate(module, old, base)
        for note in migration.notes:
            context.note(note)
        for construct, reason in migration.refused:
            context.refuse(construct, reason)
        return migration.module


def _bases_only(module: cst.Module) -> str:
    """The file with only its imports and ``_base_``: what its bases give it."""
    kept = [
        statement for statement in module.body
        if assigned_name(statement) == "_base_" or (
            isinstance(statement, cst.SimpleStatementLine)
            and all(isinstance(small, (cst.Import, cst.ImportFrom)) for small in statement.body))
    ]
    return module.with_changes(body=kept).code
