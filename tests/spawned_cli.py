"""A script that runs the command line with worker processes spawned (as on macOS and Windows) and a
pool started from 2 candidate files; it prints `pool of N` when a pool starts."""

from __future__ import annotations

from pathlib import Path


def write_spawned_cli(path: Path, *leading_arguments: str) -> None:
    """Write the script to ``path``: ``autofix <leading_arguments> <the script's own arguments>``."""
    path.write_text(
        "import multiprocessing, sys\n"
        "from autofix import cli\n"
        "from autofix.engine import scheduler\n"
        "if __name__ == '__main__':\n"
        "    multiprocessing.set_start_method('spawn')\n"
        "    scheduler.POOL_MIN_CANDIDATES_SPAWNED = 2\n"
        "    start = scheduler.ProcessPoolExecutor\n"
        "    scheduler.ProcessPoolExecutor = lambda n, **kw: print(f'pool of {n}', file=sys.stderr) or start(n, **kw)\n"
        f"    sys.argv = ['autofix', *{list(leading_arguments)!r}, *sys.argv[1:]]\n"
        "    cli.main()\n"
    )
