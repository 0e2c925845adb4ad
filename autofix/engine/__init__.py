"""The engine, which knows nothing of any one transform.

``pipeline`` takes files through find -> read -> plan -> transform -> diff -> verify -> write;
``safety`` refuses hostile input and keeps every byte a fix does not change; ``scheduler`` orders
the files by inheritance and spreads them over a process pool.
"""

from autofix.engine.pipeline import ConfigSession, FileResult, Rewrite, RunReport, rewrite_at, rewrite_source, run
from autofix.engine.safety import lost_comment

__all__ = ["ConfigSession", "FileResult", "Rewrite", "RunReport", "lost_comment", "rewrite_at", "rewrite_source", "run"]
