"""The README is tested: every shell command and Python example it shows runs, and prints
what the README says it prints.

Shell blocks (```sh): every command runs in a fresh folder holding the README's TOML files
(named by their first comment line, ``# network.toml — …``); it must exit 0, unless its
comment shows a verdict: ``# ✓ text`` (exit 0) or ``# ✗ text`` (exit 1), whose text (up to
a trailing ``...``) must begin what it prints. Python blocks (```pycon) are doctests.
"""

import doctest
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, require

README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.S | re.M)
# Commands the README shows for setting up, which CI itself runs.
SETUP = ("pip install", "npm install")


def _blocks(kind: str) -> list[str]:
    return [body for fence, body in BLOCK.findall(README) if fence == kind]


def _toml_files() -> dict[str, str]:
    files = {}
    for body in _blocks("toml"):
        name = re.match(r"# (\S+\.toml)", body)
        assert name, "every TOML block of the README starts with '# NAME.toml'"
        files[name.group(1)] = body
    return files


def _commands() -> list[str]:
    return [line for body in _blocks("sh") for line in body.splitlines()
            if line.strip() and not line.startswith(SETUP)]


def test_the_readme_has_what_this_test_reads():
    """The README shows shell commands, Python examples and its TOML files."""
    assert len(_commands()) >= 25 and len(_blocks("pycon")) >= 4
    assert {"network.toml", "batch.toml"} <= set(_toml_files())


def _expected(command: str) -> tuple[int, str | None]:
    """The exit code and the start of the output a command's comment promises."""
    _, _, comment = command.partition("  # ")
    comment = comment.strip()
    if comment[:1] in ("✓", "✗"):
        return (0 if comment[0] == "✓" else 1), comment.removesuffix("...").rstrip(" ,")
    return 0, None


@pytest.mark.parametrize("command", _commands())
def test_readme_command(command, tmp_path):
    """The command runs and prints what its comment says."""
    if "dot -T" in command:
        require(shutil.which("dot") is not None, "graphviz's dot is not installed")
    if "pdflatex" in command:
        require(shutil.which("pdflatex") is not None, "pdflatex is not installed")
    if "--format torch" in command:
        import importlib.util
        require(importlib.util.find_spec("torch") is not None, "torch is not installed "
                "(pip install torch==2.13.0, as .ci/run does)")
    if ".html" in command:
        from symgrad.views.page import katex_assets
        from symgrad.errors import SymgradError
        try:
            katex_assets()
        except SymgradError:
            require(False, "this symgrad was built without KaTeX (npm missing)")
    for name, text in _toml_files().items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    shell = command.replace("symgrad ", f"{sys.executable} -m symgrad ")
    shell = re.sub(r"\bpython (\S+\.py)", rf"{sys.executable} \1", shell)
    result = subprocess.run(["bash", "-c", shell], cwd=tmp_path, capture_output=True, text=True,
                            timeout=600, env=_environment())
    code, output = _expected(command)
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    if output is not None:
        assert result.stdout.startswith(output), result.stdout


def _environment() -> dict:
    """This checkout's symgrad first, whatever folder a command runs in."""
    import os
    return os.environ | {"PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


@pytest.mark.parametrize("index", range(len(_blocks("pycon"))))
def test_readme_python_example(index, tmp_path, monkeypatch):
    """The Python example prints exactly what the README shows (a doctest)."""
    monkeypatch.chdir(tmp_path)
    test = doctest.DocTestParser().get_doctest(_blocks("pycon")[index], {}, f"README[{index}]",
                                               "README.md", 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test, out=lambda text: pytest.fail(text))
    assert runner.summarize(verbose=False).failed == 0
