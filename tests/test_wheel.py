"""The wheel carries the templates and KaTeX: install it in a fresh venv and render there."""

import os
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
