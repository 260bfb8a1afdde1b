"""Tests of symgrad.views.graph: the computation graph, and its Mermaid, DOT and TikZ forms."""

import html
import re
import shutil

import pytest
import sympy
from conftest import require, run
from gallery import GALLERY
from symgrad import worked_example
from symgrad.maths.derive import composed_loss, derive
from symgrad.views.graph import KINDS, computation_graph
from symgrad.maths.model import numeric


def _examples():
    """The gallery's examples with their graphs: one neuron, a batch, a loop, a network."""
    return {name: worked_example(neuron, samples, graph=True, **options)
            for name, (neuron, samples, options) in GALLERY.items()}


EXAMPLES = _examples()


def test_seed_graph_holds_the_lesson_numbers():
    """Seed lesson 001's graph: z = 1.1, ŷ = 1.1, L = 0.16, ∂L/∂w = -1.6, ∂z/∂w = x = 2."""
    graph = computation_graph(derive())
    values = {n.name: (str(n.value), None if n.gradient is None else str(n.gradient))
              for n in graph.nodes}
    assert values == {"w": ("1/2", "-8/5"), "b": ("1/10", "-4/5"), "x": ("2", None),
                      "z": ("11/10", "-4/5"), "ŷ": ("11/10", "-4/5"), "y": ("3/2", None),
                      "L": ("4/25", "1")}
    edge = next(e for e in graph.edges if (e.source, e.target) == ("w", "z"))
    assert (graph.edge_name(edge), edge.local, str(edge.formula)) == ("∂z/∂w", 2, "x")
    assert {n.kind for n in graph.nodes} <= set(KINDS)


@pytest.mark.parametrize("name", list(GALLERY))
def test_parameter_gradients_accumulated_over_edges_equal_the_derivation(name):
    """Summing the products of local derivatives backwards over the graph gives every
    parameter the derivation's exact gradient."""
    d = EXAMPLES[name].derivation
    graph = EXAMPLES[name].computation_graph
    for gradient in d.gradients:
        node = graph.node(gradient.parameter)
        assert sympy.simplify(node.gradient - gradient.value) == 0 or abs(
            numeric(node.gradient - gradient.value, 40)) < 1e-35


def test_node_gradients_match_sympy_diff():
    """∂L/∂w on the graph equals sympy.diff of the whole loss, for a two-input batch."""
    neuron, samples, _ = GALLERY["two_input_batch_mse"]
    loss, symbols = composed_loss(neuron, samples)
    graph = EXAMPLES["two_input_batch_mse"].computation_graph
    at = dict(zip(symbols, neuron.parameters))
    for symbol, name in zip(symbols, ("w1", "w2", "b")):
        assert sympy.diff(loss, symbol).subs(at) == graph.node(name).gradient


def test_layout_gives_every_node_its_own_place():
    """No two nodes share a column and row, and every edge points rightwards."""
    for example in EXAMPLES.values():
        graph = example.computation_graph
        places = [(n.column, n.height) for n in graph.nodes]
        assert len(places) == len(set(places))
        for edge in graph.edges:
            assert graph.node(edge.source).column < graph.node(edge.target).column


def test_mermaid_block_names_every_node_and_edge():
    """The Markdown's Mermaid flowchart declares each node once and each edge once."""
    example = EXAMPLES["two_input_batch_mse"]
    block = re.search(r"```mermaid\n(.*?)```", example.to_markdown(), re.S).group(1)
    graph = example.computation_graph
    assert block.startswith("flowchart LR\n")
    for node in graph.nodes:
        assert len(re.findall(rf"^  {node.key}\[", block, re.M)) == 1
    arrows = re.findall(r"^  (\w+) (?:-\.->|-->\|\"[^\"]+\"\|) (\w+)$", block, re.M)
    assert sorted(arrows) == sorted((e.source, e.target) for e in graph.edges)
    assert '-->|"∂z⁽¹⁾/∂w₁ = 1"| z_s1' in block


def test_without_graph_flag_there_is_no_graph():
    """The graph is opt-in: a plain worked example has none."""
    assert "mermaid" not in worked_example().to_markdown()
    assert "tikz" not in worked_example().to_latex()


@pytest.mark.parametrize("name", ["seed001_linear_squared", "two_input_batch_mse",
                                  "network_2_2_2_sigmoid"])
def test_dot_renders_with_graphviz(name, tmp_path):
    """graphviz's dot turns the DOT text into an SVG with every node's label."""
    dot = shutil.which("dot")
    require(dot is not None, "graphviz is not installed (apt-get install graphviz)")
    source = tmp_path / "graph.dot"
    source.write_text(EXAMPLES[name].render("dot"), encoding="utf-8")
    result = run(dot, "-Tsvg", str(source))
    assert result.returncode == 0 and not result.stderr, result.stderr
    graph = EXAMPLES[name].computation_graph
    assert result.stdout.count('class="node"') == len(graph.nodes)
    assert result.stdout.count('class="edge"') == len(graph.edges)
    if name == "seed001_linear_squared":
        text = html.unescape(result.stdout)
        assert ">∂L/∂w = −1.6<" in text and ">∂z/∂w = 2<" in text


def test_tikz_graph_compiles(pdflatex, tmp_path):
    """The LaTeX graph of a network with a batch compiles with pdflatex and TikZ."""
    from symgrad.maths.model import Layer, Network
    from symgrad import Sample
    network = Network(layers=[Layer([["0.5", "-1"], ["1", "0.25"]], ["0.1", "0"], "relu"),
                              Layer([["0.3", "0.2"]], None, "tanh")], loss="mse")
    example = worked_example(network, [Sample(x=["1", "2"], y="0.5"),
                                       Sample(x=["-1", "0.5"], y="-0.2")], graph=True)
    text = example.to_latex()
    assert r"\usepackage{tikz}" in text and text.count(r"\node[") == len(
        example.computation_graph.nodes)
    (tmp_path / "graph.tex").write_text(text, encoding="utf-8")
    result = run(pdflatex, "-interaction=nonstopmode", "-halt-on-error", "graph.tex",
                 cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:]


def test_json_carries_the_graph():
    """With the graph, the JSON lists every node and edge with the graph's numbers, and the
    parameters' node gradients equal the JSON's gradients."""
    data = EXAMPLES["two_input_batch_mse"].to_data()
    graph = EXAMPLES["two_input_batch_mse"].computation_graph
    assert [n["key"] for n in data["graph"]["nodes"]] == [n.key for n in graph.nodes]
    assert len(data["graph"]["edges"]) == len(graph.edges) and data["graph"]["loss"] == "L"
    for node in data["graph"]["nodes"]:
        if node["kind"] == "parameter":
            assert node["gradient"] == data["gradients"][node["key"]]
    assert "graph" not in worked_example().to_data()


def test_graph_has_no_place_in_a_script():
    """Asking for the graph in the Python script is a clear error, not silently dropped."""
    from symgrad.errors import SymgradError
    with pytest.raises(SymgradError, match="not py"):
        worked_example(graph=True).render("py")


@pytest.mark.parametrize("name", list(GALLERY))
def test_labels_are_maths_not_programmer_names(name):
    """Every plain rendering (Mermaid, DOT, SVG) labels nodes in maths notation: raised
    and lowered indices, ≈ before a rounded value, powers of ten, never w1_11 or 8.771e-4."""
    from symgrad.views.render import render_template
    example = EXAMPLES[name]
    texts = [example.render("dot"), re.search(r"```mermaid\n(.*?)```", example.to_markdown(),
                                              re.S).group(1),
             render_template("html", "graph.svg.j2", graph=example.computation_graph)]
    for text in texts:
        found = re.findall(r'label="([^"]*)"|\["([^"]*)"\]|>([^<>]+)</text>', text)
        labels = " ".join("".join(groups) for groups in found)
        assert labels and not re.search(r"[wbazx]\d|\de-\d|_\d", labels), labels
    if name == "network_2_2_2_sigmoid":
        assert "∂L/∂w⁽¹⁾₁₂ ≈ 8.771·10⁻⁴" in texts[0] and "a⁽¹⁾₁ ≈ 0.5933" in texts[0]


@pytest.mark.parametrize("name", list(GALLERY))
def test_svg_holds_every_box_and_label(name):
    """Every box of the HTML graph, and every label at 0.62 em a character, lies inside
    the SVG's viewBox, so no part of the picture is cut off."""
    from symgrad.views.render import render_template
    svg = render_template("html", "graph.svg.j2", graph=EXAMPLES[name].computation_graph)
    width, height = map(float, re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', svg).groups())
    for x, y, w, h in re.findall(r'<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" '
                                 r'height="([\d.]+)"', svg):
        assert 0 <= float(x) and float(x) + float(w) <= width
        assert 0 <= float(y) and float(y) + float(h) <= height
    for x, y, size, text in re.findall(r'<text x="([\d.]+)" y="([\d.]+)" font-size="([\d.]+)"'
                                       r'[^>]*>([^<]*)</text>', svg):
        half = len(html.unescape(text)) * 0.62 * float(size) / 2
        assert half <= float(x) <= width - half and float(size) <= float(y) <= height
