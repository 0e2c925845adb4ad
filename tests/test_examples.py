"""Every transform's declared examples (the text of `autofix explain`) are tests too."""

from __future__ import annotations

import pytest

from autofix.engine import rewrite_source
from autofix.registry import all_transforms

EXAMPLES = [
    pytest.param(transform, example, id=f"{tid}-{i}")
    for tid, transform in all_transforms().items()
    for i, example in enumerate(transform.examples)
]


@pytest.mark.parametrize(("transform", "example"), EXAMPLES)
def test_example(transform, example):
    result = rewrite_source(example.source, [transform()], example.options, kind=example.kind)
    assert result.text == example.expected


@pytest.mark.parametrize(("transform", "example"), EXAMPLES)
def test_example_is_idempotent(transform, example):
    result = rewrite_source(example.expected, [transform()], example.options, kind=example.kind)
    assert result.text == example.expected


@pytest.mark.parametrize("transform", all_transforms().values(), ids=list(all_transforms()))
def test_transform_declares_its_documentation(transform):
    for attribute in ("id", "summary", "crash", "tradeoff", "changes_results", "prefilter"):
        assert getattr(transform, attribute, None) is not None, attribute
    assert transform.doc()
    assert any(e.after is not None for e in transform.examples), "needs at least one changing example"
    for example in transform.examples:
        if example.after is not None:
            assert transform().may_apply(example.source), "prefilter would skip its own example"
