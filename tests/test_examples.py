"""Every rule's declared examples (the text of `autofix explain`) are tests too, run as users run
autofix: through ``run`` over a folder holding the example as ``config.py`` and its ``files``."""

from __future__ import annotations

from pathlib import Path

import pytest

from autofix.engine import run
from autofix.filekind import detect_kind
from autofix.registry import all_transforms

EXAMPLES = [
    pytest.param(transform, example, id=f"{tid}-{i}")
    for tid, transform in all_transforms().items()
    for i, example in enumerate(transform.examples)
]


def _rewrite(transform, example, text: str, folder: Path) -> str:
    """Fix the example as ``config.py`` in ``folder``, beside the files (bases) it declares; its new text."""
    for name, content in example.files_dedented().items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(content)
    config = folder / "config.py"
    config.write_text(text)
    [result] = run([config], [transform()], example.options, write=True).results
    assert result.status in ("changed", "unchanged"), result.error
    return config.read_text()


@pytest.mark.parametrize(("transform", "example"), EXAMPLES)
def test_example_declares_the_kind_its_text_has(transform, example):
    """The engine decides the kind from the text (the tests above do not force it), so the label must match."""
    assert detect_kind(example.source) is example.kind
    assert detect_kind(example.expected) is example.kind


@pytest.mark.parametrize(("transform", "example"), EXAMPLES)
def test_example(transform, example, tmp_path: Path):
    assert _rewrite(transform, example, example.source, tmp_path) == example.expected


@pytest.mark.parametrize(("transform", "example"), EXAMPLES)
def test_example_is_idempotent(transform, example, tmp_path: Path):
    assert _rewrite(transform, example, example.expected, tmp_path) == example.expected


@pytest.mark.parametrize("transform", all_transforms().values(), ids=list(all_transforms()))
def test_transform_declares_its_documentation(transform):
    for attribute in ("id", "summary", "crash", "tradeoff", "applicability", "prefilter"):
        assert getattr(transform, attribute, None) is not None, attribute
    assert transform.doc()
    assert any(e.after is not None for e in transform.examples), "needs at least one changing example"
    for example in transform.examples:
        if example.after is not None:
            assert transform().may_apply(example.source), "prefilter would skip its own example"
