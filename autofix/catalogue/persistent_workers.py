"""Crash fix and rule ``persistent-workers``: a dataloader that keeps workers it does not have."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from autofix.crashes import CrashFix, LogSignature, Remedy
from autofix.rule import Applicability, ConfigRule, Example, FileKind, Finding, KeyPath, SetKey, Severity

PERSISTENT_WORKERS = CrashFix(
    id="persistent-workers",
    summary="persistent_workers without workers crashes torch.",
    crash="ValueError: persistent_workers option needs num_workers > 0 (torch DataLoader)",
    what_happened=(
        "A dataloader in the config asks torch to keep its worker processes alive between epochs "
        "(persistent_workers=True) but has no worker processes (num_workers=0, often set to debug or "
        "on Windows), and torch's DataLoader refuses the combination when mmengine builds it."
    ),
    default_transforms=("persistent-workers",),
    remedies=(
        Remedy(
            "persistent-workers",
            "set persistent_workers=False on every dataloader that has no workers",
            "none: with no worker processes there is nothing to keep alive",
        ),
    ),
    signatures=(
        LogSignature(
            message=r"persistent_workers option needs num_workers > 0",
            raised_in=("__init__",),
            place="torch's DataLoader (torch/utils/data/dataloader.py)",
            raised_in_file="torch/utils/data/dataloader.py",
        ),
    ),
    path_hint="CONFIG",
    log_examples=(
        """
        Traceback (most recent call last):
          File "tools/train.py", line 121, in <module>
            main()
          File "/usr/lib/python3.10/site-packages/mmengine/runner/runner.py", line 1728, in train
            self._train_loop = self.build_train_loop(
          File "/usr/lib/python3.10/site-packages/mmengine/runner/runner.py", line 1421, in build_dataloader
            data_loader = DataLoader(
          File "/usr/lib/python3.10/site-packages/torch/utils/data/dataloader.py", line 298, in __init__
            raise ValueError("persistent_workers option needs num_workers > 0")
        ValueError: persistent_workers option needs num_workers > 0
        """,
        """
        ValueError: persistent_workers option needs num_workers > 0
        """,
    ),
)


def dataloader_settings(config: Mapping[str, Any]) -> Iterator[tuple[KeyPath, int, bool]]:
    """(path, effective worker count, persistent_workers) of every dataloader the runner builds.

    mmengine 3.x: each top-level ``*_dataloader`` (``num_workers`` defaults to 0, as in torch).
    mmdet 2.x: ``data`` (``workers_per_gpu``) and its ``*_dataloader`` overrides, which inherit it.
    """
    for key, loader in config.items():
        if str(key).endswith("_dataloader") and isinstance(loader, Mapping):
            yield (key,), loader.get("num_workers") or 0, bool(loader.get("persistent_workers"))
    data = config.get("data")
    if isinstance(data, Mapping) and "workers_per_gpu" in data:
        workers, persistent = data.get("workers_per_gpu") or 0, bool(data.get("persistent_workers"))
        yield ("data",), workers, persistent
        for key, loader in data.items():
            if str(key).endswith("_dataloader") and isinstance(loader, Mapping):
                yield (
                    ("data", key),
                    loader.get("workers_per_gpu", workers) or 0,
                    bool(loader.get("persistent_workers", persistent)),
                )


class PersistentWorkers(ConfigRule):
    """Turn off persistent_workers without workers.

    ## What it does
    For each dataloader of the effective config (`train_dataloader`, `val_dataloader`,
    `test_dataloader`, any other `*_dataloader`; mmdet 2.x `data` and `data.*_dataloader`) whose worker
    count (`num_workers`, 2.x `workers_per_gpu`) is 0 or unset while `persistent_workers` is True, sets
    `persistent_workers=False` in the file given: in its own definition, else as the smallest override
    of the inherited dataloader, proved with mmengine.

    ## Why
    torch's `DataLoader.__init__` raises "ValueError: persistent_workers option needs num_workers > 0"
    when mmengine builds such a dataloader. Configs set `num_workers=0` to debug or on Windows and keep
    the `persistent_workers=True` their base sets.

    ## Fix safety
    Without worker processes there is nothing to keep alive, so training is the same. Setting
    `num_workers` instead would change speed and memory, which is the user's choice.
    """

    id = "persistent-workers"
    summary = "Sets persistent_workers=False on dataloaders whose num_workers is 0"
    crash = PERSISTENT_WORKERS.crash
    tradeoff = "None: a dataloader without worker processes has nothing to keep alive"
    applicability = Applicability.SAFE
    prefilter = ("_base_", "read_base", "persistent_workers")
    chain_prefilter = ("persistent_workers",)
    override_comment = "no worker processes to keep alive"
    examples = (
        Example(
            kind=FileKind.CONFIG,
            title="the dataloader's own definition",
            before="""
            train_dataloader = dict(
                batch_size=2,
                num_workers=0,
                persistent_workers=True,
                dataset=dict(type='CocoDataset'))
            """,
            after="""
            train_dataloader = dict(
                batch_size=2,
                num_workers=0,
                persistent_workers=False,
                dataset=dict(type='CocoDataset'))
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="num_workers=0 set over a base that keeps workers: the override gains the flag",
            files={
                "base.py": """
                train_dataloader = dict(batch_size=2, num_workers=2, persistent_workers=True)
                val_dataloader = dict(batch_size=1, num_workers=2, persistent_workers=True)
                """,
            },
            before="""
            _base_ = './base.py'
            train_dataloader = dict(num_workers=0)
            val_dataloader = dict(num_workers=0)
            """,
            after="""
            _base_ = './base.py'
            train_dataloader = dict(num_workers=0, persistent_workers=False)
            val_dataloader = dict(num_workers=0, persistent_workers=False)
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="inherited as it is: a merged override, the base is left alone",
            files={
                "base.py": """
                test_dataloader = dict(batch_size=1, num_workers=0, persistent_workers=True)
                """,
            },
            before="""
            _base_ = './base.py'
            """,
            after="""
            _base_ = './base.py'

            # autofix persistent-workers: no worker processes to keep alive
            test_dataloader = dict(persistent_workers=False)
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="new style (read_base): an attribute assignment",
            files={
                "base.py": """
                train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=True)
                """,
            },
            before="""
            from mmengine.config import read_base

            with read_base():
                from .base import *
            """,
            after="""
            from mmengine.config import read_base

            with read_base():
                from .base import *

            # autofix persistent-workers: no worker processes to keep alive
            train_dataloader.persistent_workers = False
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="mmdet 2.x: workers_per_gpu",
            before="""
            data = dict(samples_per_gpu=2, workers_per_gpu=0, persistent_workers=True, train=dict(type='CocoDataset'))
            """,
            after="""
            data = dict(samples_per_gpu=2, workers_per_gpu=0, persistent_workers=False, train=dict(type='CocoDataset'))
            """,
        ),
        Example(
            kind=FileKind.CONFIG,
            title="left alone: workers to keep, or nothing kept",
            before="""
            train_dataloader = dict(batch_size=2, num_workers=2, persistent_workers=True)
            val_dataloader = dict(batch_size=1, num_workers=0, persistent_workers=False)
            """,
        ),
    )

    def findings(self, config: Mapping[str, Any], options: Mapping[str, Any]) -> list[Finding]:
        return [
            Finding(
                f"{'.'.join(path)} has persistent_workers=True but {workers} worker processes",
                Severity.CRASH,
                details={"dataloader": ".".join(path), "num_workers": workers},
                edits=(SetKey((*path, "persistent_workers"), False),),
                detail="set persistent_workers=False",
            )
            for path, workers, persistent in dataloader_settings(config)
            if persistent and not workers
        ]
