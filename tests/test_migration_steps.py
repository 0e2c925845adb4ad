"""Every migration step's examples are tests: migrated through the engine as users run it (bases beside the
example, bases first), the text must equal ``after``, and migrating ``after`` again must change nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from autofix.catalogue.legacy_2x_keys import Legacy2xKeys
from autofix.engine import run
from autofix.migration import GROUPS, groups, steps

STEP_EXAMPLES = [
    pytest.param(example, id=f"{step.id}-{index}")
    for step in steps()
    for index, example in enumerate(step.examples)
]


def _migrate(example, text: str, folder: Path) -> str:
    for name, content in example.files_dedented().items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(content)
    config = folder / "config.py"
    config.write_text(text)
    report = run([folder], [Legacy2xKeys()], {}, write=True)
    problems = [(r.shown, r.error) for r in report.results if r.status not in ("changed", "unchanged")]
    assert not problems
    return config.read_text()


@pytest.mark.parametrize("example", STEP_EXAMPLES)
def test_step_example(example, tmp_path: Path):
    assert _migrate(example, example.source, tmp_path) == example.expected


@pytest.mark.parametrize("example", STEP_EXAMPLES)
def test_step_example_is_idempotent(example, tmp_path: Path):
    assert _migrate(example, example.expected, tmp_path) == example.expected


def test_every_group_declares_documented_steps():
    assert [module.__name__.rsplit(".", 1)[1] for module in groups()] == list(GROUPS)
    for step in steps():
        assert step.id and step.summary and step.examples, step
