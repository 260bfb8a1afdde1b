"""Tests of symgrad.views.render: the md, tex, json and py formats and template overrides."""

import html
import json
import os
import re
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT, run
from gallery import OUTPUT, render_all
from symgrad import ACTIVATIONS, LOSSES, Neuron, Sample, worked_example
from symgrad.maths.model import Layer, Network
from symgrad.errors import TemplateError, UnknownNameError

SEED_001 = worked_example()


def _edge_examples():
    """Examples beyond the gallery that reach every activation, loss and explanation."""
    def one(x=2, y="1.5", **neuron):
        return (Neuron(**{"weights": "0.5", "bias": "0.1", **neuron}), [Sample(x=x, y=y)])

    cases = [one(activation=name) for name in ACTIVATIONS]
    cases += [one(y=1, activation="sigmoid", loss=name) for name in LOSSES]
    cases += [one(loss="mae", y="1.1"),                       # at target: sign(0) = 0
              one(x=0, activation="tanh"),                    # zero input for w
              one(weights="10", y=0, activation="sigmoid"),   # saturated: tiny gradient
              one(bias="-1", activation="leaky_relu"),        # leaky ReLU at its kink
              one(bias="-1", activation="relu"),              # ReLU at its kink: not dead
              one(bias="-2", activation="relu"),              # a dead ReLU, z < 0
              one(bias=None, loss="huber", delta="0.25"),     # no bias, linear Huber branch
              one(x=1, y=0, bias="-1.25", activation="gelu"), # GELU's turning point
              one(bias="-1", activation="elu"),               # ELU at 0: no kink
              one(bias="-1", activation="softsign")]          # softsign at 0: no kink
    examples = [worked_example(n, s) for n, s in cases]
    examples.append(worked_example(*one(activation="sigmoid"), steps=6))
    examples.append(worked_example(*one(), steps=6, tolerance="0.01"))
    network = Network(layers=[Layer([["0.5", "-1"], ["1", "0.25"]], ["0.1", "0"], "relu"),
                              Layer([["0.3", "0.2"]], None, "tanh")],
                      loss="huber", outputs="mean", frozen=("layer1",))
    examples.append(worked_example(network, [Sample(x=["1", "2"], y="0.5"),
                                             Sample(x=["-1", "0.5"], y="-0.2")], matrix=True))
    newer = Network(layers=[Layer([["0.5", "-1"], ["1", "0.25"]], ["0.1", "0"], "gelu"),
                            Layer([["0.3", "0.2"], ["-0.5", "1"]], ["0", "0.2"], "silu"),
                            Layer([["0.3", "0.2"]], ["-0.1"], "softsign")], loss="mse")
    examples.append(worked_example(newer, [Sample(x=["1", "-2"], y="0.5")], matrix=True,
                                   derive_steps=True))
    return examples


def _all_documents(fmt):
    """The gallery's documents of one format and those of the edge examples."""
    texts = [text for path, text in render_all().items() if path.suffix == "." + fmt]
    return texts + [example.render(fmt) for example in _edge_examples()]


def _math_spans(markdown: str) -> list[tuple[str, bool]]:
    """Every $$display$$ and $inline$ maths span of a Markdown text."""
    spans = [(m.strip(), True) for m in re.findall(r"\$\$(.+?)\$\$", markdown, re.S)]
    rest = re.sub(r"\$\$(.+?)\$\$", " ", markdown, flags=re.S)
    spans += [(m, False) for m in re.findall(r"\$([^$\n]+?)\$", rest)]
    return spans


def test_seed_001_markdown_shows_the_lesson_numbers():
    """The default example's Markdown shows each number of seed lesson 001 exactly."""
    md = SEED_001.to_markdown()
    for line in (
        r"$$\hat{y} = z = 1.1$$",
        r"$$L = \left(\hat{y} - y\right)^{2} = \left(1.1 - 1.5\right)^{2} = 0.16$$",
        r"$$\frac{\partial L}{\partial \hat{y}} = 2 \left(\hat{y} - y\right) = "
        r"2 \cdot \left(1.1 - 1.5\right) = -0.8$$",
        r"\cdot \frac{\partial z}{\partial w} = \left(-0.8\right) \cdot 1 \cdot 2 = -1.6$$",
        r"= 0.5 - 0.1 \cdot \left(-1.6\right) = 0.66$$",
        r"= 0.1 - 0.1 \cdot \left(-0.8\right) = 0.18$$",
        r"$$\hat{y} = z = 1.5$$",
    ):
        assert line in md
    assert "is negative: increasing $w$ decreases the loss, so the update increases $w$" in md
    assert "0.6600000000000001" not in md


def test_seed_001_json_values():
    """The JSON of the default example has the documented shape and exact values."""
    data = json.loads(SEED_001.to_json())
    assert set(data) >= {"activation", "loss", "learning_rate", "parameters", "prediction",
                         "loss_value", "factors", "gradients", "updated", "loss_after", "steps"}
    assert data["prediction"] == {"value": 1.1, "exact": "11/10", "latex": "1.1"}
    assert data["loss_value"]["exact"] == "4/25" and data["loss_value"]["latex"] == "0.16"
    factor = next(f for f in data["factors"] if f["name"] == "dL/da")
    assert factor["value"]["latex"] == "-0.8" and factor["substituted"] == (
        r"2 \left(1.1 - 1.5\right)")
    assert {k: v["latex"] for k, v in data["gradients"].items()} == {"w": "-1.6", "b": "-0.8"}
    assert {k: v["exact"] for k, v in data["updated"].items()} == {"w": "33/50", "b": "9/50"}
    assert data["loss_after"]["value"] == 0.0
    assert data["steps"][0]["parameters"]["w"]["value"] == 0.5


def test_sigmoid_json_exact_is_symbolic():
    """Irrational values keep an exact SymPy string and a rounded display."""
    data = worked_example(Neuron(weights=0, bias=0, activation="sigmoid"),
                          Sample(x=1, y=1)).to_data()
    assert data["prediction"]["exact"] == "1/2"
    data = worked_example(Neuron(weights=1, bias=0, activation="sigmoid"),
                          Sample(x=1, y=1)).to_data()
    assert "exp(-1)" in data["prediction"]["exact"]
    assert data["prediction"]["latex"] == r"\frac{1}{1 + e^{-1}}"


def test_python_output_matches_json():
    """Every number the generated script prints equals the JSON value of the same quantity."""
    example = worked_example(Neuron(weights=["0.5", "-0.3"], bias="0.1", activation="sigmoid",
                                    loss="mse"),
                             [Sample(x=[1, 2], y=1), Sample(x=["0.5", -1], y=0)], steps=3)
    data = example.to_data()
    printed = run(sys.executable, "-c", example.to_python()).stdout
    section = {}
    current = None
    for line in printed.splitlines():
        if not line.startswith("  "):
            current = line
            continue
        for item in line.strip().split(", "):
            key, _, number = item.rpartition(" = ")
            section.setdefault(current, []).append((key.split(": ")[-1], float(number)))
    first = dict(section["Forward and backward pass"])
    assert first["loss"] == pytest.approx(data["loss_value"]["value"], rel=1e-9)
    for name, value in data["gradients"].items():
        assert first[f"dL/d{name}"] == pytest.approx(value["value"], rel=1e-9)
    per_sample = section["Forward and backward pass"]
    # The script says y_hat where the JSON's factor names keep a (README: a is ŷ).
    printed_name = {"dL/da": "dL/dy_hat", "da/dz": "dy_hat/dz"}
    for factor in data["factors"]:
        name = printed_name.get(factor["name"], factor["name"])
        values = [v for k, v in per_sample if k == name]
        assert values, name
        assert values[factor["sample"] - 1] == pytest.approx(factor["value"]["value"], rel=1e-9)
    updated = dict(section["Update: p_new = p - learning_rate * dL/dp"])
    for name, value in data["updated"].items():
        assert updated[name] == pytest.approx(value["value"], rel=1e-9)
    after = dict(section["Forward pass again"])
    assert after["loss"] == pytest.approx(data["loss_after"]["value"], rel=1e-9)
    rows = [dict(pairs) for pairs in _rows(section["Training loop"])]
    assert len(rows) == 4
    for row, step in zip(rows, data["steps"]):
        assert row["loss"] == pytest.approx(step["loss_value"]["value"], rel=1e-9)
        for name, value in step["gradients"].items():
            assert row[f"dL/d{name}"] == pytest.approx(value["value"], rel=1e-9)
    assert rows[-1]["loss"] == pytest.approx(data["final"]["loss_value"]["value"], rel=1e-9)


def _rows(pairs):
    row = []
    for key, value in pairs:
        if key == "w1" and row:
            yield row
            row = []
        row.append((key, value))
    yield row


def test_python_output_uses_only_the_standard_library():
    """The script imports nothing beyond math and fractions."""
    imports = re.findall(r"^(?:import|from) (\w+)", SEED_001.to_python(), re.M)
    assert set(imports) == {"math", "fractions"}


def test_user_templates_override_file_by_file(tmp_path):
    """A teacher's template folder replaces one template and keeps the packaged others."""
    (tmp_path / "lesson").mkdir()
    (tmp_path / "lesson" / "footer.j2").write_text("MY FOOTER, ((( digits ))) digits")
    md = worked_example(templates=tmp_path).to_markdown()
    assert md.endswith("---\nMY FOOTER, 4 digits\n") and r"= 0.66$$" in md
    assert "Generated by symgrad" not in md


def test_missing_template_is_a_clear_error(tmp_path):
    """A template folder whose templates are broken gives a TemplateError naming the file."""
    (tmp_path / "example.md.j2").write_text("{% include 'nowhere.j2' %}")
    with pytest.raises(TemplateError):
        worked_example(templates=tmp_path).to_markdown()
    with pytest.raises(UnknownNameError, match="md, tex, py, json"):
        SEED_001.render("docx")


def test_repr_for_jupyter():
    """Jupyter gets Markdown and a LaTeX summary of the gradients."""
    assert SEED_001._repr_markdown_() == SEED_001.to_markdown()
    assert r"\frac{\partial L}{\partial w} = -1.6" in SEED_001._repr_latex_()


def test_markdown_parses_with_katex(katex_dir):
    """Every maths span of every Markdown document (gallery and edge cases) and of the Moodle
    quiz renders with KaTeX."""
    spans = [span for text in _all_documents("md") for span in _math_spans(text)]
    quizzes = [text for path, text in render_all().items() if path.suffix == ".xml"]
    spans += [(html.unescape(m), False) for text in quizzes
              for m in re.findall(r"\\\((.+?)\\\)", text)]
    assert len(spans) > 300 and any(not display for _, display in spans[-5:])
    result = subprocess.run(["node", str(ROOT / "tests" / "katex_check.js")],
                            input=json.dumps(spans), capture_output=True, text=True,
                            env=dict(os.environ, NODE_PATH=str(katex_dir / "node_modules")))
    assert result.returncode == 0, result.stdout + result.stderr


def test_latex_compiles(pdflatex, tmp_path):
    """Every LaTeX document (gallery and edge cases) compiles with pdflatex."""
    for plot in OUTPUT.glob("*.png"):  # the gallery's plots, beside the documents
        shutil.copyfile(plot, tmp_path / plot.name)
    for number, text in enumerate(_all_documents("tex")):
        source = tmp_path / f"doc{number}.tex"
        source.write_text(text)
        result = run(pdflatex, "-interaction=nonstopmode", "-halt-on-error", source.name,
                     cwd=tmp_path)
        assert result.returncode == 0, text[:300] + result.stdout[-2000:]
        assert source.with_suffix(".pdf").stat().st_size > 1000


def test_edge_examples_explain_every_cause():
    """The edge examples reach each explanation of a vanishing or tiny gradient."""
    md = "".join(_all_documents("md"))
    for phrase in ("the prediction already equals the target", "the ReLU is dead",
                   "sits exactly at its kink $z = 0$",
                   "is saturated", "is $0$, so $z$ does not depend on it",
                   "the GELU is at a turning point",
                   "so the loop stopped"):
        assert phrase in md


def test_irrational_activation_values_show_with_approx():
    """GELU(1) = Φ(1) is irrational: shown rounded with ≈ and kept exact (erf) in the JSON;
    GELU(0) = 0, softsign(1) = 1/2 and ELU(z > 0) = z are exact and shown with =;
    softsign(1/2) = 1/3 repeats, so it is rounded too."""
    def prediction(activation, bias="0", x=1):
        example = worked_example(Neuron(weights=1, bias=bias, activation=activation),
                                 [Sample(x=x, y=2)])
        line = next(line for line in example.to_markdown().splitlines()
                    if line.startswith(r"$$\hat{y} ="))
        return line, example.to_data()["prediction"]

    line, data = prediction("gelu")
    assert line.endswith(r"\approx 0.8413$$") and "erf" in data["exact"]
    assert abs(data["value"] - 0.8413447460685429) < 1e-15
    assert prediction("gelu", x=0)[0].endswith("= 0$$")
    assert prediction("softsign")[0].endswith("= 0.5$$")
    assert prediction("softsign", x="0.5")[0].endswith(r"\approx 0.3333$$")
    assert prediction("elu", x="1.5")[0].endswith("= 1.5$$")
    line, data = prediction("silu")
    assert line.endswith(r"\approx 0.7311$$") and data["exact"] == "1/(1 + exp(-1))"


def test_relu_at_its_kink_is_not_called_flat():
    """At z = 0 the zero gradient is said to come from the convention, not a flat loss."""
    md = worked_example(Neuron(weights="0.5", bias="-1", activation="relu"),
                        [Sample(x=2, y="1.5")]).to_markdown()
    assert "= 0$ by convention, not because the loss is flat" in md
    assert "does not change the loss" not in md


@pytest.mark.parametrize("model", [
    Neuron(weights="0.5", bias="0.1", activation="sigmoid"),
    Neuron(weights=("0.5", "-1"), bias="0.2", activation="tanh", loss="mse"),
    Network(layers=[Layer([["0.5", "-0.5"], ["1", "0.25"]], ["0.1", "0"], "sigmoid"),
                    Layer([["1", "-1"]], ["0.5"], "identity")], loss="squared"),
])
def test_mistakes_panel_lists_what_diagnose_names(model):
    """Every value in the mistakes panel is one that diagnose traces to that very mistake."""
    from symgrad import diagnose
    from symgrad.maths.model import numeric

    batch = [Sample(x="2", y="1.5")] if isinstance(model, Neuron) and len(
        model.weights) == 1 else [Sample(x=("1", "2"), y="0.5"), Sample(x=("2", "-1"), y="1")]
    example = worked_example(model, batch, mistakes=True)
    assert example.mistake_panel
    md = example.to_markdown()
    assert "## Common mistakes" in md
    for quantity, found in example.mistake_panel:
        for mistake in found:
            verdict = diagnose(model, quantity.key, str(numeric(mistake.value, 30)),
                               samples=batch, tolerance="0.0001%")
            assert not verdict.correct and mistake.name in [m.name for m in verdict.mistakes], (
                quantity.key, mistake.name)
    data = example.to_data()["mistakes"]
    assert set(data) == {q.key for q, _ in example.mistake_panel}


def test_mistakes_panel_of_a_softmax_classifier():
    """A softmax classifier's panel says its own mistakes (the Jacobian's diagonal alone, the
    neighbouring class's one-hot target) in words, in md and tex, each a value diagnose
    traces to that mistake."""
    from symgrad import diagnose
    from symgrad.maths.model import numeric

    model = Network(layers=[Layer([["0.5", "-0.2"], ["0.1", "0.4"]], ["0.1", "-0.1"], "relu"),
                            Layer([["0.3", "-0.5"], ["0.2", "0.6"], ["-0.4", "0.1"]],
                                  ["0", "0.1", "-0.1"], "softmax")], loss="cross_entropy")
    batch = [Sample(x=["1", "2"], y=3)]
    example = worked_example(model, batch, mistakes=True)
    named = {m.name for _, found in example.mistake_panel for m in found}
    assert {"softmax_diagonal_only", "one_hot_shifted"} <= named
    md = example.to_markdown()
    assert "keeping only the diagonal $a_k(1 - a_k)$ of the softmax's Jacobian" in md
    assert "putting the one-hot target on a neighbouring class gives" in md
    assert "neighbouring class" in example.to_latex()
    for quantity, found in example.mistake_panel:
        for mistake in found:
            if mistake.name in ("softmax_diagonal_only", "one_hot_shifted"):
                verdict = diagnose(model, quantity.key, str(numeric(mistake.value, 30)),
                                   samples=batch, tolerance="0.0001%")
                assert mistake.name in [m.name for m in verdict.mistakes], quantity.key


BATCH = worked_example(Neuron(weights=["0.5", "-0.25"], bias="0.1", loss="mse"),
                       [Sample(x=[1, 2], y=1), Sample(x=[2, -1], y="0.5")])


@pytest.mark.parametrize("fmt", ["md", "tex"])
def test_batch_writes_the_sample_as_a_superscript(fmt):
    """A batch writes sample i as a superscript apart from the input index, never L_2."""
    text = BATCH.render(fmt)
    for symbol in (r"x^{(2)}_{1}", r"z^{(2)}", r"\hat{y}^{(2)}", r"y^{(2)}", r"L^{(2)}",
                   r"\frac{\partial L^{(2)}}{\partial w_{1}}",
                   r"\frac{\partial L^{(2)}}{\partial \hat{y}^{(2)}}",
                   r"L = \frac{L^{(1)} + L^{(2)}}{2}", r"L^{(i)} = \left(\hat{y}^{(i)} - y^{(i)}"):
        assert symbol in text, symbol
    assert "L_{2}" not in text and "L_i" not in text and "x_{1} = 2" not in text


def test_batch_json_factors_use_the_sample_superscript():
    """The JSON's factor formulas of sample 2 are written in sample 2's symbols."""
    factors = [f for f in BATCH.to_data()["factors"] if f["sample"] == 2]
    assert factors[0]["name"] == "dL/da"
    assert factors[0]["symbolic"] == r"2 \left(\hat{y}^{(2)} - y^{(2)}\right)"
    assert factors[2]["symbolic"] == r"x^{(2)}_{1}"


def test_network_batch_names_each_sample_loss_with_a_superscript():
    """A network's batch writes L^{(2)}, since its own superscripts are the layers."""
    network = Network(layers=[Layer([["0.5", "0.2"]], ["0.1"], "sigmoid")], loss="mse")
    text = worked_example(network, [Sample(x=[1, 2], y=[1]), Sample(x=[2, 1], y=[0])],
                          matrix=True).to_markdown()
    assert r"\frac{\partial L^{(2)}}{\partial w^{(1)}_{11}}" in text
    assert r"\frac{\partial L^{(2)}}{\partial W^{(1)}}" in text
    assert "L_{2}" not in text


def test_tanh_slope_is_one_minus_the_prediction_squared_and_no_tautology():
    """tanh's slope reads 1 - ŷ², and no activation writes the same formula twice."""
    text = worked_example(Neuron(weights="0.5", bias="0.1", activation="tanh")).to_markdown()
    assert r"= 1 - \tanh^{2}{\left(z \right)} = 1 - \hat{y}^{2} \approx" in text
    for name in ACTIVATIONS:
        for f in worked_example(Neuron(weights="0.5", bias="0.1",
                                       activation=name)).derivation.factors:
            assert f.formula.lesson_form is None or f.formula.lesson_form != f.formula.symbolic


def test_huber_delta_is_a_symbol_with_its_value_stated():
    """Huber's δ is written as a symbol, its value stated once and put in with the numbers."""
    text = worked_example(Neuron(weights="0.5", bias="0.1", loss="huber", delta="0.5"),
                          Sample(x=2, y=4)).to_markdown()
    assert r"\delta \operatorname{sign}{\left(\hat{y} - y \right)}" in text
    assert r"- \frac{\delta}{2}" in text
    assert r"here $\delta = 0.5$" in text
    assert r"= 0.5 \cdot \operatorname{sign}{\left(1.1 - 4 \right)} = -0.5" in text


def test_network_huber_threshold_is_not_an_error_signal():
    """In a network the Huber threshold is δ_H, apart from the error signals δ^{(l)}_j."""
    network = Network(layers=[Layer([["0.5"]], ["0.1"], "sigmoid")], loss="huber")
    text = worked_example(network, Sample(x=[2], y=[3])).to_markdown()
    assert r"\delta_{\text{H}} \operatorname{sign}" in text
    assert r"$\delta_{\text{H}} = 1$" in text


def test_python_script_calls_the_prediction_y_hat():
    """The script's prediction is y_hat, its factors dL/dy_hat and dy_hat/dz."""
    script = BATCH.to_python()
    assert "y_hat = forward(" in script and "def loss(y_hat, y):" in script
    assert "dL/da" not in script and " a = " not in script
    printed = run(sys.executable, "-c", script).stdout
    assert "sample 2: y_hat = 1.35" in printed and "sample 2: dL/dy_hat = 1.7" in printed


@pytest.mark.parametrize("call", [
    "d.loss.value.subs(1, \"__import__('os').system('touch MARKER')\")",
    "d.loss.value.func(\"__import__('os').system('touch MARKER')\")",
    "d.gradients[0].value.equals(\"__import__('os').system('touch MARKER')\")",
])
def test_teacher_template_cannot_call_into_sympy(tmp_path, call):
    """A teacher's template cannot call SymPy methods or constructors, which would parse a
    string with eval: one line, exit code 2, and the marker file is never made."""
    (tmp_path / "lesson").mkdir()
    (tmp_path / "lesson" / "title.j2").write_text(f"((( {call} )))")
    result = run(sys.executable, "-m", "symgrad", "example", "--templates", str(tmp_path),
                 cwd=tmp_path)
    assert result.returncode == 2 and "not allowed" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "MARKER").exists()


def test_leaky_relu_reads_slope_times_z():
    """The negative side of leaky ReLU is written as the lessons do, 0.01 z (it printed
    z 0.01), and works 0.01 · (−0.9) = −0.009."""
    text = worked_example(Neuron(weights="0.5", bias="0.1", activation="leaky_relu"),
                          Sample(x=-2, y="1.5")).to_markdown()
    assert r"\\0.01 z & \text{otherwise} \end{cases}" in text
    assert r"= 0.01 \cdot \left(-0.9\right) = -0.009$$" in text
    assert "z 0.01" not in text


def test_a_case_that_is_z_itself_puts_no_number_in_twice():
    """On the positive side leaky ReLU and ELU are z itself: the line ends with z's number
    once (it read "= 1.1 = 1.1")."""
    for activation in ("leaky_relu", "elu"):
        text = worked_example(Neuron(weights="0.5", bias="0.1", activation=activation),
                              Sample(x=2, y="1.5")).to_markdown()
        assert r"\end{cases} = 1.1$$" in text
        assert "= 1.1 = 1.1" not in text
