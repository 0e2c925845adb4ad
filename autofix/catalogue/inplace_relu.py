"""In-place op on a saved ReLU output breaks backward.

The crash fix `inplace-relu`: an in-place operation overwrote a ReLU output that backward needs; how
`autofix diagnose` recognises it, and its remedies, best first.
"""

from __future__ import annotations

from autofix.crashes import CrashFix, LogSignature, Remedy

INPLACE_RELU = CrashFix(
    id="inplace-relu",
    summary="In-place op on a ReLU output breaks backward.",
    crash="RuntimeError: one of the variables needed for gradient computation has been "
    "modified by an inplace operation ... ReluBackward",
    what_happened=(
        "Autograd keeps each ReLU's output for the backward pass. A later in-place operation on that "
        "output (another in-place ReLU such as nn.ReLU(inplace=True), mmcv ConvModule's default or "
        "F.relu_; an augmented assignment such as out += identity; or a tensor method ending in _) "
        "changed it, so loss.backward() found it modified and stopped. The operation to change is the "
        "one that overwrote the output; `autofix check` on your model files points at it."
    ),
    default_transforms=("relu-no-inplace",),
    remedies=(
        Remedy(
            "relu-no-inplace",
            "make ReLUs out of place (nn.ReLU, F.relu, relu_, ConvModule, ReLU act_cfg dicts)",
            "a little more activation memory; results unchanged",
        ),
        Remedy(
            "inplace-add",
            "rewrite augmented assignments in forward methods (out += identity -> out = out + identity), "
            "for a ReLU output changed by += that relu-no-inplace cannot reach",
            "a little more memory (one new tensor per rewritten line); results unchanged",
        ),
    ),
    signatures=(
        LogSignature(
            # torch <= 1.x names the node ReluBackward0/1, torch 2.x "Relu".
            message=r"one of the variables needed for gradient computation has been modified by an inplace "
            r"operation(?s:.{0,300}?)which is output \d+ of Relu(?:Backward\d*)?\b",
            raised_in=("backward", "_engine_run_backward", "run_backward", "grad"),
            place="loss.backward() (torch.autograd)",
            family=r"modified by an inplace operation",
        ),
    ),
    path_hint="PATH",
    log_examples=(
        """
        Traceback (most recent call last):
          File "/home/user/miniconda3/envs/mmlab/lib/python3.8/site-packages/mmcv/runner/hooks/optimizer.py", line 56, in after_train_iter
            runner.outputs['loss'].backward()
          File "/home/user/miniconda3/envs/mmlab/lib/python3.8/site-packages/torch/autograd/__init__.py", line 145, in backward
            Variable._execution_engine.run_backward(
        RuntimeError: one of the variables needed for gradient computation has been modified by an inplace operation: [torch.cuda.FloatTensor [2, 2048, 25, 25]], which is output 0 of ReluBackward1, is at version 2; expected version 1 instead.
        """,
        """
        RuntimeError: one of the variables needed for gradient computation has been modified by an inplace
        operation: [torch.FloatTensor [2, 4, 8, 8]], which is output 0 of Relu, is at version 2; expected
        version 1 instead.
        """,
    ),
)
