"""Learning-rate curves, one value per training iteration (migration notes §4.3).

``lr_curve`` runs a resolved 3.x config's ``param_scheduler`` with mmengine's own schedulers on a
one-parameter SGD, stepping them as mmengine's ParamSchedulerHook does. ``mmcv_lr_curve`` is a short
re-implementation of mmcv 1.x's LrUpdaterHook for a 2.x config's ``lr_config``: what the config
trained with before the migration, to report the difference (mmengine's ``LinearLR(end=w)`` reaches
the base lr one iteration before mmcv's linear warmup of ``w`` iterations does).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any


class CurveUnavailable(Exception):
    """The schedule cannot be simulated here (a scheduler outside mmengine, an lr policy not re-implemented)."""


def _training_length(epochs: Any, iterations: Any, epoch_length: int) -> tuple[int, int]:
    """(epochs, iterations per epoch) of a run: an iteration-based run is one epoch of all its iterations."""
    if epochs:
        return int(epochs), epoch_length
    if iterations:
        return 1, int(iterations)
    raise CurveUnavailable("no training length (max_epochs or max_iters)")


def lr_curve(cfg: Mapping[str, Any], epoch_length: int) -> list[float]:
    """The lr of each iteration of a resolved 3.x config's whole training, as mmengine schedules it."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch deprecates the jit.interface that mmengine.optim uses
        import mmengine.optim  # noqa: F401 (registers the schedulers)
    from mmengine.registry import PARAM_SCHEDULERS

    train_cfg = cfg.get("train_cfg") or {}
    by_epoch_loop = "max_epochs" in train_cfg
    epochs, length = _training_length(train_cfg.get("max_epochs"), train_cfg.get("max_iters"), epoch_length)
    try:
        lr = cfg["optim_wrapper"]["optimizer"]["lr"]
    except (KeyError, TypeError):
        raise CurveUnavailable("no optim_wrapper.optimizer.lr") from None
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr, momentum=0.9)
    configured = cfg.get("param_scheduler") or []
    schedulers = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mmengine warns that optimizer.step() was never called
        for scheduler in configured if isinstance(configured, Sequence) else [configured]:
            scheduler = dict(scheduler)
            # Runner._build_param_scheduler's default end: an iteration-based loop is one epoch long
            scheduler.setdefault("end", epochs if scheduler.get("by_epoch", True) else epochs * length)
            if PARAM_SCHEDULERS.get(scheduler["type"]) is None:
                raise CurveUnavailable(f"{scheduler['type']!r} is not an mmengine scheduler")
            schedulers.append(
                PARAM_SCHEDULERS.build(scheduler, default_args=dict(optimizer=optimizer, epoch_length=epoch_length))
            )
        by_iteration = [s for s in schedulers if not s.by_epoch]
        by_epoch = [s for s in schedulers if s.by_epoch]
        group = optimizer.param_groups[0]
        curve = []
        for _ in range(epochs):
            for _ in range(length):
                curve.append(group["lr"])
                for scheduler in by_iteration:
                    scheduler.step()
            if by_epoch_loop:  # IterBasedTrainLoop never ends an epoch before the run does
                for scheduler in by_epoch:
                    scheduler.step()
    return curve


def _regular_lr(policy: str, options: Mapping[str, Any], base_lr: float, progress: int, max_progress: int) -> float:
    """mmcv 1.x's ``<Policy>LrUpdaterHook.get_lr``."""
    if policy == "Fixed":
        return base_lr
    if policy == "Step":
        step, gamma, min_lr = options["step"], options.get("gamma", 0.1), options.get("min_lr")
        exponent = progress // step if isinstance(step, int) else next(
            (i for i, s in enumerate(step) if progress < s), len(step))
        lr = base_lr * gamma**exponent
        return lr if min_lr is None else max(lr, min_lr)
    if policy == "Poly":
        power, min_lr = options.get("power", 1.0), options.get("min_lr", 0.0)
        return (base_lr - min_lr) * (1 - progress / max_progress) ** power + min_lr
    if policy == "CosineAnnealing":
        ratio = options.get("min_lr_ratio")
        target = base_lr * ratio if ratio is not None else options["min_lr"]
        return target + 0.5 * (base_lr - target) * (math.cos(math.pi * progress / max_progress) + 1)
    raise CurveUnavailable(f"lr_config.policy={policy!r} is not re-implemented")


def _warmup_lr(warmup: str, ratio: float, warmup_iters: int, iteration: int, regular: float) -> float:
    """mmcv 1.x's ``LrUpdaterHook.get_warmup_lr``."""
    if warmup == "constant":
        return regular * ratio
    if warmup == "linear":
        return regular * (1 - (1 - iteration / warmup_iters) * (1 - ratio))
    if warmup == "exp":
        return regular * ratio ** (1 - iteration / warmup_iters)
    raise CurveUnavailable(f"lr_config.warmup={warmup!r} is not an mmcv warmup")


def mmcv_lr_curve(cfg: Mapping[str, Any], epoch_length: int, warmup_lead: int = 0) -> list[float]:
    """The lr of each iteration of a resolved 2.x config's whole training, as mmcv 1.x's LrUpdaterHook set it.

    With ``warmup_lead=1`` the warmup runs one iteration ahead: the official mapping
    (``LinearLR``/``ConstantLR`` with ``end=warmup_iters``) gives an lr between the two curves.
    """
    options = dict(cfg.get("lr_config") or {})
    policy = options.pop("policy", None)
    if policy is None:
        raise CurveUnavailable("no lr_config.policy")
    policy = policy.title() if policy == policy.lower() else policy  # mmcv's register_lr_hook
    runner = cfg.get("runner") or {"max_epochs": cfg.get("total_epochs")}
    iteration_runner = runner.get("type") == "IterBasedRunner"
    by_epoch = options.get("by_epoch", not iteration_runner)  # IterBasedRunner sets by_epoch=False by default
    warmup, ratio = options.get("warmup"), options.get("warmup_ratio", 0.1)
    warmup_iters = options.get("warmup_iters", 0) * (epoch_length if options.get("warmup_by_epoch") else 1)
    try:
        base_lr = cfg["optimizer"]["lr"]
    except (KeyError, TypeError):
        raise CurveUnavailable("no optimizer.lr") from None
    epochs, length = _training_length(runner.get("max_epochs"), runner.get("max_iters"), epoch_length)
    lr, regular = base_lr, None
    curve = []
    for epoch in range(epochs):
        if by_epoch and not iteration_runner:  # before_train_epoch (IterBasedRunner never calls it)
            lr = regular = _regular_lr(policy, options, base_lr, epoch, epochs)
        for step in range(length):
            iteration = epoch * length + step
            progress = iteration + warmup_lead
            if not by_epoch:  # before_train_iter
                regular = _regular_lr(policy, options, base_lr, iteration, epochs * length)
                in_warmup = warmup is not None and progress < warmup_iters
                lr = _warmup_lr(warmup, ratio, warmup_iters, progress, regular) if in_warmup else regular
            elif warmup is not None and regular is not None and progress <= warmup_iters:
                in_warmup = progress < warmup_iters
                lr = _warmup_lr(warmup, ratio, warmup_iters, progress, regular) if in_warmup else regular
            curve.append(lr)
    return curve


def warmup_iterations(cfg: Mapping[str, Any], epoch_length: int) -> int:
    """How many iterations a 2.x config's lr warmup lasts (0 without one)."""
    options = cfg.get("lr_config") or {}
    if options.get("warmup") is None:
        return 0
    return options.get("warmup_iters", 0) * (epoch_length if options.get("warmup_by_epoch") else 1)


def max_relative_difference(a: Sequence[float], b: Sequence[float], start: int = 0, stop: int | None = None) -> float:
    """The largest ``|a - b| / |b|`` over iterations ``start:stop`` (inf when the curves differ in length)."""
    if len(a) != len(b):
        return math.inf
    pairs = list(zip(a, b))[start:stop]
    return max((abs(x - y) / abs(y) if y else abs(x) for x, y in pairs), default=0.0)


def departure(curve: Sequence[float], mmcv: Sequence[float], mmcv_ahead: Sequence[float],
              tolerance: float = 1e-9) -> int | None:
    """The first iteration where an mmengine curve leaves mmcv's, None if it never does. The one-iteration
    warmup shift of the official mapping is no departure: the lr may lie anywhere between mmcv's curve and
    the same with its warmup one iteration ahead (``mmcv_lr_curve(..., warmup_lead=1)``)."""
    for iteration, (value, low, high) in enumerate(zip(curve, mmcv, mmcv_ahead)):
        slack = tolerance * max(abs(low), abs(high))
        if not min(low, high) - slack <= value <= max(low, high) + slack:
            return iteration
    return None if len(curve) == len(mmcv) else min(len(curve), len(mmcv))
