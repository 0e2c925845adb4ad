"""optimizer-delete proved at run time: each fixable example's optimizer, resolved by mmengine before
and after the fix, is built on a one-layer model (mmengine's ``build_optim_wrapper`` for 3.x configs,
the torch class as mmcv 1.x builds it for a 2.x ``optimizer``): before, torch refuses a key; after, it
builds, and its settings are exactly the config's minus the refused keys."""

from __future__ import annotations

import inspect
import re
import shutil
import textwrap
from pathlib import Path

import pytest
from corpus import CORPORA, resolve_tree
from typer.testing import CliRunner

from autofix.catalogue.optimizer_delete import (
    DELETE,
    MMCV_OPTIMIZER_KEYS,
    OPTIMIZER_KEYS,
    OptimizerDelete,
    optimizer_dicts,
)
from autofix.cli import app
from autofix.diagnose import diagnose_text
from autofix.engine import run
from autofix.mmconfig import registry_name, resolve

torch = pytest.importorskip("torch")

FIXABLE = [pytest.param(e, id=e.title) for e in OptimizerDelete.examples if e.after is not None]


def test_the_key_table_is_torchs():
    for name, keys in OPTIMIZER_KEYS.items():
        optimizer = getattr(torch.optim, name, None)
        if optimizer is not None:  # an older torch lacks the newest optimizers
            assert keys == set(inspect.signature(optimizer.__init__).parameters) - {"self", "params"}, name


def _build(config_path: Path):
    """The optimizer the runner would build from the config, on a one-layer model."""
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper

    model = torch.nn.Linear(2, 2)
    config = Config.fromfile(config_path)
    if "optim_wrapper" in config:
        return build_optim_wrapper(model, config.optim_wrapper).optimizer
    settings = {key: value for key, value in config.optimizer.items() if key not in MMCV_OPTIMIZER_KEYS}
    return getattr(torch.optim, settings.pop("type"))(model.parameters(), **settings)


def _write(example, folder: Path) -> Path:
    for name, text in example.files_dedented().items():
        (folder / name).write_text(text)
    config_path = folder / "config.py"
    config_path.write_text(example.source)
    return config_path


def _assert_crashes_then_builds(config_path: Path, *apply_flags: str) -> None:
    before = resolve(config_path, {})
    [(path, optimizer, taken_out)] = optimizer_dicts(before)
    taken = OPTIMIZER_KEYS[registry_name(optimizer["type"])] | taken_out | {"type"}
    refused = [key for key in optimizer if key not in taken]
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        _build(config_path)

    result = CliRunner().invoke(app, ["apply", "--fix", "optimizer-delete", *apply_flags, str(config_path)])
    assert result.exit_code == 0, result.output
    after = resolve(config_path, {})
    [(_, fixed, _)] = optimizer_dicts(after)
    assert fixed == {key: value for key, value in optimizer.items() if key not in refused}
    if path == ("optim_wrapper", "optimizer"):  # the wrapper's other keys stay
        assert {k: v for k, v in after["optim_wrapper"].items() if k != "optimizer"} == {
            k: v for k, v in before["optim_wrapper"].items() if k not in ("optimizer", DELETE)
        }
    built = _build(config_path)
    assert type(built).__name__ == registry_name(fixed["type"])
    for key, value in fixed.items():
        if key not in ("type", *taken_out):
            assert built.defaults[key] == value, key


@pytest.mark.parametrize("example", FIXABLE)
def test_fix_makes_the_optimizer_build_with_the_configs_keys(example, tmp_path: Path):
    _assert_crashes_then_builds(_write(example, tmp_path))


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("corpus", "base", "leaf"),
    [
        ("mmdet-3.3.0", "faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py",
         "optim_wrapper = dict(optimizer=dict(type='AdamW', lr=0.0001, weight_decay=0.05), clip_grad=dict(max_norm=1))"),
        ("mmdet-2.28.2", "faster_rcnn/faster_rcnn_r50_fpn_1x_coco.py",
         "optimizer = dict(type='AdamW', lr=0.0001, weight_decay=0.05)"),
        ("mmseg-1.2.2", "deeplabv3/deeplabv3_r50-d8_4xb2-40k_cityscapes-512x1024.py",
         "optim_wrapper = dict(optimizer=dict(type='AdamW', lr=6e-05, betas=(0.9, 0.999)))"),
    ],
    ids=["mmdet3", "mmdet2", "mmseg"],
)
def test_a_users_leaf_over_a_shipped_sgd_config(corpus: str, base: str, leaf: str, tmp_path: Path):
    """The reported case: a leaf switches a real config's SGD to AdamW; proved with --verify, base untouched."""
    shipped = CORPORA[corpus].configs() / base
    config_path = tmp_path / "adamw.py"
    config_path.write_text(f"_base_ = {str(shipped)!r}\n{leaf}\n")
    text = shipped.read_text()
    _assert_crashes_then_builds(config_path, "--verify")
    assert "_delete_=True" in config_path.read_text()
    assert shipped.read_text() == text


def test_new_style_rebinding_does_not_merge(tmp_path: Path):
    """read_base configs: `optim_wrapper = dict(...)` rebinds the name, so a base's momentum never
    reaches it and nothing is found (update() merging is an example)."""
    (tmp_path / "base.py").write_text(
        "from torch.optim import SGD\n"
        "optim_wrapper = dict(optimizer=dict(type=SGD, lr=0.02, momentum=0.9))\n"
    )
    config_path = tmp_path / "config.py"
    config_path.write_text(
        "from mmengine.config import read_base\n\nwith read_base():\n    from .base import *\n\n"
        "from torch.optim import AdamW\n\noptim_wrapper = dict(optimizer=dict(type=AdamW, lr=0.0001))\n"
    )
    assert OptimizerDelete().findings(resolve(config_path, {}), {}) == []
    assert type(_build(config_path)).__name__ == "AdamW"


def _diagnosed(log: str) -> tuple[list[str], list[str]]:
    diagnosis = diagnose_text(textwrap.dedent(log))
    return [m.crash.id for m in diagnosis.matches], [n.crash.id for n in diagnosis.near_misses]


def test_python_38_and_early_mmengine_messages_are_recognised():
    assert _diagnosed("""
        File "/usr/lib/python3.8/site-packages/mmengine/registry/build_functions.py", line 135, in build_from_cfg
          raise type(e)(
        TypeError: class `AdamW` in torch/optim/adamw.py: __init__() got an unexpected keyword argument 'momentum'
        """)[0] == ["optimizer-delete"]
    assert _diagnosed("TypeError: __init__() got an unexpected keyword argument 'nesterov'\n")[0] == ["optimizer-delete"]


def test_the_same_words_from_user_code_are_near_misses():
    diagnosis = diagnose_text(textwrap.dedent("""
        Traceback (most recent call last):
          File "C:\\Users\\me\\my_train.py", line 40, in <module>
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, momentum=0.9)
        TypeError: AdamW.__init__() got an unexpected keyword argument 'momentum'
        """))
    assert diagnosis.matches == []
    [near] = diagnosis.near_misses
    assert near.crash.id == "optimizer-delete" and "only the keywords its class takes" in near.reason


def test_a_model_refusing_a_key_is_not_this_crash():
    matches, near = _diagnosed("""
          File "/opt/conda/lib/python3.10/site-packages/mmengine/registry/build_functions.py", line 121, in build_from_cfg
            obj = obj_cls(**args)  # type: ignore
        TypeError: ResNet.__init__() got an unexpected keyword argument 'momentum'
        """)
    assert "optimizer-delete" not in matches + near


# mmseg 1.2.2 writes its switches as `optim_wrapper = dict(_delete_=True, ...)`: without that flag the base's
# wrapper keys merge in too, which no optimizer refuses, so there is nothing there for this rule to restore.
@pytest.mark.parametrize("corpus", ["mmdet-3.3.0", "mmdet-2.28.2"])
def test_taking_delete_out_of_shipped_optimizers_is_undone_exactly(corpus: str, corpus_resolved, tmp_path: Path):
    """The mmdet trees have no config with the bug, but their switches of optimizer type are written with
    `optimizer=dict(_delete_=True, ...)`: without it the crash comes back, and the fix restores every
    effective config as shipped."""
    shipped = corpus_resolved(corpus)
    folder = tmp_path / "configs"
    shutil.copytree(CORPORA[corpus].configs(), folder)
    without_delete = re.compile(r"(optimizer\s*=\s*dict\(\s*)_delete_=True,\s*")
    mutated = set()
    for path in sorted(folder.rglob("*.py")):
        text = path.read_text()
        if without_delete.search(text):
            path.write_text(without_delete.sub(r"\1", text))
            mutated.add(str(path.relative_to(folder)))
    crashing = [rel for rel in mutated if OptimizerDelete().findings(resolve(folder / rel, {}), {})]
    assert crashing, "no shipped config switches optimizer type with _delete_ any more: nothing was tested"

    report = run([folder], [OptimizerDelete()], {}, write=True)
    changed = {str(Path(result.shown).resolve().relative_to(folder.resolve()))
               for result in report.results if result.status == "changed"}
    assert changed <= mutated  # a leaf whose base was mutated too is fixed by its fixed base
    assert resolve_tree(folder) == shipped


def test_explain_shows_the_message_as_python_prints_it():
    out = CliRunner().invoke(app, ["explain", "optimizer-delete"], env={"COLUMNS": "200"}).stdout
    crash_line = next(line for line in out.splitlines() if line.startswith("Crash:"))
    assert "AdamW.__init__() got an unexpected keyword argument 'momentum'" in crash_line  # not Markdown emphasis
