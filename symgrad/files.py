"""Writing output files: all or nothing, with the usual permissions."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import SymgradError

__all__ = ["write_atomically"]


def write_atomically(path: str | os.PathLike, data: str | bytes) -> None:
    """Write text (UTF-8, ``\\n`` line ends) or bytes to a temporary file beside ``path``,
    then rename it into place, so a failure never leaves a half-written file."""
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise SymgradError(f"cannot write {str(path)!r}: folder {str(folder)!r} does not exist")
    try:
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise SymgradError(f"cannot write {str(path)!r}: {error.strerror}") from None
    try:
        # mkstemp makes the file private; an output file gets the usual permissions.
        os.chmod(temporary, 0o666 & ~_umask())
        if isinstance(data, str):
            with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
                stream.write(data)
        else:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's umask (reading it means setting it, so it is set straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
