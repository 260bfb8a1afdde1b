"""Tests of the symgrad command line: output, --spec, --out and bad input."""

import json
import sys

import pytest

from conftest import run
from symgrad.cli import main

CLI = (sys.executable, "-m", "symgrad")


def test_default_example_is_seed_001(capsys):
    """`symgrad example` with no flags renders seed lesson 001 in Markdown."""
    assert main(["example"]) == 0
    out = capsys.readouterr().out
    assert r"2 \cdot \left(1.1 - 1.5\right) = -0.8$$" in out and r"= 0.66$$" in out


def test_seed_003_from_flags_as_json(capsys):
    """Flags give seed lesson 003; JSON carries its numbers."""
    assert main(["example", "--x", "2.0", "--w", "1.5", "--b", "0.5", "--y", "4.0",
                 "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["loss_value"]["latex"] == "0.25"
    assert {k: v["latex"] for k, v in data["updated"].items()} == {"w": "1.7", "b": "0.6"}


def test_many_inputs_by_comma_or_repetition(capsys):
    """--x 1,2 and --x 1 --x 2 mean the same two inputs."""
    main(["example", "--x", "1,2", "--w", "0.5", "--w", "-0.25", "--format", "json"])
    first = json.loads(capsys.readouterr().out)
    main(["example", "--x", "1", "--x", "2", "--w", "0.5,-0.25", "--format", "json"])
    assert json.loads(capsys.readouterr().out) == first
    assert set(first["gradients"]) == {"w1", "w2", "b"}


def test_spec_file_batch(tmp_path, capsys):
    """A TOML spec describes a batch; flags override its settings."""
    spec = tmp_path / "batch.toml"
    spec.write_text('activation = "relu"\nloss = "mse"\nweights = [0.5, -0.25]\nbias = 0.1\n'
                    'learning_rate = 0.1\nsteps = 3\n'
                    '[[samples]]\nx = [1, 2]\ny = 1\n[[samples]]\nx = [2, -1]\ny = 0.5\n')
    assert main(["example", "--spec", str(spec), "--format", "json", "--lr", "0.05"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["activation"] == "relu" and len(data["samples"]) == 2
    assert data["learning_rate"]["exact"] == "1/20" and len(data["steps"]) == 3


def test_out_writes_file_and_infers_format(tmp_path):
    """--out writes the file (format from its suffix) and prints nothing."""
    target = tmp_path / "lesson.tex"
    result = run(*CLI, "example", "--out", str(target))
    assert result.returncode == 0 and result.stdout == ""
    assert target.read_text().startswith(r"\documentclass")
    assert [p.name for p in tmp_path.iterdir()] == ["lesson.tex"]


@pytest.mark.parametrize("args, message", [
    (["--x", "abc"], "x must be a number such as 0.5"),
    (["--x", "nan"], "finite"),
    (["--w", "inf"], "finite"),
    (["--y", "1e999999"], "out of range"),
    (["--b", ""], "empty"),
    (["--activation", "swish"], "choose one of: identity, sigmoid, tanh, relu"),
    (["--loss", "hinge"], "choose one of: squared, half_squared, mse, mae, bce, huber"),
    (["--x", "1,2"], "give one x per w"),
    (["--lr", "0"], "learning rate must be positive"),
    (["--lr", "-0.5"], "learning rate must be positive"),
    (["--loss", "bce", "--y", "1"], "log(0)"),
    (["--loss", "bce", "--activation", "sigmoid"], "targets from 0 to 1"),
    (["--templates", "/no/such/folder"], "does not exist"),
    (["--steps", "0"], "at least 1"),
    (["--format", "docx"], "invalid choice"),
    (["--spec", "/no/such.toml"], "does not exist"),
])
def test_bad_input_is_one_line_exit_2_no_file(tmp_path, args, message):
    """Bad input prints one error line naming the problem, exits 2 and writes no file."""
    target = tmp_path / "out.md"
    result = run(*CLI, "example", *args, "--out", str(target))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_missing_template_exit_2(tmp_path):
    """A template folder without the needed include fails cleanly with exit code 2."""
    (tmp_path / "example.md.j2").write_text("{% include 'gone.j2' %}")
    result = run(*CLI, "example", "--templates", str(tmp_path))
    assert result.returncode == 2 and "'gone.j2' not found" in result.stderr


def test_bad_spec_keys(tmp_path):
    """Unknown keys in a spec are named together with the allowed ones."""
    spec = tmp_path / "s.toml"
    spec.write_text("wieghts = [1]\n")
    result = run(*CLI, "example", "--spec", str(spec))
    assert result.returncode == 2 and "unknown key 'wieghts'" in result.stderr


def test_unwritable_out_folder(tmp_path):
    """--out into a missing folder is a clear error."""
    result = run(*CLI, "example", "--out", str(tmp_path / "nope" / "x.md"))
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_help_teaches_every_flag():
    """`symgrad example --help` names every flag and the registries."""
    out = run(*CLI, "example", "--help").stdout
    for flag in ("--x", "--w", "--b", "--no-bias", "--y", "--activation", "--loss", "--lr",
                 "--steps", "--tol", "--digits", "--format", "--out", "--templates", "--spec",
                 "leaky_relu", "huber", "--no-glossary"):
        assert flag in out


@pytest.mark.parametrize("argv, message", [
    (["--plots", "--format", "json"], "plots go with md, tex, html and ipynb documents, not json"),
    (["--plots", "--format", "dot"], "plots go with md, tex, html and ipynb documents, not dot"),
    (["--plots"], "plots are image files beside a md document: save it to a path (--out NAME.md)"),
])
def test_plots_without_a_place_for_them(argv, message, capsys, tmp_path):
    """--plots with a format that cannot hold pictures is one line, exit 2, no file."""
    assert main(["example", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and message in captured.err


def test_plots_are_written_beside_the_document(tmp_path):
    """--plots --out NAME.md writes the three pictures as SVG and PNG and shows the SVGs."""
    pytest.importorskip("matplotlib")
    assert main(["example", "--plots", "--steps", "3", "--out", str(tmp_path / "lesson.md")]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(["lesson.md"] + [f"lesson_{plot}{ext}" for plot in
                                            ("loss_curve", "loss_slice", "loss_surface")
                                            for ext in (".svg", ".png")])
    text = (tmp_path / "lesson.md").read_text()
    assert "![The loss during training](lesson_loss_curve.svg)" in text
    assert ".png" not in text
