"""Crash fix and rule ``ckpt-weights-only``: torch >= 2.6 refuses mmengine's own checkpoints.

torch 2.6 made ``torch.load`` default to ``weights_only=True``, which unpickles tensors and plain
containers only; checkpoints saved by mmengine 0.10.x hold its message hub's ``HistoryBuffer``s and
numpy values, and mmengine's checkpoint loaders call ``torch.load`` without ``weights_only``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import libcst as cst

from autofix.crashes import CrashFix, LogSignature, Remedy
from autofix.cst_helpers import InsideFunctions, append_keyword, dotted_name, has_star_args, keyword_index
from autofix.environment import installed_file
from autofix.rule import Applicability, Example, Option, Rule, TransformContext

_ENV_VAR = "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"
# The decorator of mmengine's checkpoint loaders (load_from_local, _pavi, _ceph, _openmmlab, and any a project adds).
_REGISTER = "CheckpointLoader.register_scheme"

CKPT_WEIGHTS_ONLY = CrashFix(
    id="ckpt-weights-only",
    summary="torch >= 2.6 refuses the checkpoints mmengine saves.",
    crash="_pickle.UnpicklingError: Weights only load failed ... Unsupported global: GLOBAL "
    "mmengine.logging.history_buffer.HistoryBuffer was not an allowed global by default "
    "(mmengine load_from_local under torch >= 2.6)",
    what_happened=(
        "torch 2.6 changed torch.load's default to weights_only=True, which unpickles only tensors and plain "
        "containers. A checkpoint saved by mmengine 0.10.x also holds the training state of its message hub "
        "(mmengine.logging.history_buffer.HistoryBuffer objects) and numpy values, and mmengine's checkpoint "
        "loaders (runner/checkpoint.py load_from_local and the like) call torch.load without weights_only, so "
        "resuming, load_from or init_detector with such a checkpoint fails. No released mmengine (0.10.7 included) "
        "passes weights_only=False."
    ),
    default_transforms=("ckpt-weights-only",),
    remedies=(
        Remedy(
            "ckpt-weights-only",
            "make the installed mmengine's checkpoint loaders (runner/checkpoint.py) call torch.load with "
            "weights_only=False, as mmengine's main branch does",
            "none at run time, but it edits an installed library: reinstalling or upgrading mmengine undoes it; "
            "mmengine then unpickles any checkpoint in full, so load only checkpoints you trust (as before torch 2.6)",
            target="--mmengine",
        ),
        Remedy(
            _ENV_VAR,
            f"set {_ENV_VAR}=1 for the training run (PowerShell: $env:{_ENV_VAR}=1), which makes every torch.load "
            "that does not pass weights_only load in full",
            "no edit, but every run must set it, and it reaches every torch.load of the run, not only mmengine's; "
            "load only checkpoints you trust",
            run=f"{_ENV_VAR}=1 {{python}} tools/train.py CONFIG",
        ),
    ),
    signatures=(
        LogSignature(
            # torch's advice may stand between "Weights only load failed" and the global; a log cut to
            # the WeightsUnpickler line still shows the global, which is what makes it mmengine's.
            message=r"(?:Weights only load failed[\s\S]{0,2000}?)?Unsupported global: GLOBAL "
            r"(?:mmengine|numpy)\.[\w.]+ was not an allowed global",
            raised_in=("load_from_local", "load_from_pavi", "load_from_ceph", "load_from_openmmlab"),
            place="mmengine's checkpoint loader (mmengine/runner/checkpoint.py load_from_local)",
            family=r"Weights only load failed",
            raised_in_file="mmengine/runner/checkpoint.py",
        ),
    ),
    path_hint="--mmengine",
    lookalike_advice=(
        f"for a file you trust: pass weights_only=False to your own torch.load, or run with {_ENV_VAR}=1 (it reaches "
        "every torch.load that passes no weights_only; `autofix apply --fix ckpt-weights-only --mmengine` only mmengine's)"
    ),
    log_examples=(
        """
        Traceback (most recent call last):
          File "tools/train.py", line 121, in <module>
            main()
          File "tools/train.py", line 117, in main
            runner.train()
          File "/home/user/miniconda3/envs/openmmlab/lib/python3.10/site-packages/mmengine/runner/runner.py", line 1728, in train
            self.load_or_resume()
          File "/home/user/miniconda3/envs/openmmlab/lib/python3.10/site-packages/mmengine/runner/runner.py", line 1668, in load_or_resume
            self.resume(resume_from)
          File "/home/user/miniconda3/envs/openmmlab/lib/python3.10/site-packages/mmengine/runner/runner.py", line 2044, in resume
            checkpoint = self.load_checkpoint(
          File "/home/user/miniconda3/envs/openmmlab/lib/python3.10/site-packages/mmengine/runner/checkpoint.py", line 548, in _load_checkpoint
            return CheckpointLoader.load_checkpoint(filename, map_location, logger)
          File "/home/user/miniconda3/envs/openmmlab/lib/python3.10/site-packages/mmengine/runner/checkpoint.py", line 330, in load_checkpoint
            return checkpoint_loader(filename, map_location)
          File "/home/user/miniconda3/envs/openmmlab/lib/python3.10/site-packages/mmengine/runner/checkpoint.py", line 347, in load_from_local
            checkpoint = torch.load(filename, map_location=map_location)
          File "/home/user/miniconda3/envs/openmmlab/lib/python3.10/site-packages/torch/serialization.py", line 1470, in load
            raise pickle.UnpicklingError(_get_wo_message(str(e))) from None
        _pickle.UnpicklingError: Weights only load failed. This file can still be loaded, to do so you have two options, do those steps only if you trust the source of the checkpoint.
        	(1) In PyTorch 2.6, we changed the default value of the `weights_only` argument in `torch.load` from `False` to `True`. Re-running `torch.load` with `weights_only` set to `False` will likely succeed, but it can result in arbitrary code execution. Do it only if you got the file from a trusted source.
        	(2) Alternatively, to load with `weights_only=True` please check the recommended steps in the following error message.
        	WeightsUnpickler error: Unsupported global: GLOBAL mmengine.logging.history_buffer.HistoryBuffer was not an allowed global by default. Please use `torch.serialization.add_safe_globals([HistoryBuffer])` or the `torch.serialization.safe_globals([HistoryBuffer])` context manager to allowlist this global if you trust this class/function.

        Check the documentation of torch.load to learn more about types accepted by default with weights_only https://pytorch.org/docs/stable/generated/torch.load.html.
        """,
        """
        加载预训练权重的时候报错了，torch 是 2.6.0：
        [rank0]: Traceback (most recent call last):
        [rank0]:   File "D:\\mmdetection\\demo\\image_demo.py", line 192, in <module>
        [rank0]:     main()
        [rank0]:   File "D:\\mmdetection\\mmdet\\apis\\inference.py", line 98, in init_detector
        [rank0]:     checkpoint = load_checkpoint(model, checkpoint, map_location='cpu')
        [rank0]:   File "C:\\Users\\wang\\anaconda3\\envs\\mmdet\\lib\\site-packages\\mmengine\\runner\\checkpoint.py", line 347, in load_from_local
        [rank0]:     checkpoint = torch.load(filename, map_location=map_location)
        [rank0]:   File "C:\\Users\\wang\\anaconda3\\envs\\mmdet\\lib\\site-packages\\torch\\serialization.py", line 1524, in load
        [rank0]:     raise pickle.UnpicklingError(_get_wo_message(str(e))) from None
        [rank0]: _pickle.UnpicklingError: Weights only load failed. This file can still be loaded, to do so you have two options, do those steps only if you trust the source of the checkpoint.
        [rank0]: 	(1) In PyTorch 2.6, we changed the default value of the `weights_only` argument in `torch.load` from `False` to `True`. Re-running `torch.load` with `weights_only` set to `False` will likely succeed, but it can result in arbitrary code execution. Do it only if you got the file from a trusted source.
        [rank0]: 	(2) Alternatively, to load with `weights_only=True` please check the recommended steps in the following error message.
        [rank0]: 	WeightsUnpickler error: Unsupported global: GLOBAL numpy.core.multiarray._reconstruct was not an allowed global by default. Please use `torch.serialization.add_safe_globals([_reconstruct])` or the `torch.serialization.safe_globals([_reconstruct])` context manager to allowlist this global if you trust this class/function.
        请问怎么解决？
        """,
        """
        _pickle.UnpicklingError: Weights only load failed. ... WeightsUnpickler error: Unsupported global: GLOBAL numpy._core.multiarray.scalar was not an allowed global by default.
        """,
        """
        WeightsUnpickler error: Unsupported global: GLOBAL mmengine.logging.history_buffer.HistoryBuffer was not an allowed global by default. Please use `torch.serialization.add_safe_globals([HistoryBuffer])`
        """,
    ),
)


class _Rewriter(InsideFunctions):
    def encloses(self, function: cst.FunctionDef) -> bool:
        """Decorated ``@CheckpointLoader.register_scheme(...)`` (or ``@mmengine.runner.CheckpointLoader...``)."""
        for decorator in function.decorators:
            called = decorator.decorator.func if isinstance(decorator.decorator, cst.Call) else decorator.decorator
            name = dotted_name(called) or ""
            if name == _REGISTER or name.endswith("." + _REGISTER):
                return True
        return False

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        if not self.depth or dotted_name(updated.func) != "torch.load":
            return updated
        # A call that already says (or may say, through **kwargs) what it wants is left alone: that
        # is also what makes the rewrite idempotent.
        if keyword_index(updated.args, "weights_only") is not None or has_star_args(updated.args):
            return updated
        return updated.with_changes(args=append_keyword(updated.args, "weights_only", cst.Name("False")))


class CkptWeightsOnly(Rule):
    """Load mmengine checkpoints with weights_only=False.

    ## What it does
    Inside mmengine's checkpoint loaders (functions decorated `@CheckpointLoader.register_scheme(...)`:
    `load_from_local`, `load_from_pavi`, `load_from_ceph`, `load_from_openmmlab`, and any loader a
    project registers), adds `weights_only=False` to each `torch.load(...)` call that does not pass
    `weights_only`. Only those calls change; every other `torch.load` keeps torch's safe default.
    Point it at the installed `mmengine/runner/checkpoint.py`; `--mmengine` finds it.

    ## Why
    torch 2.6 changed `torch.load`'s default to `weights_only=True`, which unpickles only tensors
    and plain containers. mmengine 0.10.x saves its message hub's training state in every
    checkpoint: `mmengine.logging.history_buffer.HistoryBuffer` objects and numpy values. Resuming,
    `load_from` or `init_detector` then fails with "_pickle.UnpicklingError: Weights only load
    failed ... Unsupported global: GLOBAL mmengine.logging.history_buffer.HistoryBuffer was not an
    allowed global by default" (or `numpy.core.multiarray._reconstruct`). mmengine's main branch
    passes `weights_only=False` in these same calls; no release does yet. (`http://` checkpoints
    load through `torch.hub.load_state_dict_from_url`, whose default is already `weights_only=False`.)

    ## Fix safety
    The loaded checkpoint is what torch before 2.6 loaded, so training and results are unchanged.
    `weights_only=False` unpickles in full, which can run code a malicious checkpoint carries:
    load only checkpoints you trust, as with torch before 2.6. A call that passes `weights_only`
    (either value) or `**kwargs` is left alone. Reinstalling or upgrading mmengine brings the
    original calls back; `TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1` for the run is the remedy that edits nothing.
    """

    id = "ckpt-weights-only"
    summary = "Passes weights_only=False to torch.load in mmengine's checkpoint loaders (runner/checkpoint.py)"
    crash = CKPT_WEIGHTS_ONLY.crash
    tradeoff = "Edits an installed library: reinstalling or upgrading mmengine undoes it; load only trusted checkpoints"
    latent_message = "torch >= 2.6 refuses mmengine's checkpoints in this torch.load"
    applicability = Applicability.SAFE
    prefilter = ("register_scheme",)
    options = (Option("mmengine", "also process mmengine's runner/checkpoint.py, found in the training environment "
                      "(the active virtualenv or conda env, or --python) without importing mmengine", flag=True),)
    examples = (
        Example(
            title="mmengine 0.10.7's load_from_local",
            before="""
            @CheckpointLoader.register_scheme(prefixes='')
            def load_from_local(filename, map_location):
                filename = osp.expanduser(filename)
                if not osp.isfile(filename):
                    raise FileNotFoundError(f'{filename} can not be found.')
                checkpoint = torch.load(filename, map_location=map_location)
                return checkpoint
            """,
            after="""
            @CheckpointLoader.register_scheme(prefixes='')
            def load_from_local(filename, map_location):
                filename = osp.expanduser(filename)
                if not osp.isfile(filename):
                    raise FileNotFoundError(f'{filename} can not be found.')
                checkpoint = torch.load(filename, map_location=map_location, weights_only=False)
                return checkpoint
            """,
        ),
        Example(
            title="a call over several lines, inside a with block",
            before="""
            @CheckpointLoader.register_scheme(prefixes=[r'(\\S+\\:)?s3://', r'(\\S+\\:)?petrel://'])
            def load_from_ceph(filename, map_location=None, backend='petrel'):
                with io.BytesIO(file_backend.get(filename)) as buffer:
                    checkpoint = torch.load(
                        buffer,
                        map_location=map_location,
                    )
                return checkpoint
            """,
            after="""
            @CheckpointLoader.register_scheme(prefixes=[r'(\\S+\\:)?s3://', r'(\\S+\\:)?petrel://'])
            def load_from_ceph(filename, map_location=None, backend='petrel'):
                with io.BytesIO(file_backend.get(filename)) as buffer:
                    checkpoint = torch.load(
                        buffer,
                        map_location=map_location,
                        weights_only=False,
                    )
                return checkpoint
            """,
        ),
        Example(
            title="weights_only already passed (mmengine main), **kwargs, or a torch.load no loader registers",
            before="""
            @CheckpointLoader.register_scheme(prefixes='')
            def load_from_local(filename, map_location):
                return torch.load(filename, map_location=map_location, weights_only=False)

            @CheckpointLoader.register_scheme(prefixes='pavi://')
            def load_from_pavi(filename, map_location=None, **kwargs):
                return torch.load(filename, map_location=map_location, **kwargs)

            def load_from_checkpoint(path):
                return torch.load(path)
            """,
        ),
    )

    def transform(self, module: cst.Module, context: TransformContext) -> cst.Module:
        return module.visit(_Rewriter())

    def extra_paths(self, options: Mapping[str, Any]) -> list[Path]:
        return [installed_file("mmengine", "runner/checkpoint.py", "--mmengine")] if options.get("mmengine") else []
