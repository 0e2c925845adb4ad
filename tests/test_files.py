"""The engine keeps every byte it does not mean to change, and writes atomically."""

from __future__ import annotations

import os
import signal
import stat
import tempfile
from pathlib import Path

import pytest
from testing_transforms import DropsComments

from autofix.engine import lost_comment, pipeline, run
from autofix.files import (
    TEMP_SUFFIX,
    FileError,
    decode_source,
    find_python_files,
    replace_atomically,
)
from autofix.registry import resolve_fix_ids

RELU = resolve_fix_ids(["relu-no-inplace"])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"import torch.nn as nn\r\nr = nn.ReLU(inplace=True)\r\n\r\n", b"import torch.nn as nn\r\nr = nn.ReLU()\r\n\r\n"),
        (b"\xef\xbb\xbfr = nn.ReLU(inplace=True)  # \xc3\xa9\n", b"\xef\xbb\xbfr = nn.ReLU()  # \xc3\xa9\n"),
        (b"# -*- coding: latin-1 -*-\nr = nn.ReLU(inplace=True)  # \xe9t\xe9\n", b"# -*- coding: latin-1 -*-\nr = nn.ReLU()  # \xe9t\xe9\n"),
        (b"a = 1\r\nr = nn.ReLU(inplace=True)\nb = 2\r", b"a = 1\r\nr = nn.ReLU()\nb = 2\r"),
        (b"if x:\n\tr = nn.ReLU(inplace=True)", b"if x:\n\tr = nn.ReLU()"),
        (b"r = nn.ReLU(inplace=True)  # caf\xc3\xa9 \xe2\x9c\x93\n", b"r = nn.ReLU()  # caf\xc3\xa9 \xe2\x9c\x93\n"),
        (
            b"\xef\xbb\xbffrom mmcv.cnn import ConvModule\r\nc = ConvModule(\r\n    3,\r\n    8,\r\n    3,\r\n)\r\n",
            b"\xef\xbb\xbffrom mmcv.cnn import ConvModule\r\nc = ConvModule(\r\n    3,\r\n    8,\r\n    3,\r\n    inplace=False,\r\n)\r\n",
        ),
        (
            b"#!/usr/bin/env python\n# vim: set fileencoding=latin-1 :\nr = nn.ReLU(True)  # \xe9\n",
            b"#!/usr/bin/env python\n# vim: set fileencoding=latin-1 :\nr = nn.ReLU()  # \xe9\n",
        ),
        (b"a = 1\rr = nn.ReLU(inplace=True)\rb = 2", b"a = 1\rr = nn.ReLU()\rb = 2"),
        (b"\x0c\nr = nn.ReLU(inplace=True)   \t\n\n\n", b"\x0c\nr = nn.ReLU()   \t\n\n\n"),
        (b"r = nn.ReLU(inplace=True)  # last line, no newline", b"r = nn.ReLU()  # last line, no newline"),
    ],
    ids=[
        "crlf", "utf8-bom", "latin-1-cookie", "mixed-newlines", "tabs-no-final-newline", "utf8-no-bom",
        "bom-crlf-inserted-line", "cookie-on-line-2", "cr-only", "form-feed-trailing-blanks", "comment-last",
    ],
)
def test_only_the_transformed_tokens_change(tmp_path: Path, raw: bytes, expected: bytes):
    path = tmp_path / "m.py"
    path.write_bytes(raw)
    result = run([path], RELU, {}, write=True).results[0]
    assert result.status == "changed", result.error
    assert path.read_bytes() == expected


def test_undecodable_and_binary_files_are_clear_errors(tmp_path: Path):
    (tmp_path / "bad.py").write_bytes(b"x = '\xff\xfe'\n")
    (tmp_path / "bin.py").write_bytes(b"\x00\x01ReLU(inplace=True)")
    bad = run([tmp_path / "bad.py"], RELU, {}, write=True).results[0]
    binary = run([tmp_path / "bin.py"], RELU, {}, write=True).results[0]
    assert bad.status == "error" and "not UTF-8" in bad.error
    assert binary.status == "error" and "binary" in binary.error


def test_write_keeps_permissions_and_leaves_no_temp_file(tmp_path: Path):
    path = tmp_path / "m.py"
    path.write_text("r = nn.ReLU(inplace=True)\n")
    path.chmod(0o751)
    run([path], RELU, {}, write=True).results[0]
    assert stat.S_IMODE(path.stat().st_mode) == 0o751
    assert [p.name for p in tmp_path.iterdir()] == ["m.py"]


def test_write_goes_through_a_symlink(tmp_path: Path):
    target = tmp_path / "real.py"
    target.write_text("r = nn.ReLU(inplace=True)\n")
    link = tmp_path / "link.py"
    link.symlink_to(target)
    run([link], RELU, {}, write=True).results[0]
    assert link.is_symlink()
    assert target.read_text() == "r = nn.ReLU()\n"


def test_read_only_file_is_reported_and_left_alone(tmp_path: Path):
    path = tmp_path / "m.py"
    path.write_text("r = nn.ReLU(inplace=True)\n")
    path.chmod(0o444)
    result = run([path], RELU, {}, write=True).results[0]
    assert result.status == "error" and "read-only" in result.error
    assert path.read_text() == "r = nn.ReLU(inplace=True)\n"


def test_file_changed_since_read_is_not_overwritten(tmp_path: Path):
    path = tmp_path / "m.py"
    path.write_bytes(b"new content\n")
    with pytest.raises(FileError, match="changed while autofix was running"):
        replace_atomically(path, b"fixed\n", original=b"old content\n")
    assert path.read_bytes() == b"new content\n"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(TEMP_SUFFIX)]


def test_decode_keeps_newlines_verbatim():
    assert decode_source(b"a\r\nb\rc\n").text == "a\r\nb\rc\n"


def test_failed_write_removes_the_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "m.py"
    path.write_bytes(b"old\n")

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(FileError, match="No space left"):
        replace_atomically(path, b"new\n", original=b"old\n")
    assert path.read_bytes() == b"old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["m.py"]


def test_file_with_nothing_to_fix_is_not_written(tmp_path: Path):
    already_fixed = tmp_path / "fixed.py"
    already_fixed.write_bytes(b"r = nn.ReLU()  # the prefilter matches, the parse finds nothing\r\n")
    os.utime(already_fixed, ns=(1_000_000_000, 1_000_000_000))
    result = run([already_fixed], RELU, {}, write=True).results[0]
    assert result.status == "unchanged" and not result.written
    assert already_fixed.read_bytes() == b"r = nn.ReLU()  # the prefilter matches, the parse finds nothing\r\n"
    assert already_fixed.stat().st_mtime_ns == 1_000_000_000


def test_write_is_a_fsynced_temp_file_in_the_same_folder_renamed_over_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    path = tmp_path / "m.py"
    path.write_bytes(b"old\n")
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def recording_fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def recording_replace(src, dst):
        events.append(("replace", str(src)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    monkeypatch.setattr(os, "replace", recording_replace)
    replace_atomically(path, b"new\n", original=b"old\n")
    assert path.read_bytes() == b"new\n"
    (fsync, temp), (replace, renamed) = events[:2]
    assert (fsync, replace) == ("fsync", "replace") and temp == renamed
    assert Path(temp).parent == tmp_path and temp.endswith(TEMP_SUFFIX)


def test_edit_made_while_the_temp_file_is_written_is_not_overwritten(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "m.py"
    path.write_bytes(b"old\n")
    real_fsync = os.fsync

    def someone_edits_meanwhile(fd):
        path.write_bytes(b"their edit\n")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", someone_edits_meanwhile)
    with pytest.raises(FileError, match="changed while autofix was running"):
        replace_atomically(path, b"new\n", original=b"old\n")
    assert path.read_bytes() == b"their edit\n"
    assert [p.name for p in tmp_path.iterdir()] == ["m.py"]


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another owner")
def test_write_keeps_the_owner(tmp_path: Path):
    path = tmp_path / "m.py"
    path.write_text("r = nn.ReLU(inplace=True)\n")
    os.chown(path, 1234, 5678)
    assert run([path], RELU, {}, write=True).results[0].written
    assert (path.stat().st_uid, path.stat().st_gid) == (1234, 5678)


def test_links_to_one_file_are_found_once_under_the_first_name(tmp_path: Path):
    target = tmp_path / "real.py"
    target.write_text("r = nn.ReLU(inplace=True)\n")
    (tmp_path / "link_b.py").symlink_to(target)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "link_a.py").symlink_to(target)
    files, missing = find_python_files([tmp_path / "real.py", tmp_path, tmp_path / "link_b.py"])
    assert files == [tmp_path / "link_b.py"] and missing == []


def test_several_links_to_one_file_write_it_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    target = tmp_path / "real.py"
    target.write_text("r = nn.ReLU(inplace=True)\n")
    links = [tmp_path / "link_a.py", tmp_path / "link_b.py"]
    for link in links:
        link.symlink_to(target)
    renames: list[str] = []
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda src, dst: (renames.append(str(dst)), real_replace(src, dst)))
    report = run([tmp_path, links[1]], RELU, {}, write=True)
    assert [(r.shown.rsplit("/", 1)[-1], r.status) for r in report.results] == [("link_a.py", "changed")]
    assert renames == [str(target)]
    assert target.read_text() == "r = nn.ReLU()\n"
    assert all(link.is_symlink() for link in links)


class _Stopped(BaseException):
    """What the test's signal handlers raise, as KeyboardInterrupt would."""


@pytest.fixture
def stop_signals_raise():
    def stop(signum, frame):
        raise _Stopped(signum)

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in previous.items():
        signal.signal(signum, handler)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("moment", ["tempfile.mkstemp", "os.fsync", "os.replace"])
def test_stop_signal_during_the_write_waits_until_the_file_is_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stop_signals_raise, signum: int, moment: str
):
    """The handler runs once the new file is in place; never with a temp file on disk."""
    path = tmp_path / "m.py"
    path.write_bytes(b"old\n")
    module, name = moment.split(".")
    real = getattr(tempfile if module == "tempfile" else os, name)

    def signalled(*args, **kwargs):
        value = real(*args, **kwargs)
        signal.raise_signal(signum)
        return value

    monkeypatch.setattr(tempfile if module == "tempfile" else os, name, signalled)
    with pytest.raises(_Stopped):
        replace_atomically(path, b"new\n", original=b"old\n")
    assert path.read_bytes() == b"new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["m.py"]


def test_file_edited_between_read_and_write_is_reported_and_keeps_the_edit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    path = tmp_path / "m.py"
    path.write_text("r = nn.ReLU(inplace=True)\n")
    real_rewrite = pipeline.rewrite_source

    def someone_edits_while_autofix_transforms(*args, **kwargs):
        path.write_text("their edit\n")
        return real_rewrite(*args, **kwargs)

    monkeypatch.setattr(pipeline, "rewrite_source", someone_edits_while_autofix_transforms)
    result = run([path], RELU, {}, write=True).results[0]
    assert (result.status, result.error) == ("error", "file changed while autofix was running; run autofix again")
    assert path.read_text() == "their edit\n"
    assert [p.name for p in tmp_path.iterdir()] == ["m.py"]


def test_fix_that_would_drop_a_comment_leaves_the_file_alone(tmp_path: Path):
    path = tmp_path / "m.py"
    path.write_text("r = nn.ReLU(inplace=True)  # why it is here\n")
    result = run([path], [*RELU, DropsComments()], {}, write=True).results[0]
    assert result.status == "error"
    assert result.error == "the fix would drop the comment '# why it is here', so the file is left alone; please report it"
    assert path.read_text() == "r = nn.ReLU(inplace=True)  # why it is here\n"


def test_added_keyword_does_not_copy_the_comment_of_the_line_above(tmp_path: Path):
    path = tmp_path / "m.py"
    path.write_text("from mmcv.cnn import ConvModule\nc = ConvModule(\n    3,  # in\n    8,  # out\n    3)\n")
    assert run([path], RELU, {}, write=True).results[0].written
    assert path.read_text() == (
        "from mmcv.cnn import ConvModule\nc = ConvModule(\n    3,  # in\n    8,  # out\n    3,\n    inplace=False)\n"
    )


@pytest.mark.parametrize(
    ("before", "after", "lost"),
    [
        ("d = dict(\n    a=1,  # AMP only\n    b=2)\n", "d = dict(\n    b=2)\n", None),  # left with its line
        ("f(\r    x,\r    inplace=True,  # c\r)  # c\r", "f(\r    x,\r)  # c\r", None),  # CR-only lines
        ("r = nn.ReLU(inplace=True)  # why\n", "r = nn.ReLU()\n", "# why"),  # the line was kept, changed
        ("x = 1  # one\ny = 2\n", "x = 1\ny = 2\n", "# one"),
        ("# a note\nx = 1\n", "x = 1\n", "# a note"),  # a comment-only line never goes
        (
            "d = dict(\n    type='AmpOptimWrapper',  # the wrapper\n    loss_scale=512.,  # scale\n)\n",
            "d = dict(\n    type='OptimWrapper',\n)\n",
            "# the wrapper",
        ),
    ],
)
def test_lost_comment_allows_only_comments_that_leave_with_their_code(before: str, after: str, lost: str | None):
    assert lost_comment(before, after) == lost
