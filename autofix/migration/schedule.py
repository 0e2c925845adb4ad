"""The schedule group: 2.x ``runner``, ``lr_config``, ``momentum_config`` become train loops and ``param_scheduler``.

## What it maps
- R17: ``runner=dict(type='EpochBasedRunner', max_epochs=N)`` (or a bare ``total_epochs=N``) ->
  ``train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=N, val_interval=I)``,
  ``val_cfg=dict(type='ValLoop')``, ``test_cfg=dict(type='TestLoop')``; ``I`` is
  ``evaluation.interval`` (2.x default 1) and ``evaluation.dynamic_intervals`` ->
  ``train_cfg.dynamic_intervals``.
- R42: ``runner=dict(type='IterBasedRunner', max_iters=N)`` -> ``IterBasedTrainLoop(max_iters=N)``
  (over an epoch-based base loop: ``_delete_=True``, as the official ports); its schedulers count
  iterations (mmcv's IterBasedRunner made ``by_epoch=False`` the lr hook's default). The runtime group
  writes the matching ``log_processor.by_epoch=False`` and ``default_hooks.checkpoint.by_epoch=False``.
- R19-R25: ``lr_config`` -> ``param_scheduler``, always rebuilt whole from the resolved 2.x
  ``lr_config`` and the loop length (lists do not merge: a child writing only
  ``lr_config=dict(step=[16, 22])`` or ``runner=dict(max_epochs=24)`` gets the whole list):
  warmup ``linear`` -> ``LinearLR(start_factor=warmup_ratio, by_epoch=False, begin=0, end=warmup_iters)``,
  ``constant`` -> ``ConstantLR(factor=warmup_ratio, ...)`` (the official ports' ``end=warmup_iters``:
  mmengine reaches the full lr one iteration before mmcv); ``warmup_by_epoch=True`` -> the same in
  epochs with ``by_epoch=True, convert_to_iter_based=True`` (mmcv turned it into iterations too);
  policy ``step`` -> ``MultiStepLR(begin=0, end=N, by_epoch=True, milestones=step, gamma)``
  (``StepLR(step_size)`` for an int step), ``CosineAnnealing`` -> ``CosineAnnealingLR(begin=0,
  T_max=N, end=N, by_epoch=True, eta_min|eta_min_ratio)``, ``exp`` -> ``ExponentialLR(gamma)``,
  ``fixed`` -> no scheduler. An lr updated every iteration of an epoch runner (``by_epoch=False``)
  becomes ``by_epoch=True, convert_to_iter_based=True`` where it is a fraction of training
  (cosine), and stays in iterations where mmcv counted iterations (``step``, ``exp``).
- R26: ``momentum_config`` ``CosineAnnealing(min_momentum)`` -> ``CosineAnnealingMomentum``.
- Model settings: a 2.x top-level ``train_cfg``/``test_cfg`` (very old configs) -> ``model.train_cfg`` /
  ``model.test_cfg``, moved into the file's ``model`` (or a partial ``model = dict(train_cfg=...)``): mmdet
  2.x's ``build_detector`` passed them to a model without its own. The loops take their names then.

## Refused (left as written, named in the file's notes)
- ``lr_config.warmup``: ``'exp'`` (the documented ``ExponentialLR(gamma=warmup_ratio)`` decays the
  lr instead of warming it up; YOLOX's pattern is R38, not mapped yet) or an unknown warmup.
- ``lr_config.policy``: YOLOX, poly (``PolyLR(end=N)`` anneals over N-1 steps, mmcv over N), and
  every policy not listed above.
- ``lr_config.<key>``: an argument the policy's mmengine scheduler has no equivalent for
  (``step`` with ``min_lr``); ``lr_config.by_epoch`` / ``lr_config.warmup_by_epoch`` under an
  IterBasedRunner (mmcv counted data-loader passes there).
- ``lr_config.warmup_iters`` / ``.step`` / ``.gamma`` / ``.min_lr``: a schedule mmcv itself refuses
  (a warmup without ``warmup_iters``, ``step`` without steps, cosine without exactly one floor).
- ``momentum_config``: anything but a CosineAnnealing momentum without warmup on an epoch runner.
- ``runner.type`` / ``runner.<key>``: a runner other than EpochBasedRunner and IterBasedRunner, or
  an argument the train loops lack (``evaluation.start`` is the evaluation group's refusal).
- a top-level ``train_cfg``/``test_cfg`` beside a model that has its own (2.x refused both), a model that is not
  a dict literal, or one written before a variable the setting reads; then ``runner`` / ``lr_config``
  (whatever of them the file writes) too: the loop configs would take their names. A child whose
  ``model`` has ``_delete_=True`` under a base's top-level setting is refused too (the base's model loses it).
- ``lr_config``: a schedule in a file with no ``runner`` in it or its bases (its length is unknown).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from autofix.config_edit import render
from autofix.cst_helpers import (
    is_mapping_literal,
    is_true,
    mapping_value,
    nested_dict_call,
    node_code,
    referenced_names,
)
from autofix.migration import FileMigration, Refused, Step
from autofix.migration.optim import DELETE, dict_source, indented, without_delete
from autofix.rule import Example

_LOOPS = {"EpochBasedRunner": ("EpochBasedTrainLoop", "max_epochs"), "IterBasedRunner": ("IterBasedTrainLoop", "max_iters")}
_SCHEDULE_KEYS = ("lr_config", "momentum_config")
_LOOP_KEYS = ("runner", "total_epochs")
_WARMUP_KEYS = {"warmup", "warmup_iters", "warmup_ratio", "warmup_by_epoch", "by_epoch"}
# mmcv policy (hook name without LrUpdaterHook) -> the arguments this group maps
_POLICY_KEYS = {"Step": {"step", "gamma", "min_lr"}, "CosineAnnealing": {"min_lr", "min_lr_ratio"}, "Exp": {"gamma"},
                "Fixed": set()}
_MISSING = object()


@dataclass(frozen=True)
class Arg:
    """A value of the 3.x config and the source that writes it."""

    value: Any
    code: str


def literal(value: Any) -> Arg:
    return Arg(value, render(value))


class Source:
    """Values of the resolved 2.x config as the file writes them: its own expression where it writes
    the key (a variable, ``1.0 / 3``), else the resolved value as a literal."""

    def __init__(self, fm: FileMigration) -> None:
        self.fm = fm

    def written(self, name: str, key: str | None = None) -> str | None:
        node = self.fm.written(name)
        if key is not None:
            node = mapping_value(node, key) if is_mapping_literal(node) else None
        return None if node is None else node_code(node)

    def __call__(self, name: str, key: str, value: Any) -> Arg:
        code = self.written(name, key)
        return literal(value) if code is None else Arg(value, code)


# --- the loop ------------------------------------------------------------------------------------------


def loop_for(old: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ``train_cfg`` the resolved 2.x ``old`` means, or None where it has no runner. Raises Refused."""
    runner = without_delete(old.get("runner"))
    if runner is None:
        if old.get("total_epochs") is None:
            return None
        runner = {"type": "EpochBasedRunner", "max_epochs": old["total_epochs"]}  # mmdet 2.x's fallback
    if runner.get("type") not in _LOOPS:
        raise Refused("runner.type", f"{runner.get('type')} has no mmengine train loop")
    loop, length = _LOOPS[runner["type"]]
    for key in runner:
        if key not in ("type", length):
            raise Refused(f"runner.{key}", f"{loop} takes no {key}")
    if runner.get(length) is None:
        raise Refused(f"runner.{length}", f"{runner['type']} without {length}")
    evaluation = without_delete(old.get("evaluation")) or {}
    train_cfg = {"type": loop, length: runner[length], "val_interval": evaluation.get("interval", 1)}
    if evaluation.get("dynamic_intervals"):
        train_cfg["dynamic_intervals"] = evaluation["dynamic_intervals"]
    return train_cfg


def _loop_sources(fm: FileMigration) -> dict[str, str]:
    """The loop keys the file writes itself (as 2.x keys): 3.x key -> the file's expression."""
    source = Source(fm)
    written = {
        "type": source.written("runner", "type"),
        "max_epochs": source.written("runner", "max_epochs"),
        "max_iters": source.written("runner", "max_iters"),
        "val_interval": source.written("evaluation", "interval"),
        "dynamic_intervals": source.written("evaluation", "dynamic_intervals"),
    }
    if "runner" not in fm.old:
        written["max_epochs"] = source.written("total_epochs")
    if written["type"] is not None:
        written["type"] = ""  # the loop's name is not the runner's: written, but rendered anew
    return {key: code for key, code in written.items() if code is not None}


def loop_override(target: Mapping[str, Any], base: Mapping[str, Any] | None, sources: Mapping[str, str]) -> str | None:
    """The ``train_cfg`` value that, over the bases' ``base``, gives ``target``: the keys that differ
    and those the file writes, or the whole loop (``_delete_=True`` over another loop type)."""
    def item(key: str) -> str:
        return sources.get(key) or render(target[key])  # `type` is written as "": rendered

    if base is None or base.get("type") != target["type"] or any(
        key not in target and key not in ("dynamic_intervals", DELETE) for key in base
    ):
        items = ([] if base is None else [(DELETE, "True")]) + [(key, item(key)) for key in target]
        return dict_source("train_cfg", items)
    items = []
    for key in (*target, *(key for key in base if key not in target and key != DELETE)):
        if key not in target:
            items.append((key, "None"))  # dynamic_intervals the 2.x child dropped
        elif key in sources or plain(base.get(key, _MISSING)) != plain(target[key]):
            items.append((key, item(key)))
    return dict_source("train_cfg", items) if items else None


# --- the schedulers ------------------------------------------------------------------------------------


Scheduler = dict[str, Arg]


def schedulers_for(old: Mapping[str, Any], train_cfg: Mapping[str, Any], source: Source) -> list[Scheduler]:
    """``param_scheduler`` for the resolved 2.x ``old`` on the loop ``train_cfg``. Raises Refused."""
    epochs = train_cfg["type"] == "EpochBasedTrainLoop"
    length_key = "max_epochs" if epochs else "max_iters"
    length = source("runner", length_key, train_cfg[length_key])
    if "runner" not in old:  # mmdet 2.x's fallback: total_epochs
        length = Arg(length.value, source.written("total_epochs") or length.code)
    lr = without_delete(old.get("lr_config"))
    schedulers = []
    if lr is not None:
        policy = _lr_policy(lr, epochs, length, source)  # first: YOLOX's exp warmup is its policy's refusal
        schedulers = [*_warmup(lr, epochs, source), *policy]
    if old.get("momentum_config") is not None:
        schedulers += _momentum(without_delete(old["momentum_config"]), epochs, length, source)
    return schedulers


_TRUE, _FALSE, _ZERO = literal(True), literal(False), literal(0)


def _warmup(lr: Mapping[str, Any], epochs: bool, source: Source) -> list[Scheduler]:
    kind = lr.get("warmup")
    if kind is None:
        return []
    if kind not in ("linear", "constant"):
        reason = ("ExponentialLR(gamma=warmup_ratio) decays the lr instead of warming it up" if kind == "exp"
                  else f"mmcv has no {kind!r} warmup")
        raise Refused("lr_config.warmup", reason)
    if not lr.get("warmup_iters"):
        raise Refused("lr_config.warmup_iters", "mmcv refuses a warmup without warmup_iters")
    ratio = source("lr_config", "warmup_ratio", lr.get("warmup_ratio", 0.1))
    scheduler = {"type": literal("LinearLR"), "start_factor": ratio} if kind == "linear" else {
        "type": literal("ConstantLR"), "factor": ratio}
    end = source("lr_config", "warmup_iters", lr.get("warmup_iters"))
    if lr.get("warmup_by_epoch"):
        if not epochs:
            raise Refused("lr_config.warmup_by_epoch", "IterBasedRunner has no epoch length to warm up by")
        # mmcv warmed up for warmup_iters x len(data_loader) iterations: mmengine converts the same way
        return [{**scheduler, "by_epoch": _TRUE, "begin": _ZERO, "end": end, "convert_to_iter_based": _TRUE}]
    return [{**scheduler, "by_epoch": _FALSE, "begin": _ZERO, "end": end}]


def _by_epoch(config: Mapping[str, Any], name: str, epochs: bool) -> bool:
    by_epoch = config.get("by_epoch", epochs)  # mmcv's IterBasedRunner made by_epoch=False the default
    if by_epoch and not epochs:
        raise Refused(f"{name}.by_epoch", "an epoch-updated schedule under IterBasedRunner counts data-loader passes")
    return by_epoch


def _lr_policy(lr: Mapping[str, Any], epochs: bool, length: Arg, source: Source) -> list[Scheduler]:
    policy = str(lr.get("policy"))
    policy = policy.title() if policy == policy.lower() else policy  # how mmcv names the hook
    if policy == "YOLOX":
        raise Refused("lr_config.policy", "YOLOX's schedule (R38) is not mapped yet")
    if policy not in _POLICY_KEYS:
        raise Refused("lr_config.policy", f"no exact mmengine scheduler for the {lr.get('policy')!r} policy")
    for key in lr:
        if key not in _WARMUP_KEYS | _POLICY_KEYS[policy] | {"policy"}:
            raise Refused(f"lr_config.{key}", f"the {policy} schedule's mmengine scheduler has no {key}")
    required = {"Step": "step", "Exp": "gamma"}.get(policy)
    if required is not None and lr.get(required) is None:
        raise Refused(f"lr_config.{required}", f"mmcv's {policy} schedule needs {required}")
    by_epoch = _by_epoch(lr, "lr_config", epochs)
    if policy == "Fixed":
        return []
    if policy == "CosineAnnealing":  # a fraction of the whole run: an iteration-updated one converts from epochs
        span = {"begin": _ZERO, "T_max": length, "end": length, "by_epoch": literal(epochs)}
        if epochs and not by_epoch:
            span["convert_to_iter_based"] = _TRUE
        return [{"type": literal("CosineAnnealingLR"), **span, **_floor(lr, "lr_config", "min_lr", source)}]
    # Step and Exp count epochs in an epoch runner, else iterations (no end needed: mmcv had none)
    span = {"begin": _ZERO, "end": length, "by_epoch": literal(by_epoch)} if by_epoch or not epochs else {
        "by_epoch": _FALSE}
    if policy == "Exp":
        return [{"type": literal("ExponentialLR"), **span, "gamma": source("lr_config", "gamma", lr.get("gamma"))}]
    if lr.get("min_lr") is not None:
        raise Refused("lr_config.min_lr", "mmengine's step schedulers do not clip at a minimum lr")
    gamma = source("lr_config", "gamma", lr.get("gamma", 0.1))
    step = source("lr_config", "step", lr.get("step"))
    if isinstance(step.value, int):
        return [{"type": literal("StepLR"), **span, "step_size": step, "gamma": gamma}]
    return [{"type": literal("MultiStepLR"), **span, "milestones": step, "gamma": gamma}]


def _floor(config: Mapping[str, Any], name: str, key: str, source: Source) -> Scheduler:
    """mmcv's ``min_<x>`` / ``min_<x>_ratio`` as mmengine's ``eta_min`` / ``eta_min_ratio``."""
    if (config.get(key) is None) == (config.get(f"{key}_ratio") is None):
        raise Refused(f"{name}.{key}", f"mmcv's cosine annealing needs exactly one of {key} and {key}_ratio")
    if config.get(f"{key}_ratio") is not None:
        return {"eta_min_ratio": source(name, f"{key}_ratio", config[f"{key}_ratio"])}
    return {"eta_min": source(name, key, config.get(key))}


def _momentum(momentum: Mapping[str, Any], epochs: bool, length: Arg, source: Source) -> list[Scheduler]:
    if momentum.get("policy") != "CosineAnnealing" or not epochs or momentum.get("warmup") is not None or any(
        key not in ("policy", "by_epoch", "min_momentum", "min_momentum_ratio") for key in momentum
    ):
        raise Refused("momentum_config", "only a CosineAnnealing momentum without warmup on an epoch runner is mapped")
    span = {"begin": _ZERO, "T_max": length, "end": length, "by_epoch": _TRUE}
    if not momentum.get("by_epoch", True):
        span["convert_to_iter_based"] = _TRUE
    return [{"type": literal("CosineAnnealingMomentum"), **span,
             **_floor(momentum, "momentum_config", "min_momentum", source)}]


def schedulers_source(schedulers: Sequence[Scheduler]) -> str:
    """The list in the official ports' layout: a scheduler a line where it fits, else an argument a line."""
    lines = []
    for scheduler in schedulers:
        flat = f"dict({', '.join(f'{key}={arg.code}' for key, arg in scheduler.items())})"
        if len(flat) <= 75 and "\n" not in flat:
            lines.append(f"    {flat}")
        else:
            lines.append("    dict(\n" + ",\n".join(f"        {key}={arg.code}" for key, arg in scheduler.items()) + ")")
    return "[\n" + ",\n".join(lines) + "\n]" if lines else "[]"


# --- the step ------------------------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """Tuples as lists, so a resolved config compares equal to the literal it came from."""
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


# A 2.x config holds one of these and none of the 3.x keys: its top-level train_cfg/test_cfg are model settings.
_2X_KEYS = ("data", "optimizer", "runner", "lr_config", "total_epochs", "evaluation", "checkpoint_config", "log_config")
_3X_KEYS = ("train_dataloader", "optim_wrapper", "param_scheduler", "val_cfg")
_MODEL_SETTINGS = ("train_cfg", "test_cfg")


def _model_settings(old: Mapping[str, Any], name: str) -> bool:
    """Whether the resolved ``old`` holds a 2.x top-level ``name``: the model's settings, which mmdet 2.x's
    build_detector passed to the model (a loop mmengine builds has a ``type`` or a ``by_epoch``)."""
    value = old.get(name)
    return (isinstance(value, Mapping) and "type" not in value and "by_epoch" not in value
            and any(key in old for key in _2X_KEYS) and not any(key in old for key in _3X_KEYS))


def migrate_model_settings(fm: FileMigration) -> None:
    """2.x top-level ``train_cfg``/``test_cfg`` -> ``model.train_cfg``/``model.test_cfg`` (mmdet 2.x's
    build_detector gave them to a model without its own, with a deprecation warning)."""
    for name in _MODEL_SETTINGS:
        if not _model_settings(fm.old, name):
            continue
        model, value = fm.written("model"), fm.written(name)
        if value is None:
            if model is not None and is_true(mapping_value(model, "_delete_")) and mapping_value(model, name) is None:
                fm.refuse(name, f"the bases' top-level {name} goes into their model, which this model's _delete_ drops")
            continue
        if isinstance(fm.old.get("model"), Mapping) and name in fm.old["model"]:
            fm.refuse(name, f"the model has a {name} too: mmdet 2.x's build_detector refused both")
        elif model is not None and not is_mapping_literal(model):
            fm.refuse(name, "model is not a dict literal here: it cannot take the setting")
        elif model is not None and referenced_names(value) & set(fm.names()[fm.names().index("model") + 1:]):
            fm.refuse(name, f"{name} reads a variable written after model")
        elif model is not None:
            fm.set_nested("model", (name,), indented(node_code(value)))  # one level in
            fm.remove(name)
        else:
            fm.set("model", nested_dict_call((name,), value), replacing=name)


def migrate_schedule(fm: FileMigration) -> None:
    legacy = [name for name in (*_LOOP_KEYS, *_SCHEDULE_KEYS) if fm.written(name) is not None]
    if not legacy and any(fm.written(name) is not None for name in ("train_cfg", "param_scheduler")):
        return  # a 3.x file
    try:
        loop = loop_for(fm.old)
    except Refused as refused:
        fm.refuse(refused.construct, refused.reason, keep=(*_LOOP_KEYS, *_SCHEDULE_KEYS))
        return
    if loop is None:
        if fm.written("lr_config") is not None:
            fm.refuse("lr_config", "no runner in this file or its bases: the schedule's length is unknown",
                      keep=_SCHEDULE_KEYS)
        return
    clash = next((name for name in ("train_cfg", "val_cfg", "test_cfg") if legacy and fm.written(name) is not None), None)
    if clash is not None:  # 2.x gave top-level train_cfg/test_cfg to the model: the loops cannot be written beside them
        for construct in legacy:
            fm.refuse(construct, f"the top-level {clash} here is a 2.x model {clash}, where the 3.x loop goes",
                      keep=(*_LOOP_KEYS, *_SCHEDULE_KEYS))
        return
    try:
        schedulers = schedulers_for(fm.old, loop, Source(fm))  # read before the runner statement goes
    except Refused as refused:
        fm.refuse(refused.construct, refused.reason, keep=_SCHEDULE_KEYS)
        schedulers = None
    train_cfg = loop_override(loop, fm.base.get("train_cfg"), _loop_sources(fm))
    if train_cfg is not None:
        fm.set("train_cfg", train_cfg, replacing=_LOOP_KEYS)
    for name, loop_type in (("val_cfg", "ValLoop"), ("test_cfg", "TestLoop")):
        if "type" not in fm.base.get(name, {}):
            fm.set(name, f"dict(type='{loop_type}')", after="train_cfg" if name == "val_cfg" else "val_cfg")
    if schedulers is not None:
        values = [{key: plain(arg.value) for key, arg in scheduler.items()} for scheduler in schedulers]
        if any(fm.written(name) for name in _SCHEDULE_KEYS) or values != plain(fm.base.get("param_scheduler", [])):
            fm.set("param_scheduler", schedulers_source(schedulers), replacing=(*_SCHEDULE_KEYS, "test_cfg"))


_SCHEDULE_1X = """
    lr_config = dict(policy='step', warmup='linear', warmup_iters=500, warmup_ratio=0.001, step=[8, 11])
    runner = dict(type='EpochBasedRunner', max_epochs=12)
    """  # the examples' base: mmdet 2.x's _base_/schedules/schedule_1x.py

STEPS = (
    Step(
        id="R17 (model settings)",
        summary="a 2.x top-level train_cfg/test_cfg (model settings) goes into model, freeing the loops' names",
        run=migrate_model_settings,
        examples=(
            Example(
                title="very old 2.x settings beside the model, as build_detector took them",
                before="""
                model = dict(type='FCOS')
                # training and testing settings
                train_cfg = dict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5))
                test_cfg = dict(score_thr=0.05)
                runner = dict(type='EpochBasedRunner', max_epochs=12)
                """,
                after="""
                model = dict(type='FCOS', train_cfg=dict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5)), test_cfg=dict(score_thr=0.05))
                # training and testing settings
                train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=12, val_interval=1)
                val_cfg = dict(type='ValLoop')
                test_cfg = dict(type='TestLoop')
                """,
            ),
            Example(
                title="without a model of its own: a partial model override where train_cfg stood",
                before="""
                train_cfg = dict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5))
                runner = dict(type='EpochBasedRunner', max_epochs=12)
                """,
                after="""
                model = dict(train_cfg=dict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5)))
                train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=12, val_interval=1)
                val_cfg = dict(type='ValLoop')
                test_cfg = dict(type='TestLoop')
                """,
            ),
            Example(
                title="Refused: a model with its own train_cfg (2.x refused both), the loop's name is taken",
                before="""
                model = dict(type='FCOS', train_cfg=dict(debug=False))
                train_cfg = dict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5))
                runner = dict(type='EpochBasedRunner', max_epochs=12)
                """,
                after=None,
            ),
        ),
    ),
    Step(
        id="R17, R19-R26, R42",
        summary="runner + lr_config + momentum_config + evaluation.interval -> train_cfg/val_cfg/test_cfg + param_scheduler",
        run=migrate_schedule,
        examples=(
            Example(
                title="R17, R19: a schedule base",
                before="""
                # learning policy
                lr_config = dict(
                    policy='step',
                    warmup='linear',
                    warmup_iters=500,
                    warmup_ratio=0.001,
                    step=[8, 11])
                runner = dict(type='EpochBasedRunner', max_epochs=12)
                """,
                after="""
                # learning policy
                param_scheduler = [
                    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
                    dict(
                        type='MultiStepLR',
                        begin=0,
                        end=12,
                        by_epoch=True,
                        milestones=[8, 11],
                        gamma=0.1)
                ]
                train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=12, val_interval=1)
                val_cfg = dict(type='ValLoop')
                test_cfg = dict(type='TestLoop')
                """,
            ),
            Example(
                title="A child's runner: the loop in part, the schedule whole (lists do not merge)",
                files={"schedule.py": _SCHEDULE_1X},
                before="""
                _base_ = './schedule.py'
                max_epochs = 24
                lr_config = dict(step=[16, 22])
                runner = dict(max_epochs=max_epochs)
                evaluation = dict(interval=2)
                """,
                after="""
                _base_ = './schedule.py'
                max_epochs = 24
                param_scheduler = [
                    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
                    dict(
                        type='MultiStepLR',
                        begin=0,
                        end=max_epochs,
                        by_epoch=True,
                        milestones=[16, 22],
                        gamma=0.1)
                ]
                train_cfg = dict(max_epochs=max_epochs, val_interval=2)
                """,
            ),
            Example(
                title="R42: an iteration-based child of an epoch-based base",
                files={"schedule.py": _SCHEDULE_1X},
                before="""
                _base_ = './schedule.py'
                lr_config = dict(step=[60000, 80000])
                runner = dict(_delete_=True, type='IterBasedRunner', max_iters=90000)
                evaluation = dict(interval=10000)
                """,
                after="""
                _base_ = './schedule.py'
                param_scheduler = [
                    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
                    dict(
                        type='MultiStepLR',
                        begin=0,
                        end=90000,
                        by_epoch=False,
                        milestones=[60000, 80000],
                        gamma=0.1)
                ]
                train_cfg = dict(
                    _delete_=True,
                    type='IterBasedTrainLoop',
                    max_iters=90000,
                    val_interval=10000)
                """,
            ),
            Example(
                title="R20, R25: constant warmup, cosine updated every iteration",
                before="""
                lr_config = dict(
                    policy='CosineAnnealing',
                    by_epoch=False,
                    min_lr_ratio=0.01,
                    warmup='constant',
                    warmup_iters=1000,
                    warmup_ratio=1.0 / 3)
                total_epochs = 100
                """,
                after="""
                param_scheduler = [
                    dict(type='ConstantLR', factor=1.0 / 3, by_epoch=False, begin=0, end=1000),
                    dict(
                        type='CosineAnnealingLR',
                        begin=0,
                        T_max=100,
                        end=100,
                        by_epoch=True,
                        convert_to_iter_based=True,
                        eta_min_ratio=0.01)
                ]
                train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100, val_interval=1)
                val_cfg = dict(type='ValLoop')
                test_cfg = dict(type='TestLoop')
                """,
            ),
            Example(
                title="R26: a cosine momentum beside the lr schedule",
                before="""
                lr_config = dict(policy='CosineAnnealing', min_lr=0)
                momentum_config = dict(policy='CosineAnnealing', min_momentum_ratio=0.85 / 0.95)
                runner = dict(type='EpochBasedRunner', max_epochs=36)
                """,
                after="""
                param_scheduler = [
                    dict(
                        type='CosineAnnealingLR',
                        begin=0,
                        T_max=36,
                        end=36,
                        by_epoch=True,
                        eta_min=0),
                    dict(
                        type='CosineAnnealingMomentum',
                        begin=0,
                        T_max=36,
                        end=36,
                        by_epoch=True,
                        eta_min_ratio=0.85 / 0.95)
                ]
                train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=36, val_interval=1)
                val_cfg = dict(type='ValLoop')
                test_cfg = dict(type='TestLoop')
                """,
            ),
            Example(
                title="Refused: exp warmup outside YOLOX",
                before="""
                lr_config = dict(policy='step', warmup='exp', warmup_iters=500, warmup_ratio=0.1, step=[8, 11])
                runner = dict(type='EpochBasedRunner', max_epochs=12)
                """,
                after="""
                lr_config = dict(policy='step', warmup='exp', warmup_iters=500, warmup_ratio=0.1, step=[8, 11])
                train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=12, val_interval=1)
                val_cfg = dict(type='ValLoop')
                test_cfg = dict(type='TestLoop')
                """,
            ),
        ),
    ),
)
