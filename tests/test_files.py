"""Tests of symgrad.files: atomic writes with the usual permissions."""

import os

import pytest
from symgrad.errors import SymgradError
from symgrad.files import write_atomically


@pytest.mark.parametrize("data", ["z = 1.1\n", b"\x89PNG\r\n\x1a\n"])
def test_written_file_has_umask_permissions(tmp_path, data):
    """Text and bytes land whole, readable by others as the umask allows (not 0600)."""
    mask = os.umask(0o022)
    try:
        write_atomically(tmp_path / "out", data)
    finally:
        os.umask(mask)
    path = tmp_path / "out"
    assert (path.read_bytes() if isinstance(data, bytes) else path.read_text()) == data
    assert path.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_failed_write_leaves_nothing(tmp_path):
    """A write that fails midway leaves neither the file nor a temporary beside it."""
    with pytest.raises(TypeError):
        write_atomically(tmp_path / "out", 42)
    assert not list(tmp_path.iterdir())
    with pytest.raises(SymgradError, match="does not exist"):
        write_atomically(tmp_path / "missing" / "out", "x")
