"""Shared helpers: external tools (pdflatex, poppler, node + KaTeX) are required in CI.

Locally a missing tool skips its test; with SYMGRAD_REQUIRE_TOOLS=1 (set by
.ci/run) a missing tool fails the test instead, so CI cannot pass by skipping.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def require(condition: bool, why: str) -> None:
    """Skip (locally) or fail (in CI) when an external tool is missing."""
    if condition:
        return
    if os.environ.get("SYMGRAD_REQUIRE_TOOLS") == "1":
        pytest.fail(f"required tool missing in CI: {why}")
    pytest.skip(why)


@pytest.fixture(scope="session")
def pdflatex():
    path = shutil.which("pdflatex")
    require(path is not None, "pdflatex is not installed (apt-get install texlive-latex-base)")
    return path


@pytest.fixture(scope="session")
def poppler():
    """poppler's pdfinfo, pdftotext and pdffonts, which read PDFs back (pages, text, fonts)."""
    found = all(shutil.which(tool) for tool in ("pdfinfo", "pdftotext", "pdffonts"))
    require(found, "poppler's pdfinfo, pdftotext and pdffonts are not installed "
                   "(apt-get install poppler-utils)")


@pytest.fixture(scope="session")
def katex_dir():
    """A folder whose node_modules holds katex (installed by .ci/run)."""
    folder = Path(os.environ.get("SYMGRAD_NODE_DIR", ROOT / ".ci" / "node"))
    node = shutil.which("node")
    found = node is not None and (folder / "node_modules" / "katex").is_dir()
    require(found, f"node and katex are needed in {folder} (npm install --prefix {folder} katex)")
    return folder


@pytest.fixture(scope="session")
def torch_installed():
    """PyTorch, which the torch cross-check scripts import (installed by .ci/run)."""
    import importlib.util
    require(importlib.util.find_spec("torch") is not None,
            "torch is not installed (pip install torch==2.13.0, as .ci/run does)")


def run(*args, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, **kwargs)
