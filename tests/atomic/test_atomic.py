"""The one atomic-replace mechanism every writer uses (mtl_music.atomic)."""

from __future__ import annotations

import os

import pytest

from mtl_music.atomic import atomic_path, write_text_atomic


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "sub" / "data.txt"
    write_text_atomic(target, "old\n", fsync=True)
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temp:
            temp.write_text("half")
            raise RuntimeError("crash while writing")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["data.txt"]


def test_the_written_file_is_an_ordinary_file(tmp_path):
    mask = os.umask(0o022)
    try:
        target = tmp_path / "model.pt"
        with atomic_path(target, suffix=".part.bin") as temp:
            assert temp.parent == tmp_path and temp.name.startswith(".model.pt.") and temp.name.endswith(".part.bin")
            temp.write_bytes(b"x")
    finally:
        os.umask(mask)
    assert target.read_bytes() == b"x"
    # mkstemp makes 0600 files; the result gets 0666 minus the umask read at import
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
