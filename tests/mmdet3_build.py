"""Oracle 2 of the 2.x -> 3.x migration: does a config build under mmdet 3.3.0's registries, on CPU, with no data?

For each config: the model (``MODELS.build``; ``init_weights`` is never called, so nothing is downloaded), every
transform of every dataloader pipeline (dataset wrappers included), the optim wrapper (``AmpOptimWrapper`` built
as a plain ``OptimWrapper``: AMP refuses a CPU), every ``param_scheduler`` (epoch length 100) and the type of every
evaluator. mmdet 3.3.0 and mmcv-lite 2.1.0 (mmcv without its compiled ops, which are stubbed: nothing runs them)
are installed once, ``--no-deps``, into ``.cache/mmdet3-site``, beside autofix's test environment rather than in
it: autofix must never import mmdet. ``build(configs)`` runs this file as a script in subprocesses of the test
interpreter with that folder on ``PYTHONPATH``; the script prints one JSON object per config.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from corpus import CACHE

SITE = CACHE / "mmdet3-site"
# mmdet's and mmcv's runtime dependencies that autofix's test environment (torch, mmengine, numpy, opencv,
# matplotlib) lacks; with --no-deps nothing else is pulled in, and the test environment's numpy is shared.
REQUIREMENTS = ("mmdet==3.3.0", "mmcv-lite==2.1.0", "pycocotools", "shapely", "scipy", "terminaltables", "six", "tqdm")
# The parts of a config that are built, in order; a part that needs the model is skipped when the model failed.
PARTS = ("load", "model", "transforms", "optim_wrapper", "param_scheduler", "evaluator")
EPOCH_LENGTH = 100
READY = "mmdet 3.3.0 imported"  # the checker's first line, once mmdet is imported
CHECKING = "mmdet3_build checking "  # on standard error before each config, so a death names its config's output
# How mmdet and mmengine word a missing optional package (instaboostfast, panopticapi, albumentations, mmpretrain,
# transformers, fairscale, lap, ...): "X is not installed, please install it by: pip install X".
INSTALLED = ("mmdet", "mmcv", "mmengine", "torch")
MISSING_PACKAGE = re.compile(r"is not installed|pip install|please install", re.IGNORECASE)


def installed() -> bool:
    marker = SITE / "requirements.txt"
    return marker.is_file() and marker.read_text().split() == list(REQUIREMENTS)


def site() -> Path:
    """The folder holding mmdet 3.3.0 and its runtime dependencies, installed with pip on first use."""
    if installed():
        return SITE
    CACHE.mkdir(exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="mmdet3-site-", dir=CACHE))
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
         "--target", str(staging), *REQUIREMENTS],
        check=True,
    )
    (staging / "requirements.txt").write_text("\n".join(REQUIREMENTS) + "\n")
    if not installed():  # else another test run installed it meanwhile, and may be using it
        shutil.rmtree(SITE, ignore_errors=True)  # an install of other requirements
        try:
            staging.rename(SITE)
            return SITE
        except OSError:  # another test run renamed its copy first
            pass
    shutil.rmtree(staging)
    return SITE


def build(configs: Sequence[Path], jobs: int = 1, cwd: Path | None = None) -> dict[Path, dict]:
    """Each config -> its result: ``{"ok", "failed" (the first part that failed), "error" (its first line),
    "environment" (the failure is a missing optional package or a download), "parts", "seconds"}``.

    The configs are split over ``jobs`` processes; each imports mmdet once. A config whose build kills its process
    is reported as failed in part ``"process"`` and the batch goes on after it. ``cwd`` is where relative paths
    inside configs (a teacher's config) are found."""
    environment = {**os.environ, "PYTHONPATH": str(site()), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    batches = [list(configs[start::jobs]) for start in range(jobs)]
    results: dict[Path, dict] = {}
    while batches := [batch for batch in batches if batch]:
        # Files, not pipes: a process whose pipe is full would wait for the ones read before it.
        outputs = [(tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")) for _ in batches]
        processes = [
            subprocess.Popen([sys.executable, __file__, *map(str, batch)], cwd=cwd, env=environment, text=True,
                             stdout=stdout, stderr=stderr)
            for batch, (stdout, stderr) in zip(batches, outputs)
        ]
        remaining = []
        for batch, process, (stdout, stderr) in zip(batches, processes, outputs):
            process.wait()
            stdout.seek(0)
            stderr.seek(0)
            ready, *lines = stdout.read().splitlines() or [""]
            errors = stderr.read()
            if ready != READY:
                raise RuntimeError(f"the mmdet 3.3.0 checker did not start:\n{errors}")
            for line in lines:
                result = json.loads(line)
                results[Path(result.pop("config"))] = result
            left = [config for config in batch if config not in results]
            if left:  # the process died while building left[0]: its last words follow the last CHECKING line
                last_words = errors.rpartition(CHECKING)[2].strip().splitlines()[1:][-1:]
                death = ": ".join([f"exit status {process.returncode}", *last_words])
                results[left[0]] = summary({"process": death}, environment=False, seconds=0.0)
                remaining.append(left[1:])
        batches = remaining
    return results


def summary(parts: dict[str, str], environment: bool, seconds: float) -> dict:
    failed = next((part for part, outcome in parts.items() if outcome not in ("ok", "absent", "skipped")), None)
    return {
        "ok": failed is None,
        "failed": failed,
        "error": parts[failed] if failed else None,
        "environment": environment,
        "parts": parts,
        "seconds": round(seconds, 3),
    }


def lost_parts(migrated: dict, official: dict) -> dict[str, str]:
    """The parts the official port builds and the migrated config does not (absent counts), with the outcome."""
    return {
        part: migrated["parts"].get(part, "skipped")
        for part, outcome in official["parts"].items()
        if outcome == "ok" and migrated["parts"].get(part) != "ok"
    }


# ---- everything below runs in the checker process, where mmdet is importable ----


class NetworkBlocked(OSError):
    """Raised for any connection attempt: a config that downloads while it is built needs a network."""


def isolate() -> None:
    """Stub mmcv's compiled extension (mmcv-lite has none; ``ext_loader.load_ext`` only checks the names exist and
    no op is run), refuse every connection, skip weight fills and start a one-process group, before mmdet is
    imported."""
    import socket
    import types
    from importlib.machinery import ModuleSpec

    class CompiledOps(types.ModuleType):
        def __getattr__(self, name: str):
            if name.startswith("__"):
                raise AttributeError(name)

            def stub(*args, **kwargs):
                raise RuntimeError(f"mmcv._ext.{name} is a stub: compiled ops are not built here")

            return stub

    ops = CompiledOps("mmcv._ext")
    ops.__spec__ = ModuleSpec("mmcv._ext", None)
    sys.modules["mmcv._ext"] = ops

    def refuse(*args, **kwargs):
        raise NetworkBlocked("network access refused while building")

    socket.socket.connect = refuse
    socket.create_connection = refuse
    socket.getaddrinfo = refuse

    # Weights are built, never filled: their values cannot decide whether a config builds, and the random fills
    # of torch.nn.init took over 90% of a model's build time.
    import torch.nn.init

    for name in dir(torch.nn.init):
        if name.endswith("_") and not name.startswith("_"):
            setattr(torch.nn.init, name, lambda tensor, *args, **kwargs: tensor)

    # mmcv's SyncBatchNorm asks the default process group for its size when built: one process, in-memory store.
    import torch.distributed

    torch.distributed.init_process_group("gloo", store=torch.distributed.HashStore(), rank=0, world_size=1)


def causes(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def needs_environment(error: BaseException) -> bool:
    """A missing optional package or a download, anywhere in the exception chain."""
    return any(
        isinstance(cause, NetworkBlocked)
        or isinstance(cause, ModuleNotFoundError) and (cause.name or "").split(".")[0] not in INSTALLED
        or MISSING_PACKAGE.search(str(cause))
        for cause in causes(error)
    )


def first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {' '.join(lines[0].split()) if lines else ''}"


def pipelines(dataset) -> Iterator[list]:
    """Every pipeline of a dataset config, inside wrappers (``dataset=``, ``datasets=[...]``) too."""
    if not isinstance(dataset, dict):
        return
    if isinstance(dataset.get("pipeline"), list):
        yield dataset["pipeline"]
    yield from pipelines(dataset.get("dataset"))
    for inner in dataset.get("datasets") or ():
        yield from pipelines(inner)


def as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def default_end(cfg, scheduler: dict):
    """The ``end`` mmengine's runner gives a scheduler that sets none: the train loop's length."""
    train = cfg.get("train_cfg") or {}
    if "max_epochs" in train:
        max_epochs, max_iters = train["max_epochs"], train["max_epochs"] * EPOCH_LENGTH
    elif "max_iters" in train:
        max_epochs, max_iters = 1, train["max_iters"]
    else:
        return None
    return max_epochs if scheduler.get("by_epoch", True) else max_iters


def check(path: str) -> dict:
    import copy

    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import PARAM_SCHEDULERS, init_default_scope

    started = time.perf_counter()
    parts = dict.fromkeys(PARTS, "skipped")
    environment = False

    def attempt(part: str, action):
        """Run one part's build; an action that returns 0 (nothing to build) leaves the part ``absent``."""
        nonlocal environment
        try:
            value = action()
        except Exception as error:  # noqa: BLE001 - every failure is a finding, reported per part
            parts[part] = first_line(error)
            environment = environment or needs_environment(error)
            return None
        parts[part] = "absent" if value == 0 else "ok"
        return value

    cfg = attempt("load", lambda: Config.fromfile(path))
    if cfg is None:
        return summary(parts, environment, time.perf_counter() - started)
    init_default_scope(cfg.get("default_scope", "mmdet"))
    from mmdet.registry import METRICS, MODELS, TRANSFORMS

    def build_model():
        if "model" not in cfg:
            raise KeyError("the config has no `model`")
        return MODELS.build(cfg["model"])

    def build_transforms() -> int:
        transforms = [
            transform
            for loader in ("train_dataloader", "val_dataloader", "test_dataloader")
            for pipeline in pipelines((cfg.get(loader) or {}).get("dataset"))
            for transform in pipeline
        ]
        for transform in transforms:
            TRANSFORMS.build(transform)
        return len(transforms)

    def build_plain_optim_wrapper():
        plain = copy.deepcopy(cfg["optim_wrapper"])
        if plain.get("type") == "AmpOptimWrapper":  # it asserts a GPU when built
            plain["type"] = "OptimWrapper"
            for amp_only in ("loss_scale", "dtype", "use_fsdp"):
                plain.pop(amp_only, None)
        return build_optim_wrapper(model, plain)

    def build_schedulers() -> int:
        schedulers = [copy.deepcopy(scheduler) for scheduler in as_list(cfg.get("param_scheduler"))]
        for scheduler in schedulers:
            if scheduler.get("end") is None and default_end(cfg, scheduler) is not None:
                scheduler["end"] = default_end(cfg, scheduler)
            PARAM_SCHEDULERS.build(scheduler, default_args={"optimizer": optim_wrapper, "epoch_length": EPOCH_LENGTH})
        return len(schedulers)

    def check_evaluators() -> int:
        evaluators = [(key, evaluator) for key in ("val_evaluator", "test_evaluator") for evaluator in as_list(cfg.get(key))]
        for key, evaluator in evaluators:
            if METRICS.get(evaluator["type"]) is None:
                raise KeyError(f"{evaluator['type']} is not in the mmdet::metric registry ({key})")
        return len(evaluators)

    model = attempt("model", build_model)
    attempt("transforms", build_transforms)
    optim_wrapper = None
    if "optim_wrapper" not in cfg:
        parts["optim_wrapper"] = "absent"
    elif model is not None:
        optim_wrapper = attempt("optim_wrapper", build_plain_optim_wrapper)
    if "param_scheduler" not in cfg:
        parts["param_scheduler"] = "absent"
    elif optim_wrapper is not None:
        attempt("param_scheduler", build_schedulers)
    attempt("evaluator", check_evaluators)
    return summary(parts, environment, time.perf_counter() - started)


def main(paths: list[str]) -> None:
    # Results go to the real standard output; whatever mmdet or mmengine print goes to standard error.
    results = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    isolate()
    import logging

    import mmdet.registry  # noqa: F401 - a broken environment fails here, before any config
    from mmengine.logging import MMLogger

    MMLogger.get_current_instance().setLevel(logging.ERROR)
    print(READY, file=results, flush=True)
    for path in paths:
        print(f"{CHECKING}{path}", file=sys.stderr, flush=True)
        print(json.dumps({"config": path, **check(path)}), file=results, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
