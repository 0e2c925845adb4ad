"""Runtime and hooks (R27-R29, R39-R42): checkpointing, logging, environment, resuming, custom hooks.

What it maps:
- R27, R41: `checkpoint_config=dict(interval=1, max_keep_ckpts=3, by_epoch=False, save_last=True)` ->
  `default_hooks=dict(checkpoint=dict(interval=1, max_keep_ckpts=3, by_epoch=False, save_last=True))`;
  `evaluation=dict(save_best='auto', rule=R)` -> `default_hooks.checkpoint.save_best='auto'`, `rule=R`.
- R28: `log_config=dict(interval=50, hooks=[dict(type='TextLoggerHook')])` -> `default_hooks.logger.interval=50`
  and `log_processor.window_size=50` (mmcv averaged the logged values over the log interval); a logger hook's
  `by_epoch` -> `log_processor.by_epoch`; `TensorboardLoggerHook` -> `TensorboardVisBackend`,
  `WandbLoggerHook`/`MMDetWandbHook(init_kwargs=K)` -> `WandbVisBackend(init_kwargs=K)`, listed in `vis_backends`
  after `LocalVisBackend` and given to `visualizer`.
- R42: under an `IterBasedRunner`, `checkpoint.by_epoch=False` and `log_processor.by_epoch=False` (what the 2.x
  runner defaulted them to).
- R29: `cudnn_benchmark`, `mp_start_method`, `opencv_num_threads`, `dist_params` -> `env_cfg.cudnn_benchmark`,
  `env_cfg.mp_cfg.mp_start_method`, `env_cfg.mp_cfg.opencv_num_threads`, `env_cfg.dist_cfg`;
  `resume_from=None` -> `resume=False`; `resume_from=P` -> `load_from=P, resume=True` (2.x resumed from P,
  whatever `load_from` said; 3.x resumes from `load_from` when `resume=True`).
- `workflow` (train phases only) is dropped with a note: 3.x validates every `train_cfg.val_interval`.
- R40, R39: `custom_hooks`: `NumClassCheckHook` dropped with a note from the file that defines the runtime
  (the 3.x default runtime runs none; a config that lists it keeps it, as the official SSD ports);
  `SetEpochInfoHook` dropped for TOOD (3.x TOOD reads the epoch from the message hub);
  `ExpMomentumEMAHook(momentum=m, total_iter=g, skip_buffers=s)` -> `EMAHook(ema_type='ExpMomentumEMA',
  momentum=m, gamma=g, update_buffers=not s)`; `SyncNormHook(num_last_epochs, interval)` -> `SyncNormHook()`,
  as the official YOLOX ports (it now synchronises before each validation); the hooks 3.x keeps with the same
  arguments stay (`NumClassCheckHook`, `CheckInvalidLossHook`, `YOLOXModeSwitchHook`, `EmptyCacheHook`, ...).
- A config that defines the runtime itself (the 2.x `_base_/default_runtime.py`: `checkpoint_config` and
  `log_config` with no base giving `default_hooks`) gets the whole 3.x runtime: `default_scope='mmdet'`,
  the six default hooks, `env_cfg`, `vis_backends`, `visualizer`, `log_processor`, `resume`.
- A child gets the 3.x partial override of what its bases now give differently from its 2.x meaning: a
  base fragment that set part of the runtime (`cudnn_benchmark = True` in `_base_/models/ssd300.py`) cannot
  hold `env_cfg` (mmengine refuses a key given by two bases), so it is dropped there with a note and each
  config inheriting it gets `env_cfg = dict(cudnn_benchmark=True)`; an `IterBasedRunner` child gets
  `by_epoch=False`.

Refused (left as written, named in the notes):
- `checkpoint_config` that is not a dict literal or not a `CheckpointHook`; its keys with no 3.x
  `CheckpointHook` equivalent (`sync_buffer=True`, `create_symlink`, `meta`, ...).
- `evaluation.save_best` naming a 2.x metric (3.x metric names are prefixed, `coco/bbox_mAP`): only 'auto' maps.
- `log_config` that is not a dict literal, or has keys other than `interval` and `hooks`; log hooks other
  than TextLoggerHook, TensorboardLoggerHook, WandbLoggerHook and MMDetWandbHook; their arguments with no 3.x
  equivalent, named `log_config.hooks.<type>.<argument>` (`TensorboardLoggerHook.log_dir`,
  `MMDetWandbHook.log_checkpoint`, `.log_checkpoint_metadata`, `.num_eval_images`, `.bbox_score_thr`,
  `WandbLoggerHook.with_step=False`, `.log_artifact=True`, `out_suffix`, `reset_flag=True`), and a backend
  hook whose `interval`, `by_epoch` or `ignore_last` differs from the text logger's (3.x backends write when
  the LoggerHook does). What a 2.x hook did by default and no backend does (WandbLoggerHook's artifact
  upload, MMDetWandbHook's 100 logged images) is a note.
- `workflow` with a `val` phase (2.x computed validation losses; the 3.x ValLoop computes metrics only).
- custom hooks: `EMAHook` without `ema_type` (mmcv's warms its momentum up, mmengine's does not),
  `custom_hooks.ExpMomentumEMAHook.resume_from`, `LinearMomentumEMAHook`, `SyncRandomSizeHook`, `RFSearchHook` (rfnext
  was not ported), any other type that is neither kept by 3.x nor 3.x-only, and a `custom_hooks` that is not
  a list literal. `legacy_hooks(config)` names the hooks this group changes or refuses, for `check`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import libcst as cst

from autofix.config_edit import render
from autofix.cst_helpers import (
    mapping_items,
    mapping_value,
    node_code,
    remove_arg,
    string_value,
)
from autofix.migration import FileMigration, Step
from autofix.mmconfig import value_at
from autofix.rule import Example, FileKind

Entries = dict[tuple[str, ...], cst.BaseExpression]  # (top-level name, *keys) -> value

# 2.x CheckpointHook arguments 3.x's takes unchanged, with their (shared) defaults.
_CHECKPOINT_ARGS = {
    "interval": -1, "by_epoch": True, "save_optimizer": True, "out_dir": None, "max_keep_ckpts": -1,
    "save_last": True, "file_client_args": None, "filename_tmpl": None,
}
_SAVE_BEST = {"save_best": None, "rule": None}  # evaluation keys 3.x's CheckpointHook takes
# 2.x arguments 3.x lacks, harmless at these values (the 2.x defaults).
_DEFAULT_ONLY = {"sync_buffer": False, "reset_flag": False}
# TextLoggerHook arguments 3.x's LoggerHook takes unchanged (by_epoch and interval go to log_processor too).
_LOGGER_ARGS = {"interval": 10, "ignore_last": True, "interval_exp_name": 1000, "out_dir": None,
                "keep_local": True, "file_client_args": None}
_LOG_PROCESSOR = {"window_size": 10, "by_epoch": True}
_ENV = {  # 2.x key -> (env_cfg keys, default in both)
    "cudnn_benchmark": (("cudnn_benchmark",), False),
    "mp_start_method": (("mp_cfg", "mp_start_method"), "fork"),
    "opencv_num_threads": (("mp_cfg", "opencv_num_threads"), 0),
    "dist_params": (("dist_cfg",), None),
}
# The 3.x default hooks: the hooks every 2.x runner registered (lr and optimizer hooks are now the
# param_scheduler hook and the optim wrapper).
_DEFAULT_HOOKS = (("timer", "IterTimerHook"), ("logger", "LoggerHook"), ("param_scheduler", "ParamSchedulerHook"),
                  ("checkpoint", "CheckpointHook"), ("sampler_seed", "DistSamplerSeedHook"),
                  ("visualization", "DetVisualizationHook"))
_BACKENDS = {"TextLoggerHook": "LocalVisBackend", "TensorboardLoggerHook": "TensorboardVisBackend",
             "WandbLoggerHook": "WandbVisBackend", "MMDetWandbHook": "WandbVisBackend"}
# Backend hook arguments, by hook: those the backend takes, those that must follow the text logger.
_BACKEND_ARGS = {"TensorboardLoggerHook": (), "WandbLoggerHook": ("init_kwargs", "commit", "define_metric_cfg"),
                 "MMDetWandbHook": ("init_kwargs",)}
_PACED = ("interval", "by_epoch", "ignore_last")
# What a 2.x hook did by default that no 3.x backend does (a note, not a refusal: training is the same).
_IMPLICIT = {"WandbLoggerHook": {"log_artifact": "uploaded the work dir's logs as an artifact by default"},
             "MMDetWandbHook": {"num_eval_images": "logged 100 validation images with their boxes by default"}}
_UNREFUSED_DEFAULTS = {"with_step": True, "log_artifact": False, "log_checkpoint": False,
                       "log_checkpoint_metadata": False, "num_eval_images": 0}
# Hooks 3.x (mmdet or mmengine) registers with the names, arguments and meaning 2.x gave them, and hooks only
# 3.x has (a config that lists one is already 3.x there).
_SAME_HOOKS = frozenset({
    "NumClassCheckHook", "CheckInvalidLossHook", "YOLOXModeSwitchHook", "MemoryProfilerHook", "EmptyCacheHook",
    "DistSamplerSeedHook", "IterTimerHook", "SetEpochInfoHook", "MeanTeacherHook", "PipelineSwitchHook",
    "EarlyStoppingHook", "PrepareTTAHook", "DetVisualizationHook", "TrackVisualizationHook", "SyncBuffersHook",
})
_REFUSED_HOOKS = {
    "EMAHook": "mmcv's EMAHook warms its momentum up over warm_up iterations, mmengine's does not (an "
    "mmengine EMAHook names its ema_type)",
    "LinearMomentumEMAHook": "no 3.x EMA model with a linear momentum warm-up",
    "SyncRandomSizeHook": "3.x resizes batches in model.data_preprocessor (BatchSyncRandomResize), not by a hook",
    "RFSearchHook": "rfnext was not ported to mmdet 3.x",
}


def _node(value: Any) -> cst.BaseExpression:
    return cst.parse_expression(render(value))


def _defines_runtime(fm: FileMigration) -> bool:
    """The file holds the whole 2.x runtime (as ``default_runtime.py``) and no base gives the 3.x one."""
    if fm.inherits("default_hooks"):
        return False
    written = fm.written("default_hooks") is not None or (
        fm.written("checkpoint_config") is not None and fm.written("log_config") is not None
    )
    return written and "checkpoint_config" in fm.old and "log_config" in fm.old


def _written_3x(fm: FileMigration, path: tuple[str, ...]) -> bool:
    """Whether the file's own 3.x statement already sets ``path``."""
    node = fm.written(path[0])
    for key in path[1:]:
        node = mapping_value(node, key)
    return node is not None


def _derived(fm: FileMigration, desired: Mapping[tuple[str, ...], Any], defaults: Mapping[tuple[str, ...], Any],
             entries: Entries) -> None:
    """Add the keys whose 2.x meaning (``desired``, from the resolved 2.x config) differs from what the
    migrated bases give, unless the file writes them."""
    for path, value in desired.items():
        default = defaults.get(path)
        if path in entries or _written_3x(fm, path) or value_at(fm.base, path, default) == value:
            continue
        entries[path] = _node(value)


# --- emitting ---------------------------------------------------------------------------------------


def _tree(entries: Mapping[tuple[str, ...], str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for keys, code in entries.items():
        level = tree
        for key in keys[:-1]:
            level = level.setdefault(key, {})
        level[keys[-1]] = code
    return tree


def _dict_code(tree: Mapping[str, Any], multiline: bool = False) -> str:
    items = [f"{key}={_dict_code(value) if isinstance(value, dict) else value}" for key, value in tree.items()]
    if multiline and len(items) > 2:
        return "dict(\n    " + ",\n    ".join(items) + ")"
    return "dict(" + ", ".join(items) + ")"


def _emit(fm: FileMigration, entries: Entries, places: Mapping[str, Sequence[str]],
          multiline: Sequence[str] = ()) -> None:
    """Write ``entries`` into their top-level statements: into the file's own, else into new ones, each where
    the first written of its ``places`` (legacy statements) stands, else after the one emitted before it."""
    by_name: dict[str, dict[tuple[str, ...], cst.BaseExpression]] = {}
    for path, value in entries.items():
        by_name.setdefault(path[0], {})[path[1:]] = value
    placed: str | None = None
    for name, values in by_name.items():
        if fm.written(name) is not None:
            for keys, value in values.items():
                if keys:
                    fm.set_nested(name, keys, value)
                else:
                    fm.set(name, value)
        else:
            value = values[()] if () in values else cst.parse_expression(_dict_code(
                _tree({keys: node_code(value) for keys, value in values.items()}), name in multiline))
            anchor = next((place for place in places.get(name, ()) if fm.written(place) is not None), None)
            if anchor is not None and any(key == anchor or key.startswith(f"{anchor}.") for key in fm.kept):
                fm.set(name, value, after=placed or anchor)  # the refused part of the legacy statement stays
            else:
                fm.set(name, value, replacing=anchor, after=placed)
        placed = name


# --- checkpoint and logging (R27, R28, R41, R42) ------------------------------------------------------


def _checkpoint_written(fm: FileMigration, entries: Entries) -> None:
    node = fm.written("checkpoint_config")
    if node is None:
        return
    keys = mapping_items(node)
    if keys is None or string_value(keys.get("type")) not in (None, "CheckpointHook"):
        fm.refuse("checkpoint_config", "not a dict(...) literal of a CheckpointHook", keep=("checkpoint_config",))
        return
    if "_delete_" in keys:
        entries[("default_hooks", "checkpoint", "_delete_")] = keys["_delete_"]
        entries[("default_hooks", "checkpoint", "type")] = _node("CheckpointHook")
    for key, value in keys.items():
        if key in _CHECKPOINT_ARGS:
            entries[("default_hooks", "checkpoint", key)] = value
        elif key not in ("type", "_delete_") and not _is_default_only(key, value):
            fm.refuse(f"checkpoint_config.{key}", "mmengine's CheckpointHook has no such argument",
                      keep=(f"checkpoint_config.{key}",))


def _is_default_only(key: str, node: cst.BaseExpression) -> bool:
    return key in _DEFAULT_ONLY and node_code(node) == repr(_DEFAULT_ONLY[key])


def _save_best_written(fm: FileMigration, entries: Entries) -> None:
    """The file's own ``evaluation.save_best``/``rule`` (the evaluation group leaves them to this one)."""
    evaluation = mapping_items(fm.written("evaluation")) or {}
    if "save_best" in evaluation and value_at(fm.old, ("evaluation", "save_best")) not in (None, "auto"):
        fm.refuse("evaluation.save_best", "a 2.x metric name: 3.x names carry the metric's prefix (coco/bbox_mAP); "
                  "only 'auto' maps exactly", keep=("evaluation.save_best", "evaluation.rule"))
        return
    for key in _SAVE_BEST:
        if key in evaluation:
            entries[("default_hooks", "checkpoint", key)] = evaluation[key]


def _checkpoint_desired(fm: FileMigration) -> tuple[dict[tuple[str, ...], Any], dict[tuple[str, ...], Any]]:
    """The 3.x checkpoint hook the resolved 2.x config means: (values, defaults)."""
    config = fm.old.get("checkpoint_config")
    hook = {key: value for key, value in config.items() if key in _CHECKPOINT_ARGS}
    hook.setdefault("by_epoch", not fm.iteration_based)
    evaluation = fm.old.get("evaluation") or {}
    if evaluation.get("save_best") in (None, "auto"):  # else refused where it is written
        hook.update({key: evaluation.get(key) for key in _SAVE_BEST})
    defaults = {**_CHECKPOINT_ARGS, **_SAVE_BEST}
    return ({("default_hooks", "checkpoint", key): value for key, value in hook.items()},
            {("default_hooks", "checkpoint", key): value for key, value in defaults.items()})


def _log_hooks(fm: FileMigration) -> Iterator[tuple[str, dict[str, cst.BaseExpression], Mapping[str, Any]]]:
    """(type, arguments, resolved hook) of each hook of the file's own ``log_config.hooks``; a hook the file
    does not write as a literal (a variable) has its arguments read from the resolved config."""
    hooks = mapping_value(fm.written("log_config"), "hooks")
    if hooks is None:
        return
    resolved = value_at(fm.old, ("log_config", "hooks"), ())
    if not isinstance(hooks, (cst.List, cst.Tuple)) or len(hooks.elements) != len(resolved):
        fm.refuse("log_config.hooks", "not a list literal", keep=("log_config.hooks",))
        return
    for element, value in zip(hooks.elements, resolved):
        keys = mapping_items(element.value)
        if keys is None and isinstance(value, Mapping):
            keys = {key: _node(item) for key, item in value.items()}
        kind = string_value(keys.get("type")) if keys else None
        if kind is None:
            fm.refuse("log_config.hooks", "a hook without a type", keep=("log_config.hooks",))
            continue
        yield kind, {key: value for key, value in keys.items() if key != "type"}, value


def _logging_written(fm: FileMigration, entries: Entries, backends: list[str]) -> None:
    """The file's own log_config: logger and log_processor entries, and the backend codes it lists."""
    node = fm.written("log_config")
    if node is None:
        return
    keys = mapping_items(node)
    if keys is None:
        fm.refuse("log_config", "not a dict(...) literal", keep=("log_config",))
        return
    for key in keys:
        if key not in ("interval", "hooks"):
            fm.refuse(f"log_config.{key}", "no 3.x equivalent", keep=(f"log_config.{key}",))
    if "interval" in keys:
        entries[("default_hooks", "logger", "interval")] = keys["interval"]
        entries[("log_processor", "window_size")] = keys["interval"].deep_clone()
    hooks = list(_log_hooks(fm))
    text = next((hook for kind, _, hook in hooks if kind == "TextLoggerHook"), {})
    for kind, arguments, hook in hooks:
        if kind not in _BACKENDS:
            fm.refuse(kind, "a log hook with no 3.x LoggerHook or visualization backend equivalent",
                      keep=("log_config.hooks",))
        elif kind == "TextLoggerHook":
            _text_logger(fm, arguments, entries)
            backends.append("dict(type='LocalVisBackend')")
        else:
            backends.append(_backend(fm, kind, arguments, _paced(fm, hook), _paced(fm, text)))


def _paced(fm: FileMigration, hook: Mapping[str, Any]) -> dict[str, Any]:
    """When a 2.x log hook wrote: its interval (log_config's by default), by_epoch (the runner's), ignore_last."""
    return {"interval": hook.get("interval", value_at(fm.old, ("log_config", "interval"))),
            "by_epoch": hook.get("by_epoch", not fm.iteration_based), "ignore_last": hook.get("ignore_last", True)}


def _backend(fm: FileMigration, kind: str, arguments: Mapping[str, cst.BaseExpression], paced: Mapping[str, Any],
             text: Mapping[str, Any]) -> str:
    """The visualization backend (code) of a 2.x logger hook; it writes when the LoggerHook does."""
    for key, value in arguments.items():
        if key in _PACED:
            if paced[key] != text[key]:
                fm.refuse(f"log_config.hooks.{kind}.{key}", f"3.x backends write at the text logger's pace "
                          f"({key}={text[key]!r})", keep=("log_config.hooks",))
        elif key not in _BACKEND_ARGS[kind] and not _is_default_only(key, value) and \
                node_code(value) != repr(_UNREFUSED_DEFAULTS.get(key, object())):
            fm.refuse(f"log_config.hooks.{kind}.{key}", f"{_BACKENDS[kind]} has no such argument",
                      keep=("log_config.hooks",))
    for key, what in _IMPLICIT.get(kind, {}).items():
        if key not in arguments:
            fm.note(f"{kind}: {what}; {_BACKENDS[kind]} does not")
    taken = [f"{key}={node_code(arguments[key])}" for key in _BACKEND_ARGS[kind] if key in arguments]
    return "dict(" + ", ".join([f"type='{_BACKENDS[kind]}'", *taken]) + ")"


def _text_logger(fm: FileMigration, arguments: Mapping[str, cst.BaseExpression], entries: Entries) -> None:
    for key, value in arguments.items():
        if key == "by_epoch":
            entries[("log_processor", "by_epoch")] = value
        elif key in _LOGGER_ARGS:
            entries[("default_hooks", "logger", key)] = value
            if key == "interval":
                entries[("log_processor", "window_size")] = value.deep_clone()
        elif not _is_default_only(key, value):
            fm.refuse(f"log_config.hooks.TextLoggerHook.{key}", "mmengine's LoggerHook has no such argument",
                      keep=("log_config.hooks",))


def _logging_desired(fm: FileMigration) -> tuple[dict[tuple[str, ...], Any], dict[tuple[str, ...], Any]]:
    """The 3.x logger hook, log processor and backends the resolved 2.x log_config means."""
    config = fm.old["log_config"]
    hooks = [hook for hook in config.get("hooks") or () if isinstance(hook, Mapping)]
    text = next((hook for hook in hooks if hook.get("type") == "TextLoggerHook"), {})
    logger = {key: text[key] for key in _LOGGER_ARGS if key in text}
    logger.setdefault("interval", config.get("interval", _LOGGER_ARGS["interval"]))
    desired = {("default_hooks", "logger", key): value for key, value in logger.items()}
    desired[("log_processor", "window_size")] = logger["interval"]
    desired[("log_processor", "by_epoch")] = text.get("by_epoch", not fm.iteration_based)
    defaults = {("default_hooks", "logger", key): value for key, value in _LOGGER_ARGS.items()}
    defaults.update({("log_processor", key): value for key, value in _LOG_PROCESSOR.items()})
    backends = []
    for hook in hooks:
        if hook.get("type") in _BACKENDS:
            taken = {key: hook[key] for key in _BACKEND_ARGS.get(hook["type"], ()) if key in hook}
            backends.append({"type": _BACKENDS[hook["type"]], **taken})
    desired[("vis_backends",)] = backends
    return desired, defaults


def _checkpoint_and_logging(fm: FileMigration) -> None:
    if "checkpoint_config" not in fm.old and "log_config" not in fm.old:
        return
    full = _defines_runtime(fm)
    entries: Entries = {}
    backends: list[str] = []
    _checkpoint_written(fm, entries)
    _save_best_written(fm, entries)
    _logging_written(fm, entries, backends)
    desired: dict[tuple[str, ...], Any] = {}
    defaults: dict[tuple[str, ...], Any] = {}
    for part, function in (("checkpoint_config", _checkpoint_desired), ("log_config", _logging_desired)):
        if isinstance(fm.old.get(part), Mapping):
            values, part_defaults = function(fm)
            desired.update(values)
            defaults.update(part_defaults)
    wanted_backends = desired.pop(("vis_backends",), None)
    if full:
        entries = _full_hooks(entries, desired, defaults)
    elif fm.inherits("default_hooks") or fm.written("default_hooks") is not None:
        if not fm.inherits("log_processor") and fm.written("log_processor") is None:
            desired = {path: value for path, value in desired.items() if path[0] != "log_processor"}
        _derived(fm, desired, defaults, entries)
    else:  # a base fragment: mmengine would refuse default_hooks given by two bases
        for name in ("checkpoint_config", "log_config"):
            if fm.written(name) is not None:
                fm.note(f"dropped {name}: the configs inheriting this file get its 3.x default_hooks")
        return
    if wanted_backends is not None and (full or wanted_backends != fm.base.get("vis_backends")):
        # The file's own hooks where it writes them all as literals (its variables kept), else their values.
        items = backends if len(backends) == len(wanted_backends) else [render(item) for item in wanted_backends]
        code = "[" + ", ".join(items) + "]"
        if len(code) > 80:  # one backend a line
            code = "[\n    " + ",\n    ".join(items) + ",\n]"
        entries[("vis_backends",)] = cst.parse_expression(code)
        if full or not fm.inherits("visualizer"):
            entries[("visualizer", "type")] = _node("DetLocalVisualizer")
        entries[("visualizer", "vis_backends")] = cst.Name("vis_backends")
        if full or not fm.inherits("visualizer"):
            entries[("visualizer", "name")] = _node("visualizer")
    if full and not fm.inherits("default_scope") and fm.written("default_scope") is None:
        entries[("default_scope",)] = _node("mmdet")
    entries = _ordered(entries, ("default_scope", "default_hooks", "vis_backends", "visualizer", "log_processor"))
    places = {"default_scope": ("checkpoint_config", "log_config"), "vis_backends": ("log_config",),
              "visualizer": ("log_config",), "log_processor": ("log_config",)}
    if ("default_scope",) not in entries:  # else right after it
        places["default_hooks"] = ("checkpoint_config", "log_config")
    _emit(fm, entries, places, multiline=("default_hooks",))


def _full_hooks(entries: Entries, desired: Mapping[tuple[str, ...], Any],
                defaults: Mapping[tuple[str, ...], Any]) -> Entries:
    """The six default hooks and the log processor of a file that defines the runtime."""
    full: Entries = {}
    for hook, kind in _DEFAULT_HOOKS:
        full[("default_hooks", hook, "type")] = _node(kind)
        for path, value in entries.items():
            if path[:2] == ("default_hooks", hook) and path[2] != "type":
                full[path] = value
        for path, value in desired.items():
            if path[:2] == ("default_hooks", hook) and path not in full and value != defaults.get(path):
                full[path] = _node(value)
    full[("log_processor", "type")] = _node("LogProcessor")
    for key in ("window_size", "by_epoch"):
        path = ("log_processor", key)
        if path in entries or path in desired:
            full[path] = entries[path] if path in entries else _node(desired[path])
    return full | entries


def _ordered(entries: Entries, names: Sequence[str]) -> Entries:
    return {path: entries[path] for name in names for path in entries if path[0] == name}


# --- environment, resuming, workflow (R29) ------------------------------------------------------------


def _environment(fm: FileMigration) -> None:
    present = [name for name in _ENV if name in fm.old]
    resume = "resume_from" in fm.old
    if not present and not resume and "workflow" not in fm.old:
        return
    _workflow(fm)
    full = _defines_runtime(fm)
    entries: Entries = {}
    env: Entries = {}
    desired: dict[tuple[str, ...], Any] = {}
    defaults: dict[tuple[str, ...], Any] = {}
    for name, (keys, default) in _ENV.items():
        path = ("env_cfg", *keys)
        if fm.written(name) is not None:
            env[path] = fm.written(name)
        elif name in fm.old:
            desired[path], defaults[path] = fm.old[name], default
        elif full and default is not None:
            env[path] = _node(default)
    if full:
        env |= {path: _node(value) for path, value in desired.items()}
        entries |= dict(sorted(env.items(), key=lambda item: _ENV_ORDER.index(item[0][1])))
    elif fm.inherits("env_cfg") or fm.written("env_cfg") is not None:
        entries |= env
        _derived(fm, desired, defaults, entries)
    else:
        for name in _ENV:
            if fm.written(name) is not None:
                fm.note(f"dropped {name}: the configs inheriting this file get it in their env_cfg")
    if resume:
        _resume(fm, entries, full)
    _emit(fm, entries, {"env_cfg": _ENV_PLACES, "resume": ("resume_from",)}, multiline=("env_cfg",))


_ENV_ORDER = ("cudnn_benchmark", "mp_cfg", "dist_cfg")
_ENV_PLACES = ("dist_params", "cudnn_benchmark", "opencv_num_threads", "mp_start_method")


def _resume(fm: FileMigration, entries: Entries, full: bool) -> None:
    """2.x resumed from ``resume_from`` whatever ``load_from`` said; 3.x resumes from ``load_from``."""
    resume_from = fm.old["resume_from"]
    written = fm.written("resume_from")
    if written is not None:
        entries[("resume",)] = _node(resume_from is not None)
        if resume_from is not None:
            entries[("load_from",)] = written
        return
    if resume_from is not None and fm.written("load_from") is not None:
        fm.note(f"load_from set to {resume_from!r}: 2.x resumed from its bases' resume_from and ignored load_from")
        entries[("load_from",)] = _node(resume_from)
    if fm.base or full:
        desired = {("resume",): resume_from is not None, **({("load_from",): resume_from} if resume_from else {})}
        _derived(fm, desired, {("resume",): False}, entries)


def _workflow(fm: FileMigration) -> None:
    if fm.written("workflow") is None:
        return
    phases = {phase for phase, *_ in fm.old.get("workflow") or ()}
    if phases - {"train"}:
        fm.refuse("workflow", "a val phase computed validation losses; the 3.x ValLoop computes metrics only",
                  keep=("workflow",))
    else:
        fm.note("dropped workflow: 3.x trains by train_cfg and validates every train_cfg.val_interval")


# --- custom hooks (R39, R40) ----------------------------------------------------------------------------


def _custom_hooks(fm: FileMigration) -> None:
    node = fm.written("custom_hooks")
    full = _defines_runtime(fm)
    if node is None or not legacy_hooks(fm.old, full):
        return
    if not isinstance(node, (cst.List, cst.Tuple)):
        fm.refuse("custom_hooks", "not a list literal")
        return
    elements = list(node.elements)
    old_hooks = list(fm.old.get("custom_hooks") or ())
    for index in reversed(range(len(elements))):
        old_hook = old_hooks[index] if index < len(old_hooks) and isinstance(old_hooks[index], Mapping) else {}
        replacement = _hook(fm, elements[index].value, old_hook, full)
        if replacement is None:
            elements = remove_arg(elements, index)
        else:
            elements[index] = elements[index].with_changes(value=replacement)
    if elements:
        fm.set("custom_hooks", node.with_changes(elements=elements))
    elif fm.inherits("custom_hooks"):
        fm.set("custom_hooks", "[]")
    else:
        fm.remove("custom_hooks")


def legacy_hooks(config: Mapping[str, Any], runtime: bool = False) -> list[str]:
    """The custom hooks of a resolved config that the migration changes or refuses: 2.x-only types,
    SyncNormHook's 2.x arguments, mmcv's EMAHook (no ``ema_type``), SetEpochInfoHook under TOOD (3.x TOOD
    has no ``set_epoch``); with ``runtime`` (the file that defines the runtime) NumClassCheckHook too."""
    found = []
    for hook in config.get("custom_hooks") or ():
        kind = hook.get("type") if isinstance(hook, Mapping) else None
        if kind == "SetEpochInfoHook":
            stays = value_at(config, ("model", "type")) != "TOOD"
        elif kind == "NumClassCheckHook":
            stays = not runtime
        elif kind == "SyncNormHook":
            stays = set(hook) <= {"type", "priority"}
        elif kind == "EMAHook":
            stays = "ema_type" in hook
        else:
            stays = kind in _SAME_HOOKS
        if not stays:
            found.append(kind or "custom_hooks")
    return found


def _hook(fm: FileMigration, node: cst.BaseExpression, old: Mapping[str, Any], full: bool) -> cst.BaseExpression | None:
    """The 3.x form of one custom hook, None to drop it; refused hooks come back as they were. The file that
    defines the runtime gets the 3.x default runtime's (no NumClassCheckHook); a config that asks for the
    check keeps it, as the official ports do."""
    keys = mapping_items(node)
    kind = string_value(keys.get("type")) if keys else None
    if kind is None:
        fm.refuse("custom_hooks", "a hook that is not a dict(type=...) literal")
        return node
    if kind == "NumClassCheckHook" and full:
        fm.note("dropped NumClassCheckHook: the 3.x default runtime runs no such check")
        return None
    if kind == "SetEpochInfoHook":
        if value_at(fm.old, ("model", "type")) != "TOOD":
            return node
        fm.note("dropped SetEpochInfoHook: 3.x TOOD reads the epoch from the message hub")
        return None
    if kind == "ExpMomentumEMAHook":
        return _exp_momentum_ema(fm, node, keys, old)
    if kind == "SyncNormHook" and set(keys) - {"type", "priority"}:
        fm.note("SyncNormHook: 3.x synchronises norms before each validation (num_last_epochs and interval "
                "dropped, as the official YOLOX ports)")
        return cst.parse_expression(_call("dict", [("type", "'SyncNormHook'"), *_taken(keys, ("priority",))]))
    if kind in _SAME_HOOKS or kind == "SyncNormHook" or (kind == "EMAHook" and "ema_type" in keys):
        return node
    fm.refuse(kind, _REFUSED_HOOKS.get(kind, "a custom hook with no known 3.x equivalent"))
    return node


def _exp_momentum_ema(fm: FileMigration, node: cst.BaseExpression, keys: Mapping[str, cst.BaseExpression],
                      old: Mapping[str, Any]) -> cst.BaseExpression:
    if old.get("resume_from") is not None:
        fm.refuse("custom_hooks.ExpMomentumEMAHook.resume_from",
                  "3.x resumes the EMA model with the runner's checkpoint")
        return node
    skip_buffers = old.get("skip_buffers", False)
    if not isinstance(skip_buffers, bool):
        fm.refuse("custom_hooks.ExpMomentumEMAHook.skip_buffers", "not a literal bool")
        return node
    unknown = set(keys) - {"type", "momentum", "total_iter", "interval", "skip_buffers", "resume_from", "priority"}
    if unknown:
        fm.refuse(f"custom_hooks.ExpMomentumEMAHook.{min(unknown)}", "no such argument of 3.x's ExpMomentumEMA")
        return node
    arguments = [("type", "'EMAHook'"), ("ema_type", "'ExpMomentumEMA'"), *_taken(keys, ("momentum",)),
                 *(("gamma", node_code(keys["total_iter"])) for _ in ["total_iter"] if "total_iter" in keys),
                 *_taken(keys, ("interval",)), ("update_buffers", repr(not skip_buffers)),
                 *_taken(keys, ("priority",))]
    return cst.parse_expression(_call("dict", arguments))


def _taken(keys: Mapping[str, cst.BaseExpression], names: Sequence[str]) -> list[tuple[str, str]]:
    return [(name, node_code(keys[name])) for name in names if name in keys]


def _call(function: str, arguments: Sequence[tuple[str, str]]) -> str:
    return f"{function}(" + ", ".join(f"{key}={value}" for key, value in arguments) + ")"


# The 2.x default runtime as mmdet 2.28.2 ships it (but auto_scale_lr, which 3.x keeps): the examples' base.
_RUNTIME_2X = """
checkpoint_config = dict(interval=1)
# yapf:disable
log_config = dict(
    interval=50,
    hooks=[
        dict(type='TextLoggerHook'),
        # dict(type='TensorboardLoggerHook')
    ])
# yapf:enable
custom_hooks = [dict(type='NumClassCheckHook')]

dist_params = dict(backend='nccl')
log_level = 'INFO'
load_from = None
resume_from = None
workflow = [('train', 1)]

# disable opencv multithreading to avoid system being overloaded
opencv_num_threads = 0
# set multi-process start method as `fork` to speed up the training
mp_start_method = 'fork'
"""
_RUNTIME = {"runtime.py": _RUNTIME_2X}


def _config(before: str, after: str | None = None, title: str = "", files: Mapping[str, str] = _RUNTIME) -> Example:
    """An example config, beside the 2.x default runtime (``runtime.py``) unless ``files`` says otherwise."""
    return Example(before, after, kind=FileKind.CONFIG, title=title, files=files)

STEPS = (
    Step(
        id="R27, R28, R41, R42",
        summary="checkpoint_config, log_config and evaluation.save_best -> default_hooks, log_processor, vis_backends",
        run=_checkpoint_and_logging,
        examples=(
            _config(
                _RUNTIME_2X,
                """
                default_scope = 'mmdet'
                default_hooks = dict(
                    timer=dict(type='IterTimerHook'),
                    logger=dict(type='LoggerHook', interval=50),
                    param_scheduler=dict(type='ParamSchedulerHook'),
                    checkpoint=dict(type='CheckpointHook', interval=1),
                    sampler_seed=dict(type='DistSamplerSeedHook'),
                    visualization=dict(type='DetVisualizationHook'))
                # yapf:disable
                # dict(type='TensorboardLoggerHook')
                vis_backends = [dict(type='LocalVisBackend')]
                visualizer = dict(type='DetLocalVisualizer', vis_backends=vis_backends, name='visualizer')
                log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)
                # yapf:enable

                env_cfg = dict(
                    cudnn_benchmark=False,
                    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
                    dist_cfg=dict(backend='nccl'))
                log_level = 'INFO'
                load_from = None
                resume = False

                # disable opencv multithreading to avoid system being overloaded
                # set multi-process start method as `fork` to speed up the training
                """,
                title="the 2.x default runtime becomes the 3.x one",
                files={},
            ),
            _config(
                """
                _base_ = './runtime.py'
                checkpoint_config = dict(interval=4, max_keep_ckpts=3)  # keep the last three
                log_config = dict(interval=100)
                """,
                """
                _base_ = './runtime.py'
                # keep the last three
                default_hooks = dict(checkpoint=dict(interval=4, max_keep_ckpts=3), logger=dict(interval=100))
                log_processor = dict(window_size=100)
                """,
                title="a child overrides part of its base's hooks",
            ),
            _config(
                """
                _base_ = ['./schedule.py', './runtime.py']
                checkpoint_config = dict(interval=10000)
                """,
                """
                _base_ = ['./schedule.py', './runtime.py']
                default_hooks = dict(checkpoint=dict(interval=10000, by_epoch=False))
                log_processor = dict(by_epoch=False)
                """,
                files={**_RUNTIME, "schedule.py": "runner = dict(type='IterBasedRunner', max_iters=90000)\n"},
                title="an IterBasedRunner checkpoints and logs by iteration",
            ),
            _config(
                """
                _base_ = ['./evaluation.py', './runtime.py']
                checkpoint_config = dict(interval=2)
                """,
                """
                _base_ = ['./evaluation.py', './runtime.py']
                default_hooks = dict(checkpoint=dict(interval=2, save_best='auto'))
                """,
                files={**_RUNTIME, "evaluation.py": "evaluation = dict(interval=1, metric='bbox', save_best='auto')\n"},
                title="evaluation.save_best goes to the checkpoint hook",
            ),
            _config(
                """
                _base_ = './runtime.py'
                log_config = dict(
                    interval=50,
                    hooks=[
                        dict(type='TextLoggerHook'),
                        dict(type='TensorboardLoggerHook'),
                        dict(type='WandbLoggerHook', init_kwargs=dict(project='det'), log_artifact=False),
                    ])
                """,
                """
                _base_ = './runtime.py'
                default_hooks = dict(logger=dict(interval=50))
                vis_backends = [
                    dict(type='LocalVisBackend'),
                    dict(type='TensorboardVisBackend'),
                    dict(type='WandbVisBackend', init_kwargs=dict(project='det')),
                ]
                visualizer = dict(vis_backends=vis_backends)
                log_processor = dict(window_size=50)
                """,
                title="logger hooks become visualization backends",
            ),
            _config(
                """
                _base_ = './runtime.py'
                wandb = dict(type='MMDetWandbHook', log_checkpoint=True)
                log_config = dict(hooks=[dict(type='TextLoggerHook'), wandb])
                """,
                """
                _base_ = './runtime.py'
                wandb = dict(type='MMDetWandbHook', log_checkpoint=True)
                log_config = dict(hooks=[dict(type='TextLoggerHook'), wandb])
                vis_backends = [dict(type='LocalVisBackend'), dict(type='WandbVisBackend')]
                visualizer = dict(vis_backends=vis_backends)
                """,
                title="a hook argument with no 3.x equivalent is refused, its hooks left as written",
            ),
            _config(
                """
                default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=4))
                """,
                title="a 3.x config is left alone",
                files={},
            ),
        ),
    ),
    Step(
        id="R29",
        summary="cudnn_benchmark, mp_start_method, opencv_num_threads, dist_params -> env_cfg; resume_from -> "
        "resume (and load_from); workflow dropped",
        run=_environment,
        examples=(
            _config(
                """
                _base_ = './runtime.py'
                cudnn_benchmark = True
                dist_params = dict(backend='nccl', port=29555)
                resume_from = 'work_dirs/retinanet/latest.pth'
                """,
                """
                _base_ = './runtime.py'
                env_cfg = dict(cudnn_benchmark=True, dist_cfg=dict(backend='nccl', port=29555))
                resume = True
                load_from = 'work_dirs/retinanet/latest.pth'
                """,
                title="environment keys go to env_cfg; resume_from resumes from load_from",
            ),
            _config(
                """
                _base_ = ['./model.py', './runtime.py']
                opencv_num_threads = 2
                """,
                """
                _base_ = ['./model.py', './runtime.py']
                env_cfg = dict(mp_cfg=dict(opencv_num_threads=2), cudnn_benchmark=True)
                """,
                files={**_RUNTIME, "model.py": "model = dict(type='SingleStageDetector')\ncudnn_benchmark = True\n"},
                title="a base fragment's cudnn_benchmark reaches the configs inheriting it",
            ),
            _config(
                """
                _base_ = './runtime.py'
                workflow = [('train', 1), ('val', 1)]
                """,
                title="a val workflow phase is refused",
            ),
        ),
    ),
    Step(
        id="R39, R40",
        summary="custom_hooks: NumClassCheckHook dropped, ExpMomentumEMAHook -> EMAHook, SyncNormHook as ported",
        run=_custom_hooks,
        examples=(
            _config(
                """
                _base_ = './runtime.py'
                num_last_epochs = 15
                resume_from = None
                custom_hooks = [
                    dict(type='YOLOXModeSwitchHook', num_last_epochs=num_last_epochs, priority=48),
                    dict(type='SyncNormHook', num_last_epochs=num_last_epochs, interval=10, priority=48),
                    dict(type='ExpMomentumEMAHook', resume_from=resume_from, momentum=0.0001, priority=49)
                ]
                """,
                """
                _base_ = './runtime.py'
                num_last_epochs = 15
                resume = False
                custom_hooks = [
                    dict(type='YOLOXModeSwitchHook', num_last_epochs=num_last_epochs, priority=48),
                    dict(type='SyncNormHook', priority=48),
                    dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0001, update_buffers=True, priority=49)
                ]
                """,
                title="the YOLOX hooks, as the official ports write them",
            ),
            _config(
                """
                _base_ = ['./model.py', './runtime.py']
                checkpoint_config = dict(interval=2)
                custom_hooks = [dict(type='SetEpochInfoHook')]
                """,
                """
                _base_ = ['./model.py', './runtime.py']
                default_hooks = dict(checkpoint=dict(interval=2))
                """,
                files={**_RUNTIME, "model.py": "model = dict(type='TOOD')\n"},
                title="TOOD reads the epoch from the message hub",
            ),
            _config(
                """
                _base_ = './runtime.py'
                checkpoint_config = dict(interval=2)
                custom_hooks = [
                    dict(type='SyncNormHook', priority=48),
                    dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0001, update_buffers=True, priority=49)
                ]
                """,
                """
                _base_ = './runtime.py'
                default_hooks = dict(checkpoint=dict(interval=2))
                custom_hooks = [
                    dict(type='SyncNormHook', priority=48),
                    dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0001, update_buffers=True, priority=49)
                ]
                """,
                title="3.x hooks in a file being migrated stay",
            ),
            _config(
                """
                _base_ = './runtime.py'
                custom_hooks = [
                    dict(type='NumClassCheckHook'),
                    dict(type='CheckInvalidLossHook', interval=50, priority='VERY_LOW')
                ]
                """,
                title="hooks 3.x keeps as they are stay",
            ),
            _config(
                """
                _base_ = './runtime.py'
                custom_hooks = [dict(type='RFSearchHook', mode='search')]
                """,
                title="a hook with no 3.x equivalent is refused",
            ),
        ),
    ),
)
