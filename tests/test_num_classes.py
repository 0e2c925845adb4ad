"""num-classes: its look-alikes in logs, its option, and the config it can only report."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autofix.catalogue.num_classes import NumClasses, parse_classes, resized_class_weights
from autofix.cli import app
from autofix.diagnose import diagnose_text


def diagnosed(log: str) -> tuple[list[str], list[str]]:
    diagnosis = diagnose_text(textwrap.dedent(log))
    return [m.crash.id for m in diagnosis.matches], [n.crash.id for n in diagnosis.near_misses]


@pytest.mark.parametrize(
    "log",
    [
        # numpy's message from the user's own script, not mmengine's dataset serialisation
        """
        Traceback (most recent call last):
          File "/home/me/tools/merge_preds.py", line 14, in <module>
            boxes = np.concatenate(all_boxes)
          File "<__array_function__ internals>", line 180, in concatenate
        ValueError: need at least one array to concatenate
        """,
        # mmdet 2.x's check, raised by a hook the user copied into their project
        """
        Traceback (most recent call last):
          File "/home/me/project/hooks.py", line 31, in before_run
            assert head.num_classes == len(classes), msg
        AssertionError: The num_classes (3) in MyHead of MyModel does not match the length of CLASSES 4) in MyDataset
        """,
    ],
)
def test_the_same_words_raised_from_user_code_are_near_misses(log: str):
    assert diagnosed(log) == ([], ["num-classes"])


@pytest.mark.parametrize(
    "log",
    [
        """
        Traceback (most recent call last):
          File "/home/me/tools/vis.py", line 9, in <module>
            name = names[label]
        IndexError: list index out of range
        """,
        """
        RuntimeError: CUDA error: device-side assert triggered
        CUDA kernel errors might be asynchronously reported at some other API call.
        """,
    ],
)
def test_generic_index_errors_and_device_asserts_are_not_this_crash(log: str):
    assert diagnosed(log)[0] == []


def test_classes_option_parses_a_comma_list_or_a_toml_list():
    assert parse_classes(" balloon, kite ,") == ("balloon", "kite")
    assert parse_classes(["cat", "dog"]) == ("cat", "dog")
    for wrong in ("", ",", "cat,cat", 3):
        with pytest.raises(ValueError):
            parse_classes(wrong)


def test_class_weights_resize_only_when_the_classes_share_one_weight():
    assert resized_class_weights([1.0, 1.0, 1.0, 0.1], 2) == [1.0, 1.0, 0.1]
    assert resized_class_weights([1.0, 2.0, 0.1], 3) is None


CUSTOM_COCO = """\
model = dict(type='RetinaNet', bbox_head=dict(type='RetinaHead', num_classes=80))
train_dataloader = dict(dataset=dict(type='CocoDataset', data_root='data/balloon/', ann_file='train.json'))
"""


def test_a_custom_dataset_with_cocos_default_classes_is_reported_and_needs_its_names(tmp_path: Path, monkeypatch):
    (tmp_path / "config.py").write_text(CUSTOM_COCO)
    monkeypatch.chdir(tmp_path)
    checked = CliRunner().invoke(app, ["check", "--fix", "num-classes", "config.py"])
    assert checked.exit_code == 2
    assert "COCO's 80 default classes" in checked.output and "'data/balloon/'" in checked.output
    assert "--classes" in checked.output
    fixed = CliRunner().invoke(app, ["apply", "--fix", "num-classes", "--classes", "balloon", "config.py"])
    assert fixed.exit_code == 0, fixed.output
    text = (tmp_path / "config.py").read_text()
    assert "num_classes=1" in text and "metainfo=dict(classes=('balloon',))" in text


def test_a_bad_classes_option_is_an_error_naming_it(tmp_path: Path, monkeypatch):
    (tmp_path / "config.py").write_text(CUSTOM_COCO)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["apply", "--fix", "num-classes", "--classes", "cat,cat", "--dry-run", "config.py"])
    assert result.exit_code == 2 and "cat named more than once" in result.output


def test_heads_counting_otherwise_than_cocos_80_are_reported_even_on_coco_paths():
    config = {
        "model": {"type": "RetinaNet", "bbox_head": {"type": "RetinaHead", "num_classes": 4}},
        "train_dataloader": {"dataset": {"type": "CocoDataset", "data_root": "data/coco/"}},
    }
    [finding] = NumClasses().findings(config, {})
    assert "heads count 4 classes" in finding.message and not finding.edits
