"""Tests of symgrad.views.notebook: --format ipynb writes a notebook that recomputes the numbers."""

import json
import re
import sys

import pytest
from gallery import GALLERY
from symgrad import worked_example
from symgrad.cli import main


@pytest.mark.parametrize("name", ["two_input_batch_mse", "network_2_2_2_sigmoid"])
def test_notebook_runs_and_recomputes_the_gradients(name, tmp_path):
    """Executed by nbclient, the notebook prints every gradient the JSON holds."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    neuron, samples, options = GALLERY[name]
    example = worked_example(neuron, samples, **options)
    path = example.save(tmp_path / "lesson.ipynb")
    book = nbformat.read(path, as_version=4)
    assert [cell.cell_type for cell in book.cells] == ["markdown", "markdown", "code"]
    assert book.cells[0].source == example.to_markdown() == example._repr_markdown_()
    nbclient.NotebookClient(book, timeout=120, kernel_name="python3").execute()
    printed = "".join(output.get("text", "") for output in book.cells[-1].outputs)
    shown = {}
    for parameter, value in re.findall(r"^\s+dL/d(\w+) = (\S+)$", printed, re.M):
        shown.setdefault(parameter, value)  # the first pass, before the training loop
    for parameter, value in json.loads(example.to_json())["gradients"].items():
        assert float(shown[parameter]) == pytest.approx(value["value"], rel=1e-9)


def test_notebook_is_the_same_file_every_time():
    """Its cells have named ids (nbformat's own are random), so the same example gives the
    same bytes: a notebook can be committed and diffed."""
    pytest.importorskip("nbformat")
    first, second = worked_example().render("ipynb"), worked_example().render("ipynb")
    assert first == second
    assert [cell["id"] for cell in json.loads(first)["cells"]] == [
        "worked-example", "recompute-heading", "recompute"]


def test_notebook_without_nbformat_says_what_to_install(monkeypatch, capsys, tmp_path):
    """Without the extra, --format ipynb names `pip install 'symgrad[notebook]'`, exit 2."""
    monkeypatch.setitem(sys.modules, "nbformat", None)
    assert main(["example", "--format", "ipynb", "--out", str(tmp_path / "a.ipynb")]) == 2
    assert "pip install 'symgrad[notebook]'" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_notebook_holds_its_plots_and_graph(tmp_path):
    """With --graph --plots the notebook's Markdown carries the Mermaid graph and the three
    plots as SVG data, so it needs no files beside it."""
    pytest.importorskip("nbformat")
    pytest.importorskip("matplotlib")
    assert main(["example", "--graph", "--plots", "--steps", "3", "--format", "ipynb",
                 "--out", str(tmp_path / "lesson.ipynb")]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["lesson.ipynb"]
    first = json.loads((tmp_path / "lesson.ipynb").read_text())["cells"][0]["source"]
    first = "".join(first) if isinstance(first, list) else first
    assert first.count("](data:image/svg+xml;base64,") == 3 and "```mermaid" in first
