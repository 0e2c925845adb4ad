"""The engine keeps every byte it does not mean to change, and writes atomically."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from autofix.engine import process_file
from autofix.files import TEMP_SUFFIX, FileError, decode_source, replace_atomically
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
    ],
    ids=["crlf", "utf8-bom", "latin-1-cookie", "mixed-newlines", "tabs-no-final-newline"],
)
def test_only_the_transformed_tokens_change(tmp_path: Path, raw: bytes, expected: bytes):
    path = tmp_path / "m.py"
    path.write_bytes(raw)
    result = process_file(path, RELU, {}, write=True)
    assert result.status == "changed", result.error
    assert path.read_bytes() == expected


def test_undecodable_and_binary_files_are_clear_errors(tmp_path: Path):
    (tmp_path / "bad.py").write_bytes(b"x = '\xff\xfe'\n")
    (tmp_path / "bin.py").write_bytes(b"\x00\x01ReLU(inplace=True)")
    bad = process_file(tmp_path / "bad.py", RELU, {}, write=True)
    binary = process_file(tmp_path / "bin.py", RELU, {}, write=True)
    assert bad.status == "error" and "not UTF-8" in bad.error
    assert binary.status == "error" and "binary" in binary.error


def test_write_keeps_permissions_and_leaves_no_temp_file(tmp_path: Path):
    path = tmp_path / "m.py"
    path.write_text("r = nn.ReLU(inplace=True)\n")
    path.chmod(0o751)
    process_file(path, RELU, {}, write=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o751
    assert [p.name for p in tmp_path.iterdir()] == ["m.py"]


def test_write_goes_through_a_symlink(tmp_path: Path):
    target = tmp_path / "real.py"
    target.write_text("r = nn.ReLU(inplace=True)\n")
    link = tmp_path / "link.py"
    link.symlink_to(target)
    process_file(link, RELU, {}, write=True)
    assert link.is_symlink()
    assert target.read_text() == "r = nn.ReLU()\n"


def test_read_only_file_is_reported_and_left_alone(tmp_path: Path):
    path = tmp_path / "m.py"
    path.write_text("r = nn.ReLU(inplace=True)\n")
    path.chmod(0o444)
    result = process_file(path, RELU, {}, write=True)
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
