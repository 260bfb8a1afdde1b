"""Tests of symgrad.files: atomic writes with the usual permissions, sets of files written
as one unit, and only regular files replaced."""

import errno
import os

import pytest

from symgrad.errors import SymgradError
from symgrad.files import write_atomically, write_files, write_into


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


ENOSPC = OSError(errno.ENOSPC, "No space left on device")


def _fail_on_call(monkeypatch, name, number, error):
    """Make ``files.<name>`` raise ``error`` on its ``number``-th call."""
    from symgrad import files

    original, calls = getattr(files, name), []

    def failing(*args):
        calls.append(args)
        if len(calls) == number:
            raise error
        return original(*args)
    monkeypatch.setattr(files, name, failing)


def test_second_write_failing_leaves_the_old_set(tmp_path, monkeypatch):
    """A sheet and key are one unit: a full disk on the key leaves the old sheet and no
    temporary, and is one line naming the file."""
    (tmp_path / "sheet.md").write_text("old sheet\n")
    _fail_on_call(monkeypatch, "_write_temporary", 2, ENOSPC)
    with pytest.raises(SymgradError, match=r"^cannot write '.*key.md': No space left on device$"):
        write_files({tmp_path / "sheet.md": "new sheet\n", tmp_path / "key.md": "new key\n"})
    assert [p.name for p in tmp_path.iterdir()] == ["sheet.md"]
    assert (tmp_path / "sheet.md").read_text() == "old sheet\n"


def test_failed_rename_puts_back_what_it_replaced(tmp_path, monkeypatch):
    """When the second rename fails, the first file is put back: never a new sheet beside
    an old key."""
    (tmp_path / "sheet.md").write_text("old sheet\n")
    (tmp_path / "key.md").write_text("old key\n")
    replace, calls = os.replace, []

    def failing(source, target):
        calls.append(target)
        if len(calls) == 2:
            raise PermissionError(errno.EACCES, "Permission denied")
        replace(source, target)
    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(SymgradError, match="Permission denied"):
        write_files({tmp_path / "sheet.md": "new sheet\n", tmp_path / "key.md": "new key\n"})
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key.md", "sheet.md"]
    assert (tmp_path / "sheet.md").read_text() == "old sheet\n"
    assert (tmp_path / "key.md").read_text() == "old key\n"


def test_renames_hold_a_lock_on_the_folder(tmp_path, monkeypatch):
    """While one run renames its files another cannot lock the folder, so two runs cannot
    interleave a sheet of one seed with the key of another."""
    fcntl = pytest.importorskip("fcntl")
    replace, blocked = os.replace, []

    def checking(source, target):
        descriptor = os.open(tmp_path, os.O_RDONLY)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            blocked.append(target)
        finally:
            os.close(descriptor)
        replace(source, target)
    monkeypatch.setattr(os, "replace", checking)
    write_files({tmp_path / "sheet.md": "sheet\n", tmp_path / "key.md": "key\n"})
    assert len(blocked) == 2


@pytest.mark.parametrize("make, kind", [
    (lambda p: p.mkdir(), "is a folder"),
    (lambda p: p.symlink_to(p.parent / "elsewhere"), "is a symbolic link"),
    (lambda p: os.mkfifo(p), "is a FIFO"),
])
def test_only_regular_files_are_replaced(tmp_path, make, kind):
    """A folder, a symbolic link or a FIFO at the target is refused, left as it was, and
    nothing is written beside it."""
    target = tmp_path / "sheet.md"
    make(target)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(SymgradError, match=kind):
        write_files({tmp_path / "key.md": "key\n", target: "sheet\n"})
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert not (tmp_path / "elsewhere").exists()


def test_plots_and_document_are_one_unit(tmp_path, monkeypatch):
    """When the document cannot be written, none of the six pictures is left behind."""
    pytest.importorskip("matplotlib")
    from symgrad import worked_example

    example = worked_example(plots=True, steps=2)
    _fail_on_call(monkeypatch, "_write_temporary", 7, ENOSPC)
    with pytest.raises(SymgradError, match="lesson.md': No space left on device"):
        example.save(tmp_path / "lesson.md")
    assert list(tmp_path.iterdir()) == []


def test_write_into_leaves_no_folder_it_made_when_a_file_cannot_be_written(tmp_path):
    """Files that cannot all be written leave nothing behind: not the files, and not the
    folders made for them (an empty gradescope/ada/), while folders that were there stay."""
    out = tmp_path / "out"
    (out / "summary.md").mkdir(parents=True)  # a folder where a file must go
    with pytest.raises(SymgradError, match="is a folder"):
        write_into(out, {"gradescope/ada/results.json": "{}", "marks.csv": "x",
                         "summary.md": "y"})
    assert sorted(p.name for p in out.iterdir()) == ["summary.md"]
    assert (out / "summary.md").is_dir()
