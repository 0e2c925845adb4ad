"""In-place op on a saved activation output breaks backward.

The crash fix `inplace-relu`: an in-place operation overwrote the output of a ReLU (or of an in-place
LeakyReLU, ELU, CELU, SELU or RReLU, see :mod:`autofix.domain.activations`) that backward needs; how
`autofix diagnose` recognises it, and its remedies, best first.
"""

from __future__ import annotations

from autofix.crashes import CrashFix, LogSignature, Remedy

INPLACE_RELU = CrashFix(
    id="inplace-relu",
    summary="An in-place op on a ReLU's output breaks backward.",
    crash="RuntimeError: one of the variables needed for gradient computation has been "
    "modified by an inplace operation ... ReluBackward (LeakyReluBackward, EluBackward, CeluBackward, "
    "RreluWithNoiseBackward)",
    what_happened=(
        "Autograd keeps each ReLU's output for the backward pass, and the output of an activation that ran "
        "in place (LeakyReLU, ELU, CELU, SELU or RReLU with inplace=True, as mmcv's ConvModule builds them "
        "by default). A later in-place operation on that output (another in-place activation such as "
        "nn.ReLU(inplace=True) or F.relu_; an augmented assignment such as out += identity; or a tensor "
        "method ending in _) changed it, so loss.backward() found it modified and stopped. Making the "
        "activations out of place removes it, except after an out-of-place ReLU, whose output is kept "
        "anyway: there the operation that overwrote it must change; `autofix check` on your model files "
        "points at it."
    ),
    default_transforms=("relu-no-inplace",),
    remedies=(
        Remedy(
            "relu-no-inplace",
            "make in-place activations out of place (nn.ReLU, nn.LeakyReLU, F.relu, relu_, F.elu_, ConvModule, "
            "act_cfg dicts; in configs also those inherited from a base)",
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
            # Older torch names the node ReluBackward0/1, LeakyReluBackward1...; torch 2.13 Relu, LeakyRelu1
            # (SELU's node is Elu's). ReLU6/Hardtanh and the others train correctly in place.
            message=r"one of the variables needed for gradient computation has been modified by an inplace "
            r"operation(?s:.{0,300}?)which is output \d+ of (?:Relu|LeakyRelu|Elu|Celu|RreluWithNoise)(?:Backward)?\d*\b",
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
        """
        Traceback (most recent call last):
          File "tools/train.py", line 121, in <module>
            main()
          File "/opt/conda/lib/python3.8/site-packages/mmengine/optim/optimizer/optimizer_wrapper.py", line 220, in backward
            loss.backward(**kwargs)
          File "/opt/conda/lib/python3.8/site-packages/torch/autograd/__init__.py", line 197, in backward
            Variable._execution_engine.run_backward(  # Calls into the C++ engine to run the backward pass
        RuntimeError: one of the variables needed for gradient computation has been modified by an inplace operation: [torch.cuda.HalfTensor [8, 64, 160, 160]], which is output 0 of LeakyReluBackward1, is at version 3; expected version 2 instead. Hint: enable anomaly detection to find the operation that failed to compute its gradient, with torch.autograd.set_detect_anomaly(True).
        """,
        """
        RuntimeError: one of the variables needed for gradient computation has been modified by an inplace
        operation: [torch.FloatTensor [2, 16]], which is output 0 of Elu1, is at version 2; expected version 1
        instead.
        """,
    ),
)
