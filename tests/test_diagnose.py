"""`autofix diagnose`: real crash reports and variants of them, recognised by message and place."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autofix.cli import app
from autofix.diagnose import config_named_in_log, decode_log, diagnose_text
from autofix.registry import all_transforms, crash_fixes

LOGS = Path(__file__).parent / "fixtures" / "logs"
EXAMPLES = Path(__file__).parent.parent / "examples" / "configs"

# log -> (crash id or None, the function it was seen raised in or None, line of the exception)
EXPECTED = {
    "report_000_inplace_relu.txt": ("inplace-relu", "backward", 39),
    "report_003_amp_nms.txt": ("amp-nms", "batched_nms", 23),
    "amp_nms_mmengine_coloured_ranks.log": ("amp-nms", "batched_nms", 25),
    "amp_nms_bf16_windows_py311.log": ("amp-nms", "batched_nms", 17),
    "amp_nms_message_only.txt": ("amp-nms", None, 3),
    "inplace_relu_torch213_py311.log": ("inplace-relu", "_engine_run_backward", 21),
    "inplace_relu_wrapped_no_frames.txt": ("inplace-relu", None, 3),
    "unrelated_cuda_oom.log": (None, None, None),
    "index_put_long_int_mmdet3d.log": (None, None, None),
    "index_put_half_in_user_code.log": (None, None, None),
    "inplace_sigmoid.log": (None, None, None),
}


def invoke(*args: str, stdin: bytes | str | None = None):
    return CliRunner().invoke(app, ["diagnose", *args], input=stdin)


def test_every_fixture_has_an_expectation():
    assert sorted(EXPECTED) == sorted(p.name for p in LOGS.iterdir())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_is_recognised_by_message_and_place(name: str):
    crash_id, function, line = EXPECTED[name]
    diagnosis = diagnose_text(decode_log((LOGS / name).read_bytes(), name))
    if crash_id is None:
        assert diagnosis.matches == []
        return
    [match] = diagnosis.matches
    assert match.crash.id == crash_id
    assert match.sighting.line == line
    raised_in = match.sighting.raised_in
    assert (raised_in.function if raised_in else None) == function


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_exit_code_is_0_for_a_known_crash_and_1_otherwise(name: str):
    result = invoke(str(LOGS / name))
    assert result.exit_code == (0 if EXPECTED[name][0] else 1), result.output


def test_amp_nms_report_lists_the_four_remedies_in_preference_order_with_commands():
    result = invoke(str(LOGS / "report_003_amp_nms.txt"))
    out = result.stdout
    assert "Recognised amp-nms: line 23 of" in out
    assert "raised in batched_nms (*/mmcv/mmcv/ops/nms.py, line 321)" in out
    commands = [
        "$ autofix apply --fix split-thr CONFIG",
        "$ autofix apply --fix nms-dtype-cast --mmcv",
        "$ autofix apply --fix resize-down CONFIG",
        "$ autofix apply --fix amp-off CONFIG",
    ]
    positions = [out.index(command) for command in commands]
    assert positions == sorted(positions)
    assert "tools/train.py --amp turns AMP back on" in " ".join(out.split())  # the paragraph is wrapped
    assert "$ autofix apply --fix amp-nms CONFIG" in out


def test_message_only_says_where_it_could_not_see():
    out = invoke(str(LOGS / "amp_nms_message_only.txt")).stdout
    assert "could not see where it was raised" in out
    assert "mmcv's batched_nms" in out


def test_lookalikes_are_named_plainly_and_not_matched():
    elsewhere = invoke(str(LOGS / "index_put_half_in_user_code.log"))
    assert elsewhere.exit_code == 1
    assert "No known crash" in elsewhere.stdout
    assert "traceback ends in merge_scores" in elsewhere.stdout and "not in batched_nms" in elsewhere.stdout
    sigmoid = invoke(str(LOGS / "inplace_sigmoid.log"))
    assert "resembles inplace-relu but is not it" in sigmoid.stdout
    oom = invoke(str(LOGS / "unrelated_cuda_oom.log"))
    assert oom.exit_code == 1 and "resembles" not in oom.stdout and "autofix recognises" in oom.stdout


def test_reads_standard_input_with_dash_or_no_argument():
    text = (LOGS / "report_000_inplace_relu.txt").read_text(encoding="utf-8")
    for args in (["-"], []):
        result = invoke(*args, stdin=text)
        assert result.exit_code == 0, result.output
        assert "Recognised inplace-relu: line 39 of standard input" in result.stdout


def test_powershell_utf16_log_and_other_encodings_are_read():
    text = (LOGS / "amp_nms_bf16_windows_py311.log").read_text(encoding="utf-8")
    assert diagnose_text(decode_log(b"\xff\xfe" + text.encode("utf-16-le"), "x")).matches
    gbk = text.encode("gbk")  # a Chinese Windows console's encoding: the ASCII signature survives
    assert diagnose_text(decode_log(gbk, "x")).matches[0].crash.id == "amp-nms"


def test_unreadable_input_exits_2_naming_it(tmp_path: Path):
    binary = tmp_path / "core.bin"
    binary.write_bytes(b"\x7fELF\0\0\x01")
    empty = tmp_path / "empty.log"
    empty.write_text("\n  \n")
    for path, why in ((tmp_path / "missing.log", "no such file"), (tmp_path, "is a folder"),
                      (binary, "binary data"), (empty, "empty")):
        result = invoke(str(path))
        assert result.exit_code == 2
        assert f"autofix: error: {path}: {why}" in result.stderr


def test_json_is_one_document_with_matches_remedies_and_commands():
    result = invoke(str(LOGS / "amp_nms_bf16_windows_py311.log"), "--format", "json")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    [match] = document["matches"]
    assert match["id"] == "amp-nms" and match["line"] == 17
    assert "got BFloat16 for the destination" in match["message"]
    assert match["raised_in"] == {
        "function": "batched_nms",
        "file": "C:\\Users\\李雷\\miniconda3\\envs\\mm\\Lib\\site-packages\\mmcv\\ops\\nms.py",
        "line": 321,
    }
    assert [r["fix"] for r in match["remedies"]] == ["split-thr", "nms-dtype-cast", "resize-down", "amp-off"]
    assert [r["available"] for r in match["remedies"][:2]] == [True, True]
    assert match["command"] == "autofix apply --fix amp-nms CONFIG"
    assert document["fix"] is None and document["near_misses"] == []


def test_json_for_no_match_has_near_misses_and_exits_1():
    result = invoke(str(LOGS / "index_put_long_int_mmdet3d.log"), "--format", "json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["matches"] == []
    assert document["near_misses"][0]["id"] == "amp-nms"


@pytest.fixture
def report_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(EXAMPLES, tmp_path / "configs")
    monkeypatch.chdir(tmp_path)
    return Path("configs/faster_rcnn_amp_2666x1600.py")


def test_config_shows_the_default_remedy_as_a_dry_run(report_config: Path):
    before = report_config.read_bytes()
    result = invoke(str(LOGS / "report_003_amp_nms.txt"), "--config", str(report_config))
    assert result.exit_code == 0, result.output
    assert "$ autofix apply --fix amp-nms configs/faster_rcnn_amp_2666x1600.py" in result.stdout
    assert "+model = dict(train_cfg=dict(rpn_proposal=dict(nms=dict(split_thr=10001))))" in result.stdout
    assert "1 file would change" in result.stderr
    assert report_config.read_bytes() == before


def test_apply_writes_the_default_remedy(report_config: Path):
    result = invoke(str(LOGS / "report_003_amp_nms.txt"), "--config", str(report_config), "--apply", "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["fix"]["applied"] is True
    assert "split_thr=10001" in document["fix"]["diff"]
    assert "split_thr=10001" in report_config.read_text()
    again = invoke(str(LOGS / "report_003_amp_nms.txt"), "--config", str(report_config), "--format", "json")
    assert json.loads(again.stdout)["fix"]["diff"] == ""  # fixed: nothing left to do


def test_apply_needs_a_config_and_a_failing_fix_exits_2(tmp_path: Path):
    assert invoke(str(LOGS / "report_003_amp_nms.txt"), "--apply").exit_code == 2
    broken = tmp_path / "broken.py"
    broken.write_text("_base_ = './missing.py'\n")
    result = invoke(str(LOGS / "report_003_amp_nms.txt"), "--config", str(broken))
    assert result.exit_code == 2
    assert "broken.py" in result.stderr


def test_no_fix_is_run_when_nothing_matched(report_config: Path):
    result = invoke(str(LOGS / "unrelated_cuda_oom.log"), "--config", str(report_config), "--apply")
    assert result.exit_code == 1
    assert "split_thr" not in report_config.read_text()


def test_a_log_with_both_crashes_reports_both():
    text = "\n".join((LOGS / name).read_text(encoding="utf-8")
                     for name in ("inplace_relu_torch213_py311.log", "amp_nms_bf16_windows_py311.log"))
    assert sorted(m.crash.id for m in diagnose_text(text).matches) == ["amp-nms", "inplace-relu"]


def test_repeated_tracebacks_of_many_ranks_are_one_match():
    one = (LOGS / "amp_nms_mmengine_coloured_ranks.log").read_text(encoding="utf-8")
    [match] = diagnose_text(one * 8).matches
    assert match.occurrences == 8


@pytest.mark.parametrize("crash", list(crash_fixes().values()), ids=list(crash_fixes()))
def test_each_crash_fix_recognises_its_own_log_examples(crash):
    assert crash.log_examples, f"{crash.id} declares no log examples"
    for example in crash.log_examples:
        assert [m.crash.id for m in diagnose_text(textwrap.dedent(example)).matches] == [crash.id]


@pytest.mark.parametrize("crash", list(crash_fixes().values()), ids=list(crash_fixes()))
def test_crash_fix_points_at_transforms_and_states_costs(crash):
    for transform_id in crash.default_transforms:
        assert transform_id in all_transforms()
    assert crash.default_transforms[0] == crash.remedies[0].fix  # the default is the first remedy
    assert all(remedy.cost for remedy in crash.remedies)
    assert crash.what_happened and crash.signatures


def test_explain_a_crash_fix_lists_its_remedies_even_those_not_installed():
    result = CliRunner().invoke(app, ["explain", "amp-nms"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    order = [out.index(f"{n} {fix}") for n, fix in enumerate(["split-thr", "nms-dtype-cast", "resize-down", "amp-off"], 1)]
    assert order == sorted(order)
    for missing in ("resize-down", "amp-off"):
        if missing not in all_transforms():
            assert f"{missing} (not in this version of autofix yet)" in out
    flat = " ".join(out.split())  # rich wraps the page and its log examples to the terminal
    assert "Recognised in a log" in out and "in batched_nms" in flat
    assert "See autofix explain split-thr" in flat  # its rules are named, their pages are not inlined


def test_explain_inplace_add_shows_its_examples():
    out = CliRunner().invoke(app, ["explain", "inplace-add"]).stdout
    assert "out = out + x  # residual" in out and "Fix safety" in out
    assert "laterals[i - 1] = laterals[i - 1] + F.interpolate" in out


def test_crash_fixes_are_found_in_their_own_modules():
    from autofix.catalogue.amp_nms import AMP_NMS
    from autofix.catalogue.inplace_relu import INPLACE_RELU

    assert crash_fixes()["amp-nms"] is AMP_NMS and crash_fixes()["inplace-relu"] is INPLACE_RELU
    assert "inplace-add" not in {t for crash in crash_fixes().values() for t in crash.default_transforms}


def test_line_numbers_are_the_files_even_with_progress_bars():
    traceback = (LOGS / "inplace_relu_torch213_py311.log").read_text(encoding="utf-8")
    progress = "Epoch 1:  10%|#         | 1/10\r Epoch 1:  50%|#####     | 5/10\r Epoch 1: 100%|##########| 10/10\n"
    [match] = diagnose_text(progress + traceback).matches
    assert match.sighting.line == 22  # one line of progress bar, then the traceback's line 21


MMENGINE_HEADER = """\
11/24 09:58:02 - mmengine - INFO -
------------------------------------------------------------
System environment:
    sys.platform: linux
    Python: 3.10.13 (main, Sep 11 2023, 13:44:35) [GCC 11.2.0]
    PyTorch: 2.1.0
------------------------------------------------------------

11/24 09:58:03 - mmengine - INFO - Config:
auto_scale_lr = dict(base_batch_size=16, enable=False)
default_scope = 'mmdet'
optim_wrapper = dict(
    loss_scale='dynamic',
    optimizer=dict(lr=0.02, momentum=0.9, type='SGD', weight_decay=0.0001),
    type='AmpOptimWrapper')
work_dir = './work_dirs/faster-rcnn_r50_fpn_amp-2666x1600_coco'

11/24 09:58:09 - mmengine - WARNING - The prefix is not set in metric class DumpDetResults.
11/24 09:58:12 - mmengine - INFO - Checkpoints will be saved to /home/u/mmdetection/work_dirs/faster-rcnn_r50_fpn_amp-2666x1600_coco.
"""
DIST_TRAIN_LINE = (
    "+ python -m torch.distributed.launch --nnodes=1 --node_rank=0 --nproc_per_node=8 --master_port=29500 "
    "/home/u/mmdetection/tools/train.py configs/faster_rcnn/my_frcnn_amp.py --launcher pytorch --amp\n"
)


def _amp_nms_log(header: str) -> str:
    return header + (LOGS / "report_003_amp_nms.txt").read_text()


def test_a_log_names_its_config_by_the_work_dir_tools_train_names_after_it(tmp_path: Path):
    text = _amp_nms_log(MMENGINE_HEADER)
    assert config_named_in_log(text, tmp_path) == "faster-rcnn_r50_fpn_amp-2666x1600_coco.py"  # not found here
    config = tmp_path / "configs" / "faster_rcnn" / "faster-rcnn_r50_fpn_amp-2666x1600_coco.py"
    config.parent.mkdir(parents=True)
    config.write_text("_base_ = './faster-rcnn_r50_fpn_1x_coco.py'\n")
    assert config_named_in_log(text, tmp_path) == "configs/faster_rcnn/faster-rcnn_r50_fpn_amp-2666x1600_coco.py"


def test_a_log_names_its_config_on_the_training_command_line_first(tmp_path: Path):
    assert config_named_in_log(_amp_nms_log(DIST_TRAIN_LINE + MMENGINE_HEADER), tmp_path) == (
        "configs/faster_rcnn/my_frcnn_amp.py")
    no_train_script = "$ bash tools/dist_train.sh configs/yolox/yolox_s_8xb8-300e_coco.py 8\n"
    assert config_named_in_log(_amp_nms_log(no_train_script), tmp_path) == "configs/yolox/yolox_s_8xb8-300e_coco.py"


def test_a_log_naming_no_config_gets_none():
    assert config_named_in_log((LOGS / "report_003_amp_nms.txt").read_text()) is None
    frame_only = '  File "/home/u/mmdetection/configs/_base_/models/faster-rcnn_r50_fpn.py", line 3, in <module>\n'
    assert config_named_in_log(frame_only) is None  # a traceback frame is where it failed, not what trained


def test_diagnose_prints_commands_for_the_config_the_log_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.log").write_text(_amp_nms_log(DIST_TRAIN_LINE + MMENGINE_HEADER))
    result = invoke("train.log")
    assert result.exit_code == 0
    assert "config configs/faster_rcnn/my_frcnn_amp.py, as the log names it" in result.stdout
    assert "$ autofix apply --fix split-thr configs/faster_rcnn/my_frcnn_amp.py" in result.stdout
    assert "$ autofix apply --fix amp-nms configs/faster_rcnn/my_frcnn_amp.py" in result.stdout
    assert " CONFIG" not in result.stdout
    document = json.loads(invoke("train.log", "--format", "json").stdout)
    assert document["config_named_in_log"] == "configs/faster_rcnn/my_frcnn_amp.py"
    assert document["matches"][0]["command"] == "autofix apply --fix amp-nms configs/faster_rcnn/my_frcnn_amp.py"
