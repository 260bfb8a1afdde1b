"""Build hook: bundle KaTeX (script, stylesheet, woff2 fonts) for self-contained HTML pages,
and compile the modules of an editable install.

KaTeX is fetched from the npm registry with ``npm pack`` when symgrad is built, or copied
from ``SYMGRAD_KATEX_DIR`` (a ``node_modules/katex`` folder) when that is set, into
``symgrad/_katex`` (ignored by git), and shipped in the wheel as package data.  Without
npm the build still succeeds: only ``--format html`` is missing, and it says so.

An installed wheel's modules are compiled by pip; an editable install runs them in place,
so the hook compiles them there (``__pycache__``, ignored by git): otherwise every run
compiles them again wherever PYTHONDONTWRITEBYTECODE is set. An edited module's .pyc no
longer matches its source's time and size, and Python compiles that module afresh.
"""

from __future__ import annotations

import compileall
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

KATEX = "katex@0.16.47"


def _wanted(name: str) -> bool:
    return name in {"katex.min.js", "katex.min.css"} or (
        name.startswith("fonts/") and name.endswith(".woff2"))


def _copy_from(folder: Path, target: Path) -> None:
    dist = folder / "dist" if (folder / "dist").is_dir() else folder
    for path in dist.rglob("*"):
        name = path.relative_to(dist).as_posix()
        if path.is_file() and _wanted(name):
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target / name)
    shutil.copyfile(folder / "LICENSE", target / "LICENSE")


def _fetch(target: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        packed = subprocess.run(["npm", "pack", KATEX, "--pack-destination", scratch,
                                 "--silent"], capture_output=True, text=True, timeout=300,
                                check=True).stdout.split()[-1]
        with tarfile.open(Path(scratch) / packed) as archive:
            archive.extractall(scratch, filter="data")
        _copy_from(Path(scratch) / "package", target)


class KatexHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        if version == "editable":
            compileall.compile_dir(Path(self.root) / "symgrad", quiet=1)
        target = Path(self.root) / "symgrad" / "_katex"
        if not (target / "katex.min.js").is_file():
            scratch = Path(tempfile.mkdtemp(dir=target.parent, prefix="._katex."))
            try:
                source = os.environ.get("SYMGRAD_KATEX_DIR")
                if source:
                    _copy_from(Path(source), scratch)
                else:
                    _fetch(scratch)
                scratch.rename(target)
            except (OSError, subprocess.SubprocessError) as error:
                shutil.rmtree(scratch, ignore_errors=True)
                self.app.display_warning(f"symgrad: KaTeX not bundled ({error}); "
                                         "'--format html' will ask for SYMGRAD_KATEX_DIR")
                return
        if version != "editable":  # an editable install reads symgrad/_katex in place
            build_data["force_include"][str(target)] = "symgrad/_katex"
