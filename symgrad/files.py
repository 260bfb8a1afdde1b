"""Writing output files: all or nothing, with the usual permissions.

A set of files (a sheet and its key, a document and its plots) is written as one unit:
every file goes to a temporary file beside its target and is synced; only then are they
renamed into place, one after the other, under a lock on the folder so that two runs
cannot interleave their renames. A failure removes the temporaries and puts back what
was replaced, so the folder holds the old set or the new one, never a mix. Only regular
files are replaced: a symbolic link, a device or a folder at a target is refused.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import tempfile
from pathlib import Path

from .errors import SymgradError

__all__ = ["write_atomically", "write_files", "write_into", "kind_of"]

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no lock, renames still all or nothing
    fcntl = None


def write_atomically(path: str | os.PathLike, data: str | bytes) -> None:
    """Write text (UTF-8, ``\\n`` line ends) or bytes to a temporary file beside ``path``,
    then rename it into place, so a failure never leaves a half-written file.

    >>> import tempfile; folder = Path(tempfile.mkdtemp())
    >>> write_atomically(folder / "lesson.md", "z = 1.1\\n"); (folder / "lesson.md").read_text()
    'z = 1.1\\n'
    """
    write_files({path: data})


def write_files(files: dict) -> None:
    """Write every ``path: text or bytes`` of ``files`` as one unit: all of them or none.

    Refused in one line (a SymgradError) before anything is written: a target that is a
    folder, a symbolic link, a device or a FIFO, or whose folder is missing. A failure
    while writing (a full disk, no permission) is a SymgradError too, and leaves the
    folder as it was.
    """
    targets = {Path(path): data for path, data in files.items()}
    for path in targets:
        _check_target(path)
    temporaries, backups, renamed = {}, {}, []
    current = None
    try:
        with contextlib.ExitStack() as locks:
            for folder in sorted({path.parent for path in targets}):
                locks.enter_context(_locked(folder))
            _write_temporaries(targets, temporaries)
            for current in targets:
                _check_target(current)  # again: another program may have been quicker
                backups[current] = _backup(current)
            for current in targets:
                os.replace(temporaries[current], current)
                del temporaries[current]
                renamed.append(current)
            for folder in {path.parent for path in targets}:
                _sync_folder(folder)
    except BaseException as error:
        for path in reversed(renamed):  # put back what this write replaced
            with contextlib.suppress(OSError):
                if backups.get(path) is not None:
                    os.replace(backups.pop(path), path)
                else:
                    path.unlink()
        if isinstance(error, OSError):
            current = getattr(error, "symgrad_target", current)
            raise SymgradError(f"cannot write {str(current)!r}: "
                               f"{error.strerror or error}") from None
        raise
    finally:
        for leftover in [*temporaries.values(), *backups.values()]:
            if leftover is not None:
                Path(leftover).unlink(missing_ok=True)


def write_into(folder: str | os.PathLike, documents: dict) -> list[Path]:
    """Write ``documents`` (a name relative to ``folder`` -> text or bytes) into ``folder``,
    making it and the subfolders the names need, as one unit (:func:`write_files`)."""
    folder = Path(folder)
    paths = {folder / name: data for name, data in documents.items()}
    # The folders made here, to be taken away again (if still empty) when the files cannot
    # all be written: nothing is left half-written, not even an empty gradescope/ada/.
    made = sorted({part for path in paths for part in (path.parent, *path.parent.parents)
                   if not os.path.lexists(part)}, key=lambda part: len(part.parts))
    try:
        try:
            for parent in sorted({path.parent for path in paths}):
                parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise SymgradError(f"cannot write to {str(folder)!r}: "
                               f"{error.strerror or 'not a folder'}") from None
        write_files(paths)
    except BaseException:
        for part in reversed(made):
            with contextlib.suppress(OSError):
                part.rmdir()
        raise
    return list(paths)


def kind_of(mode: int) -> str:
    """What a file is, in words: ``'a regular file'``, ``'a folder'``, ``'a device'``, ...

    >>> kind_of(os.stat(".").st_mode)
    'a folder'
    """
    return next((words for test, words in (
        (stat.S_ISREG, "a regular file"), (stat.S_ISDIR, "a folder"),
        (stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket")) if test(mode)), "a device")


def _check_target(path: Path) -> None:
    """Nothing, or a regular file, may sit at ``path``; its folder must exist."""
    name = repr(str(path))
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        if not path.parent.is_dir():
            raise SymgradError(f"cannot write {name}: folder {str(path.parent)!r} does not "
                               "exist") from None
        return
    except OSError as error:
        raise SymgradError(f"cannot write {name}: {error.strerror}") from None
    if stat.S_ISDIR(mode):
        raise SymgradError(f"{name} is a folder; give a file name, such as one inside it")
    if not stat.S_ISREG(mode):
        raise SymgradError(f"{name} is {kind_of(mode)}; symgrad replaces only regular files")


# Temporaries are written (and synced) by this many threads at once: a class writes a
# thousand files, and each sync waits on the disk, not on Python.
WRITERS = 8


def _write_temporaries(targets: dict, temporaries: dict) -> None:
    """A synced temporary beside each target, recorded in ``temporaries`` as it is made
    (so a failure leaves none behind); the first failure is raised, with its target in
    ``error.symgrad_target``, once every write has ended."""
    from concurrent.futures import ThreadPoolExecutor  # only when writing: not for --help
    with ThreadPoolExecutor(max_workers=max(1, min(WRITERS, len(targets)))) as pool:
        futures = {path: pool.submit(_write_temporary, path, data)
                   for path, data in targets.items()}
    failure = None
    for path, future in futures.items():
        try:
            temporaries[path] = future.result()
        except BaseException as error:  # noqa: B036 - raised below, after the others
            failure = failure or (path, error)
    if failure is not None:
        path, error = failure
        error.symgrad_target = path
        raise error


def _write_temporary(path: Path, data: str | bytes) -> str:
    """A synced temporary file beside ``path`` holding ``data``; its name."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                         suffix=".tmp")
    try:
        # mkstemp makes the file private; an output file gets the usual permissions.
        os.chmod(temporary, 0o666 & ~_umask())
        with os.fdopen(handle, "wb") as stream:
            stream.write(data.encode("utf-8") if isinstance(data, str) else data)
            stream.flush()
            os.fsync(stream.fileno())
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return temporary


def _backup(path: Path) -> str | None:
    """A second name (hard link) for the file at ``path``, to put it back after a failure."""
    if not path.exists():
        return None
    backup = path.parent / f".{path.name}.{secrets.token_hex(6)}.old"
    try:
        os.link(path, backup)
    except OSError:
        return None  # a file system without hard links: that file cannot be put back
    return str(backup)


@contextlib.contextmanager
def _locked(folder: Path):
    """An exclusive lock on ``folder`` itself (no lock file is left behind)."""
    if fcntl is None:
        yield
        return
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def _sync_folder(folder: Path) -> None:
    """Make the renames durable (best effort: not every file system syncs folders)."""
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _umask() -> int:
    """The process's umask (reading it means setting it, so it is set straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
