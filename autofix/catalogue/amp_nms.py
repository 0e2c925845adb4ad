"""AMP plus many RPN boxes crash mmcv's `batched_nms`.

The crash fix `amp-nms`: its crash, how `autofix diagnose` recognises it, and its remedies, best first.
"""

from __future__ import annotations

from autofix.crashes import CrashFix, LogSignature, Remedy

AMP_NMS = CrashFix(
    id="amp-nms",
    summary="AMP plus many RPN boxes crash mmcv's batched_nms.",
    crash="RuntimeError: Index put requires the source and destination dtypes match, "
    "got Half for the destination and Float for the source (mmcv batched_nms under AMP)",
    what_happened=(
        "Training with mixed precision (AmpOptimWrapper) makes the RPN's scores Half (fp16) or "
        "BFloat16. When the boxes the RPN hands mmcv's batched_nms reach its split_thr (default 10000), "
        "which large train images do by filling every FPN level up to nms_pre, batched_nms runs NMS "
        "class by class and writes each class's Float scores into a buffer of the scores' dtype; that "
        "index assignment fails. No mmcv release fixes it; mmdet 2.x heads cast the scores to fp32 first, "
        "so only mmdet 3.x crashes."
    ),
    default_transforms=("split-thr", "nms-dtype-cast"),
    remedies=(
        Remedy(
            "split-thr",
            "raise the RPN's train-time nms.split_thr above the boxes it can produce, so batched_nms never splits",
            "about none: one NMS over all RPN boxes (a little compute and memory); keeps AMP and the image "
            "size, and tools/train.py --amp does not undo it",
        ),
        Remedy(
            "nms-dtype-cast",
            "cast the per-class scores in the installed mmcv's ops/nms.py to the buffer's dtype",
            "none at run time, but it edits an installed library: reinstalling or upgrading mmcv undoes it",
            target="--mmcv",
        ),
        Remedy(
            "resize-down",
            "shrink the largest train Resize scale so fewer boxes reach NMS",
            "changes training results: smaller images, worse on small objects",
        ),
        Remedy(
            "amp-off",
            "train in fp32: optim_wrapper AmpOptimWrapper -> OptimWrapper",
            "more GPU memory and much slower training; tools/train.py --amp turns AMP back on and undoes it",
        ),
    ),
    signatures=(
        LogSignature(
            message=r"Index put requires the source and destination dtypes match, "
            r"got (?:Half|BFloat16) for the destination and Float for the source",
            raised_in=("batched_nms",),
            place="mmcv's batched_nms (mmcv/ops/nms.py)",
            family=r"Index put requires the source and destination dtypes match",
        ),
    ),
    path_hint="CONFIG",
    log_examples=(
        """
        Traceback (most recent call last):
          File "tools/train.py", line 121, in <module>
            main()
          File "/opt/conda/lib/python3.10/site-packages/mmdet/models/dense_heads/rpn_head.py", line 284, in _bbox_post_process
            det_bboxes, keep_idxs = batched_nms(bboxes, results.scores,
          File "/opt/conda/lib/python3.10/site-packages/mmcv/ops/nms.py", line 321, in batched_nms
            scores_after_nms[mask[keep]] = dets[:, -1]
        RuntimeError: Index put requires the source and destination dtypes match, got Half for the destination and Float for the source.
        """,
        """
        RuntimeError: Index put requires the source and destination dtypes match, got BFloat16 for the destination and Float for the source.
        """,
    ),
)
