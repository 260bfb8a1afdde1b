"""The wheel carries the templates and KaTeX: install it in a fresh venv and render there."""

import os
import shutil
import sys
import venv
from pathlib import Path

import jinja2
import markdown_it
import mdit_py_plugins
import mdurl
import sympy

from conftest import ROOT, run


def test_wheel_renders_in_fresh_venv(tmp_path):
    """`symgrad example --format tex` and `--format html` (KaTeX inlined from the wheel's
    package data) work from an installed wheel, outside the source tree."""
    built = run(sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path / "dist"),
                str(ROOT))
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next((tmp_path / "dist").glob("symgrad-*.whl"))
    env = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env)
    python = env / "bin" / "python"
    # Reuse the test environment's run-time dependencies without network access: a .pth line
    # adds their folders to the new venv's path (after its own site-packages).
    site = run(str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    folders = {str(Path(module.__file__).resolve().parent.parent)
               for module in (sympy, jinja2, markdown_it, mdit_py_plugins, mdurl)}
    (Path(site.stdout.strip()) / "test-deps.pth").write_text("\n".join(sorted(folders)) + "\n")
    installed = run(str(python), "-m", "pip", "install", "--no-deps", "--no-index", str(wheel))
    assert installed.returncode == 0, installed.stderr[-2000:]
    assert _uncompiled(python, tmp_path) == []
    result = run(str(env / "bin" / "symgrad"), "example", "--format", "tex", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert r"\documentclass" in result.stdout and "0.66" in result.stdout
    page = run(str(env / "bin" / "symgrad"), "example", "--format", "html", cwd=tmp_path,
               env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)})
    assert page.returncode == 0, page.stderr
    assert page.stdout.count("data:font/woff2;base64,") == 20 and "0.66" in page.stdout
    origin = run(str(python), "-c", "import symgrad, pathlib; print(symgrad.__file__)",
                 cwd=tmp_path).stdout
    assert str(env) in origin


# Run by the installed Python without importing symgrad (which would compile what it
# imports): each module of the package whose .pyc is missing or does not match its source.
UNCOMPILED = """
import importlib.util, pathlib
package = pathlib.Path(importlib.util.find_spec("symgrad").submodule_search_locations[0])
for source in sorted(package.rglob("*.py")):
    cached = pathlib.Path(importlib.util.cache_from_source(source))
    header = cached.read_bytes()[:16] if cached.exists() else b""
    stat = source.stat()
    fresh = importlib.util.MAGIC_NUMBER + bytes(4) + b"".join(
        (value & 0xFFFFFFFF).to_bytes(4, "little") for value in (int(stat.st_mtime), stat.st_size))
    if header != fresh:
        print(source.relative_to(package))
"""


def _uncompiled(python, cwd) -> list[str]:
    """The modules of the symgrad that ``python`` imports that it would compile first."""
    found = run(str(python), "-c", UNCOMPILED, cwd=cwd,
                env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=""))
    assert found.returncode == 0, found.stderr
    return found.stdout.split()


def test_editable_install_compiles_modules(tmp_path):
    """`pip install -e .` compiles every module in place (the build hook does), so a first
    run does not, even where PYTHONDONTWRITEBYTECODE is set; an installed wheel's modules
    are compiled by pip (test_wheel_renders_in_fresh_venv)."""
    source = tmp_path / "symgrad-source"
    # KaTeX too, when it is there, so the build hook need not fetch it again.
    shutil.copytree(ROOT / "symgrad", source / "symgrad",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "hatch_build.py", "README.md"):
        shutil.copyfile(ROOT / name, source / name)
    shutil.copytree(ROOT / "templates", source / "templates")
    env = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env)
    python = env / "bin" / "python"
    installed = run(str(python), "-m", "pip", "install", "--no-deps", "-e", str(source),
                    env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
    assert installed.returncode == 0, installed.stderr[-2000:]
    assert not _uncompiled(python, tmp_path)
    assert (source / "symgrad" / "__pycache__").is_dir()
