"""ckpt-weights-only proved on CPU with the torch the tests install (>= 2.6): a checkpoint a real mmengine
Runner saves (its message hub's HistoryBuffers, numpy values) fails to load through the installed
mmengine's own ``runner/checkpoint.py`` and loads through the same file once patched.

Both files are copies of the installed one (which is never edited), each imported as a module of its
own from a ``mmengine/runner/checkpoint.py`` path in tmp, so their tracebacks look like mmengine's.
"""

from __future__ import annotations

import importlib.util
import traceback
from pathlib import Path
from types import ModuleType

import pytest

from autofix.catalogue.ckpt_weights_only import CkptWeightsOnly
from autofix.diagnose import diagnose_text
from autofix.engine import rewrite_source

torch = pytest.importorskip("torch")
mmengine = pytest.importorskip("mmengine")

from mmengine.model import BaseModel  # noqa: E402 (needs mmengine)
from mmengine.runner import Runner  # noqa: E402

INSTALLED = Path(mmengine.__file__).parent / "runner" / "checkpoint.py"
REFUSED = r"Weights only load failed[\s\S]*Unsupported global: GLOBAL {}"


class _Toy(BaseModel):
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)

    def forward(self, inputs, labels=None, mode="loss"):
        out = self.linear(torch.stack(inputs) if isinstance(inputs, list) else inputs)
        return {"loss": ((out - labels) ** 2).mean()} if mode == "loss" else out


@pytest.fixture(scope="module")
def saved_by_mmengine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The checkpoint of one epoch of a real mmengine Runner, as CheckpointHook saves it."""
    work_dir = tmp_path_factory.mktemp("work_dir")
    generator = torch.Generator().manual_seed(0)
    data = [dict(inputs=torch.randn(2, generator=generator), labels=torch.randn(1, generator=generator)) for _ in range(4)]
    runner = Runner(
        model=_Toy(), work_dir=str(work_dir), experiment_name=f"ckpt_weights_only_{id(work_dir)}",
        train_dataloader=dict(dataset=data, sampler=dict(type="DefaultSampler", shuffle=False), batch_size=2,
                              collate_fn=dict(type="default_collate")),
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.01)), train_cfg=dict(by_epoch=True, max_epochs=1),
        default_hooks=dict(checkpoint=dict(type="CheckpointHook", interval=1)),
        default_scope="mmengine", log_level="WARNING",
    )
    runner.train()
    return work_dir / "epoch_1.pth"


def _module(text: str, folder: Path, name: str) -> ModuleType:
    path = folder / "mmengine" / "runner" / "checkpoint.py"
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def checkpoint_modules(tmp_path_factory: pytest.TempPathFactory) -> tuple[ModuleType, ModuleType]:
    """The installed checkpoint.py as it is, and as the rule patches it."""
    original = INSTALLED.read_text(encoding="utf-8")
    patched = rewrite_source(original, [CkptWeightsOnly()]).text
    return (_module(original, tmp_path_factory.mktemp("original"), "autofix_proof_original_checkpoint"),
            _module(patched, tmp_path_factory.mktemp("patched"), "autofix_proof_patched_checkpoint"))


def test_the_patch_adds_weights_only_to_each_torch_load_call_and_changes_nothing_else():
    original = INSTALLED.read_text(encoding="utf-8").splitlines()
    patched = rewrite_source("\n".join(original), [CkptWeightsOnly()]).text.splitlines()
    changed = [(before, after) for before, after in zip(original, patched) if before != after]
    assert len(patched) == len(original)
    assert len(changed) == sum("torch.load(" in line for line in original) >= 4  # 0.10.7: local, pavi, ceph, openmmlab
    for before, after in changed:
        assert after == before.replace(")", ", weights_only=False)", 1) and before.rstrip().endswith("map_location)")
    again = rewrite_source("\n".join(patched), [CkptWeightsOnly()])
    assert again.text == "\n".join(patched)


def test_a_checkpoint_mmengine_saved_fails_through_the_original_and_loads_through_the_patch(
    saved_by_mmengine: Path, checkpoint_modules: tuple[ModuleType, ModuleType]
):
    original, patched = checkpoint_modules
    with pytest.raises(Exception, match=REFUSED.format(r"mmengine\.logging\.history_buffer\.HistoryBuffer")):
        original._load_checkpoint(str(saved_by_mmengine), map_location="cpu")

    loaded = patched._load_checkpoint(str(saved_by_mmengine), map_location="cpu")
    reference = torch.load(saved_by_mmengine, map_location="cpu", weights_only=False)
    scalars = loaded["message_hub"]["log_scalars"]
    assert type(scalars["train/loss"]).__name__ == "HistoryBuffer"
    assert scalars.keys() == reference["message_hub"]["log_scalars"].keys()
    for name, buffer in scalars.items():
        for got, expected in zip(buffer.data, reference["message_hub"]["log_scalars"][name].data):
            assert (got == expected).all()
    assert all(torch.equal(loaded["state_dict"][key], value) for key, value in reference["state_dict"].items())
    model = _Toy()
    patched.load_checkpoint(model, str(saved_by_mmengine), map_location="cpu")  # what load_from and init_detector do
    assert torch.equal(model.linear.weight, reference["state_dict"]["linear.weight"])


def test_numpy_values_alone_fail_and_load_as_well(
    saved_by_mmengine: Path, checkpoint_modules: tuple[ModuleType, ModuleType], tmp_path: Path
):
    original, patched = checkpoint_modules
    checkpoint = torch.load(saved_by_mmengine, map_location="cpu", weights_only=False)
    del checkpoint["message_hub"]["log_scalars"]  # left: runtime_info's numpy values (the ETA)
    numpy_only = tmp_path / "numpy_only.pth"
    original.save_checkpoint(checkpoint, str(numpy_only))
    with pytest.raises(Exception, match=REFUSED.format(r"numpy\.")):
        original._load_checkpoint(str(numpy_only), map_location="cpu")
    assert patched._load_checkpoint(str(numpy_only), map_location="cpu")["message_hub"]["runtime_info"]["eta"] >= 0


def test_the_real_failure_is_diagnosed_as_ckpt_weights_only_and_a_torch_load_of_our_own_is_a_near_miss(
    saved_by_mmengine: Path, checkpoint_modules: tuple[ModuleType, ModuleType]
):
    original, _ = checkpoint_modules
    try:
        original._load_checkpoint(str(saved_by_mmengine), map_location="cpu")
    except Exception:
        log = traceback.format_exc()
    [match] = diagnose_text(log).matches
    assert match.crash.id == "ckpt-weights-only" and match.sighting.raised_in.function == "load_from_local"
    assert "HistoryBuffer was not an allowed global" in match.sighting.message

    try:
        torch.load(saved_by_mmengine)
    except Exception:
        own = traceback.format_exc()
    diagnosis = diagnose_text(own)
    assert diagnosis.matches == []
    [near] = diagnosis.near_misses
    assert "has ckpt-weights-only's message, but its traceback ends in load" in near.reason
    assert "or load_from_local or" in near.reason and "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1" in near.reason


def test_the_environment_variable_remedy_loads_it_through_the_original(
    saved_by_mmengine: Path, checkpoint_modules: tuple[ModuleType, ModuleType], monkeypatch: pytest.MonkeyPatch
):
    original, _ = checkpoint_modules
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    with pytest.warns(UserWarning, match="TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"):
        loaded = original._load_checkpoint(str(saved_by_mmengine), map_location="cpu")
    assert "log_scalars" in loaded["message_hub"]
