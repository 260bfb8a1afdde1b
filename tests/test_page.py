"""Tests of the HTML page (symgrad.views.page and --format html), seen in headless Chromium."""

import json
import os
import re
import shutil

import pytest
from conftest import ROOT, require, run
from gallery import GALLERY, OUTPUT
from symgrad import worked_example
from symgrad.cli import main

BROWSER = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def page_checker(katex_dir):
    """node with playwright-core and mermaid beside KaTeX, and Debian's chromium."""
    modules = katex_dir / "node_modules"
    found = all((modules / name).is_dir() for name in ("playwright-core", "mermaid"))
    require(found and os.path.exists(BROWSER),
            f"chromium ({BROWSER}) and npm packages playwright-core, mermaid in {modules}")

    def check(page, screenshot, *mermaid_files):
        result = run("node", str(ROOT / "tests" / "page_check.js"), str(page), str(screenshot),
                     *map(str, mermaid_files), env=dict(os.environ, NODE_PATH=str(modules)))
        assert result.returncode == 0, result.stderr[-3000:]
        return json.loads(result.stdout)
    return check


def _mermaid(markdown: str) -> str:
    return re.search(r"```mermaid\n(.*?)```", markdown, re.S).group(1)


def test_page_is_self_contained():
    """The page inlines KaTeX's script, stylesheet and fonts and links to nothing outside."""
    page = worked_example(graph=True).to_html()
    assert page.startswith("<!DOCTYPE html>") and "katex.render(" in page
    assert page.count("data:font/woff2;base64,") == 20 and "url(fonts/" not in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert r"\(w = 0.5\)" in page and r"p_{\text{new}}" in page


def test_missing_katex_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    """Without KaTeX the html format says how to get it, exit code 2, and writes nothing."""
    from symgrad.views import page
    monkeypatch.setenv("SYMGRAD_KATEX_DIR", str(tmp_path))
    page.katex_assets.cache_clear()
    try:
        assert main(["example", "--format", "html", "--out", str(tmp_path / "a.html")]) == 2
    finally:
        page.katex_assets.cache_clear()
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "SYMGRAD_KATEX_DIR" in error and "npm" in error
    assert not list(tmp_path.iterdir())


def test_page_in_chromium(page_checker, tmp_path):
    """The page with graph and plots loads in headless Chromium with no console errors and
    no network requests, every maths span typeset without KaTeX errors, the graph and the
    plots drawn; the screenshot goes to the gallery and mermaid parses every graph."""
    pytest.importorskip("matplotlib")
    neuron, samples, options = GALLERY["training_loop_5_steps"]
    example = worked_example(neuron, samples, graph=True, plots=True, **options)
    page = example.save(tmp_path / "lesson.html")
    markdowns = [example._repr_markdown_()] + [
        worked_example(n, s, graph=True, **o).to_markdown()
        for n, s, o in (GALLERY["two_input_batch_mse"], GALLERY["network_2_2_2_sigmoid"])]
    mermaid_files = []
    for number, markdown in enumerate(markdowns):
        mermaid_files.append(tmp_path / f"graph{number}.mmd")
        mermaid_files[-1].write_text(_mermaid(markdown), encoding="utf-8")
    screenshot = tmp_path / "page.png"
    result = page_checker(page, screenshot, *mermaid_files)
    assert result["consoleErrors"] == [] and result["requests"] == []
    assert result["katex"] > 50 and result["katexErrors"] == [] and result["untypeset"] == 0
    assert result["fontsLoaded"] >= 2
    assert result["graphNodes"] == len(example.computation_graph.nodes)
    assert len(result["images"]) == 3 and all(w > 300 and h > 200 for w, h in result["images"])
    assert "∂L/∂w = −1.6" in result["text"] and "step" in result["text"]
    assert result["mermaid"] == ["ok:flowchart-v2"] * 3
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (OUTPUT / "screenshots").mkdir(exist_ok=True)
    shutil.copyfile(screenshot, OUTPUT / "screenshots" / "training_loop_5_steps.png")


def test_repr_html_for_jupyter():
    """Jupyter's HTML view is the page's body: maths in \\( \\) for its MathJax, no script."""
    fragment = worked_example(graph=True)._repr_html_()
    assert r"\(w = 0.5\)" in fragment and '<figure class="graph">' in fragment
    assert "<script" not in fragment and "<html" not in fragment
