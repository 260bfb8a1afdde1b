"""Tests of how the command line starts: paths that need no maths never import SymPy."""

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import symgrad
from conftest import run
from symgrad.cli import _COMMAND_MODULES, _build_parser

ROOT = Path(__file__).resolve().parent.parent

# Installed by sitecustomize.py at interpreter start: importing any of these fails.
BLOCKER = '''\
import sys

class _Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {"sympy", "mpmath", "jinja2"}:
            raise ImportError(f"blocked import of {name}")
        return None

sys.meta_path.insert(0, _Blocker())
'''


@pytest.fixture(scope="module")
def without_maths(tmp_path_factory):
    """Run ``python -m symgrad ARGS`` where importing sympy, mpmath or jinja2 fails."""
    folder = tmp_path_factory.mktemp("blocker")
    (folder / "sitecustomize.py").write_text(BLOCKER)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(folder), str(ROOT)]))
    return lambda *args: run(sys.executable, "-m", "symgrad", *args, env=env, cwd=folder)


@pytest.mark.parametrize("args", [["--help"], ["example", "--help"], ["sheet", "--help"],
                                  ["check", "--help"], ["mark", "--help"]])
def test_help_needs_no_maths(without_maths, args):
    """Every --help prints its usage and the choices without importing SymPy or Jinja2."""
    result = without_maths(*args)
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.startswith(f"usage: symgrad {args[0]}".replace(" --help", ""))
    if args == ["example", "--help"]:
        assert "activations: identity, sigmoid, tanh, relu" in result.stdout


def test_version_needs_no_maths(without_maths):
    """--version prints the version without importing SymPy or Jinja2."""
    result = without_maths("--version")
    assert (result.returncode, result.stdout) == (0, f"symgrad {symgrad.__version__}\n")


def test_no_command_prints_help_without_maths(without_maths):
    """symgrad alone prints the help and exits 2, without importing SymPy."""
    result = without_maths()
    assert result.returncode == 2 and result.stdout.startswith("usage: symgrad")


@pytest.mark.parametrize("args, error", [
    (["example", "--format", "nope"], "argument --format: invalid choice: 'nope' (choose from "
                                      "'md', 'tex', 'py', 'json', 'html', 'dot', 'ipynb', "
                                      "'numpy', 'torch')"),
    (["example", "--optimizer", "lbfgs"], "argument --optimizer: invalid choice: 'lbfgs'"),
    (["example", "--steps", "0"], "argument --steps: must be at least 1, not 0"),
    (["sheet", "--difficulty", "extreme"], "argument --difficulty: invalid choice"),
    (["check", "--answer", "1"], "the following arguments are required: --quantity"),
    (["teach"], "argument COMMAND: invalid choice: 'teach'"),
])
def test_argument_errors_need_no_maths(without_maths, args, error):
    """A mistyped flag is one line naming the problem and the choices, exit 2, no SymPy."""
    result = without_maths(*args)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and error in result.stderr


def test_the_blocker_blocks(without_maths):
    """A command that works a problem does need SymPy: the blocker makes it fail."""
    result = without_maths("example")
    assert result.returncode != 0
    assert re.search(r"ImportError: blocked import of (sympy|mpmath|jinja2)", result.stderr)


def test_every_public_name_imports():
    """Each name of __all__ is an attribute and imports with `from symgrad import`, and
    dir() lists them, though the package loads them only when first used."""
    assert set(symgrad.__all__) - {"__version__"} == set(symgrad._HOMES)
    namespace = {}
    exec(f"from symgrad import {', '.join(symgrad.__all__)}", namespace)
    assert all(namespace[name] is getattr(symgrad, name) for name in symgrad.__all__)
    assert set(symgrad.__all__) <= set(dir(symgrad))
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        symgrad.nothing


def _buffered(**extra):
    """The environment of a run whose standard output is block-buffered, as it usually is:
    what is left in the buffer is written only by run()'s flush."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    return env | {"PYTHONPATH": os.pathsep.join([*extra.get("before", ()), str(ROOT)])}


def test_run_flushes_the_whole_help(tmp_path):
    """`symgrad example --help` through a pipe arrives whole, though run() leaves by
    os._exit: the buffered text is flushed first."""
    result = run(sys.executable, "-m", "symgrad", "example", "--help", env=_buffered(),
                 cwd=tmp_path)
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.startswith("usage: symgrad example")
    assert result.stdout.endswith("symgrad example --format dot | dot -Tsvg > graph.svg\n")


@pytest.mark.parametrize("args", [["--version"], ["--help"]])
def test_full_disk_on_leaving_is_one_line(tmp_path, args):
    """Output that fails to flush at the end (`symgrad --version > /dev/full`) is one line
    naming the problem, exit 2 (Python itself would print a traceback and exit 120)."""
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "symgrad", *args], stdout=full,
                                stderr=subprocess.PIPE, text=True, env=_buffered(),
                                cwd=tmp_path)
    assert (result.returncode, result.stderr) == (
        2, "symgrad: error: cannot write to standard output: No space left on device\n")


@pytest.mark.parametrize("unbuffered", [False, True])
def test_full_disk_under_a_long_help_is_one_line(tmp_path, unbuffered):
    """A help text longer than the buffer (`symgrad example --help`, over 8 KB), or any
    with PYTHONUNBUFFERED set, fails while argparse writes it, which argparse itself would
    ignore (exit 0, nothing said): it is the same one line and exit 2."""
    env = _buffered() | ({"PYTHONUNBUFFERED": "1"} if unbuffered else {})
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "symgrad", "example", "--help"],
                                stdout=full, stderr=subprocess.PIPE, text=True, env=env,
                                cwd=tmp_path)
    assert (result.returncode, result.stderr) == (
        2, "symgrad: error: cannot write to standard output: No space left on device\n")


def test_usage_error_with_standard_error_full_exits_2(tmp_path):
    """A mistyped flag with standard error full has nowhere to say so: no traceback
    attempt, exit 2 as for any usage error."""
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "symgrad", "--nope"],
                                stdout=subprocess.PIPE, stderr=full, env=_buffered(),
                                cwd=tmp_path)
    assert (result.returncode, result.stdout) == (2, b"")


@pytest.mark.parametrize("args", [["--help"], ["example"], ["example", "--help"]])
def test_reader_gone_is_quiet(tmp_path, args):
    """When the reader of the pipe has left (`symgrad --help | true`), symgrad says nothing
    and exits 0: the reader had all it wanted."""
    reader, writer = os.pipe()
    os.close(reader)
    with os.fdopen(writer, "w") as stdout:
        result = subprocess.run([sys.executable, "-m", "symgrad", *args], stdout=stdout,
                                stderr=subprocess.PIPE, text=True, env=_buffered(),
                                cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")


def test_run_runs_the_exit_handlers(tmp_path):
    """Exit handlers (logging's, matplotlib's, finalizers) still run before os._exit."""
    marker = tmp_path / "handled"
    (tmp_path / "sitecustomize.py").write_text(
        f"import atexit\natexit.register(open, {str(marker)!r}, 'w')\n")
    result = run(sys.executable, "-m", "symgrad", "--version",
                 env=_buffered(before=[str(tmp_path)]), cwd=tmp_path)
    assert result.returncode == 0 and marker.exists()


def test_every_command_names_its_module():
    """Each subcommand has the module main() imports for it before it runs, so a new
    command cannot fail with a KeyError."""
    commands = next(action.choices for action in _build_parser()._actions
                    if isinstance(action, argparse._SubParsersAction))
    assert set(commands) == set(_COMMAND_MODULES)
