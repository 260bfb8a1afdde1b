"""Tests of networks through the one engine: backprop through layers against independent oracles."""

import json
import math
import sys

import mpmath
import pytest
from hypothesis import given, settings, strategies as st
from sympy import Rational, diff, lambdify

from conftest import run
from symgrad import Neuron, worked_example
from symgrad.maths.activations import ACTIVATIONS
from symgrad.maths.derive import composed_loss, derive
from symgrad.errors import ShapeError, SymgradError
from symgrad.maths.losses import LOSSES
from symgrad.maths.model import Layer, Network, Sample, numeric
from symgrad.views.render import WorkedExample, exact_text

R = Rational


def _mazur(loss="half_squared", **options):
    """The 2-2-2 sigmoid network of the well-known step-by-step backpropagation example."""
    return Network(layers=[Layer([["0.15", "0.2"], ["0.25", "0.3"]], ["0.35", "0.35"]),
                           Layer([["0.4", "0.45"], ["0.5", "0.55"]], ["0.6", "0.6"])],
                   loss=loss, **options)


MAZUR_SAMPLE = Sample(x=["0.05", "0.1"], y=["0.01", "0.99"])


def _close(value, expected, digits=9):
    return abs(float(numeric(value, 30)) - expected) < 10 ** -digits


def test_two_layer_sigmoid_example_numbers():
    """The classic worked example: loss 0.298371109, dL/dw5 = 0.082167041, dL/dw1 = 0.000438568."""
    d = derive(_mazur(), MAZUR_SAMPLE, learning_rate="0.5")
    assert _close(d.loss.value, 0.298371109)
    gradients = {g.parameter: g.value for g in d.gradients}
    assert _close(gradients["w2_1_1"], 0.082167041)
    assert _close(gradients["w1_1_1"], 0.000438568)
    assert _close(d.updated[d.parameter_names.index("w2_1_1")], 0.35891648)


def test_freezing_biases_keeps_them():
    """Frozen biases keep their values, as walkthroughs that update only weights do."""
    d = derive(_mazur(frozen=("b",)), MAZUR_SAMPLE, learning_rate="0.5")
    for g, before, after in zip(d.gradients, d.parameters, d.updated):
        assert (after == before) == g.parameter.startswith("b")
    assert _close(d.loss_after.value, 0.291027774)


def test_freezing_a_layer_and_unknown_names():
    """layer2 freezes a whole layer; an unknown name is refused."""
    d = derive(_mazur(frozen=("layer2",)), MAZUR_SAMPLE)
    assert [g.frozen for g in d.gradients] == [False] * 6 + [True] * 6
    with pytest.raises(ShapeError, match="cannot freeze 'layer3'"):
        _mazur(frozen=("layer3",))


def _random_network(draw):
    depth = draw(st.integers(1, 3))
    # Widths up to 12 (names past 9 included), keeping the composed-loss oracle affordable.
    widths = [draw(st.integers(1, 12 if depth == 1 else 3)) for _ in range(depth + 1)]
    number = st.integers(-15, 15).map(lambda n: R(n, 10))
    loss = draw(st.sampled_from(sorted(LOSSES)))
    layers = []
    for l in range(depth):
        activation = draw(st.sampled_from(sorted(ACTIVATIONS)))
        if loss == "bce" and l == depth - 1:
            activation = "sigmoid"  # cross-entropy needs outputs strictly between 0 and 1
        weights = [[draw(number) for _ in range(widths[l])] for _ in range(widths[l + 1])]
        biases = [draw(number) for _ in range(widths[l + 1])] if draw(st.booleans()) else None
        layers.append(Layer(weights, biases, activation))
    target = st.sampled_from([R(0), R(1)]) if loss == "bce" else number
    samples = [Sample(x=[draw(number) for _ in range(widths[0])],
                      y=[draw(target) for _ in range(widths[-1])])
               for _ in range(draw(st.integers(1, 2)))]
    outputs = draw(st.sampled_from(["sum", "mean"]))
    return Network(layers=layers, loss=loss, outputs=outputs, delta=R(1, 2)), samples


@settings(max_examples=30, deadline=None, derandomize=True)
@given(st.data())
def test_gradients_equal_diff_and_finite_differences(data):
    """On random small networks every gradient equals sympy.diff of the composed loss and a
    central finite difference (away from kinks, where a convention decides)."""
    network, samples = _random_network(data.draw)
    d = derive(network, samples)
    kinky = {"relu", "leaky_relu"} & {a.name for a in d.activations}
    if kinky and any(abs(float(numeric(row.z.value))) < 1e-3
                     for f in d.forward for row in f.units):
        return
    total, symbols = composed_loss(network, samples)
    values = [mpmath.mpf(p.p) / p.q for p in d.parameters]
    h = mpmath.mpf(10) ** -6
    with mpmath.workdps(30):
        # cse: hidden activations repeat in the composed loss (and in diff of softsign's |z|
        # their signs too), and printing the tree written out takes minutes
        loss = lambdify(symbols, total, modules="mpmath", cse=True)
        for j, (g, symbol) in enumerate(zip(d.gradients, symbols)):
            ours = float(numeric(g.value, 30))
            # sympy.diff on small networks (it is slow on big composed losses); the kinks of
            # mae and huber are left to finite differences.
            if len(symbols) <= 12 and network.loss not in ("mae", "huber"):
                symbolic = float(lambdify(symbols, diff(total, symbol), modules="mpmath",
                                          cse=True)(*values))
                assert abs(ours - symbolic) < 1e-12 * (1 + abs(symbolic))
            up, down = list(values), list(values)
            up[j] += h
            down[j] -= h
            central = float((loss(*up) - loss(*down)) / (2 * h))
            if network.loss in ("mae", "huber") and abs(ours - central) > 1e-4:
                errors = [abs(float(numeric(row.a.value)) - float(y))
                          for f, s in zip(d.forward, samples)
                          for row, y in zip(f.outputs(), s.targets)]
                assert any(min(e, abs(e - 0.5)) < 1e-3 for e in errors)  # at the loss's kink
                continue
            assert abs(ours - central) < 1e-5 * (1 + abs(central))


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_single_neuron_network_matches_neuron_path(activation):
    """A 1-1 network gives the same numbers as the single-neuron derivation."""
    neuron = Neuron(weights="0.5", bias="0.1", activation=activation, loss="mse")
    samples = [Sample(x="2.0", y="0.7"), Sample(x="-1", y="0.2")]
    single = derive(neuron, samples)
    network = Network(layers=[Layer([["0.5"]], ["0.1"], activation)], loss="mse")
    layered = derive(network, samples)
    pairs = [(single.loss.value, layered.loss.value), (single.loss_after.value,
                                                         layered.loss_after.value)]
    pairs += list(zip([g.value for g in single.gradients], [g.value for g in layered.gradients]))
    pairs += list(zip(single.updated, layered.updated))
    for a, b in pairs:
        if a.is_Rational:
            assert a == b
        else:
            assert abs(numeric(a, 50) - numeric(b, 50)) < R(1, 10**45)


def test_deep_chain_derives():
    """A chain of 100 sigmoid neurons derives, with exact values named layer by layer."""
    layers = [Layer([["0.5"]], ["0.1"], "sigmoid") for _ in range(100)]
    d = derive(Network(layers=layers), [Sample(x=2, y="0.5")])
    first = d.gradients[0].value
    assert 0 < float(numeric(first)) < 1e-80  # the vanishing gradient of a deep sigmoid chain
    assert len(worked_example(Network(layers=layers), [Sample(x=2, y="0.5")]).to_markdown()) > 0


def test_deep_chain_matches_float64_backprop():
    """A chain of 1500 tanh neurons gives every gradient that a float64 backprop written
    here gives, to a relative 1e-9 (tanh keeps them from 0.35 down to 1e-66, inside
    float64's range, where a sigmoid chain's would underflow)."""
    depth, w, b, x, y = 1500, 1.0, 0.01, 2.0, 0.5
    layers = [Layer([["1"]], ["0.01"], "tanh") for _ in range(depth)]
    d = derive(Network(layers=layers), [Sample(x="2", y="0.5")])
    a = [x]  # a[l] is the input of layer l + 1
    for _ in range(depth):
        a.append(math.tanh(w * a[-1] + b))
    delta = 2 * (a[-1] - y) * (1 - a[-1] ** 2)  # ∂L/∂z of the last layer, L = (a - y)²
    expected = {}
    for l in range(depth, 0, -1):
        expected[l, 1], expected[l, None] = delta * a[l - 1], delta
        delta = w * delta * (1 - a[l - 1] ** 2)
    found = {(g.layer, g.source): float(numeric(g.value, 20)) for g in d.gradients}
    assert found.keys() == expected.keys()
    for key, value in expected.items():
        assert abs(found[key] - value) <= 1e-9 * abs(value), key
    assert 1e-67 < abs(found[1, 1]) < 1e-65 and abs(found[depth, None]) > 0.3


def test_network_shapes_are_checked():
    """Mismatched layers, samples and targets are clear errors."""
    with pytest.raises(ShapeError, match="layer 2 takes 3 inputs but layer 1 has 2"):
        Network(layers=[Layer([[1, 2], [3, 4]]), Layer([[1, 2, 3]])])
    with pytest.raises(ShapeError, match=r"2 target\(s\) y but the network has 1 output\(s\)"):
        derive(Network(layers=[Layer([[1]])]), [Sample(x=1, y=[1, 2])])
    with pytest.raises(ShapeError, match="needs 2 biases"):
        Layer([[1], [2]], [1])


def test_json_shape_and_python_script_agree():
    """The network JSON keeps the single-neuron keys; the py script prints the same numbers."""
    example = worked_example(_mazur(), MAZUR_SAMPLE, learning_rate="0.5")
    data = example.to_data()
    for key in ("parameters", "gradients", "updated", "loss_value", "loss_after", "factors",
                "steps", "definitions"):
        assert key in data
    assert set(data["gradients"]) == set(_mazur().parameter_names)
    printed = {}
    section = None
    for line in run(sys.executable, "-c", example.to_python()).stdout.splitlines():
        if not line.startswith("  "):
            section = line
            continue
        name, _, number = line.strip().partition(" = ")
        printed[(section, name)] = float(number)
    first, update = "Forward and backward pass", "Update: p_new = p - learning_rate * dL/dp"
    assert printed[(first, "loss")] == pytest.approx(data["loss_value"]["value"], rel=1e-9)
    for name, value in data["gradients"].items():
        assert printed[(first, f"dL/d{name}")] == pytest.approx(value["value"], rel=1e-9)
    for name, value in data["updated"].items():
        assert printed[(update, name)] == pytest.approx(value["value"], rel=1e-9)
    assert printed[("Forward pass again", "loss")] == pytest.approx(
        data["loss_after"]["value"], rel=1e-9)
    deltas = {f["name"]: f["value"]["value"] for f in data["factors"]
              if f["name"].startswith("delta")}
    for name, value in deltas.items():
        assert printed[(first, name)] == pytest.approx(value, rel=1e-9)


def test_matrix_form_matches_per_weight_form():
    """δ and δ aᵀ of the matrix form equal the per-neuron δ and the per-weight gradients."""
    d = derive(_mazur(), MAZUR_SAMPLE, matrix=True)
    gradients = {g.parameter: g.value for g in d.gradients}
    deltas = {(row.layer, row.neuron): row.delta.value for row in d.backward[0]}
    for step in d.matrices[0]:
        for j in range(step.delta.rows):
            assert step.delta[j, 0].value == deltas[(step.layer, j + 1)]
            for k in range(step.gradient.cols):
                weight = gradients[f"w{step.layer}_{j + 1}_{k + 1}"]
                assert abs(numeric(step.gradient[j, k].value - weight, 40)) < R(1, 10**35)
    assert [step.backprop is None for step in d.matrices[0]] == [True, False]
    md = worked_example(_mazur(), MAZUR_SAMPLE, matrix=True).to_markdown()
    assert r"\left(W^{(2)}\right)^{T} \delta^{(2)} \odot f'(z^{(1)})" in md


def test_show_picks_worked_parameters():
    """--show works chosen gradients in full; the table lists them all."""
    md = worked_example(_mazur(), MAZUR_SAMPLE, show=("w2_11",)).to_markdown()
    assert md.count(r"\frac{\partial L}{\partial w^{(2)}_{11}} = \delta^{(2)}_{1}") == 1
    assert r"\frac{\partial L}{\partial w^{(1)}_{11}} = \delta" not in md
    assert md.count("| $w^{(1)}_{11}$ |") == 1
    with pytest.raises(SymgradError, match="cannot show 'w9_11'"):
        worked_example(_mazur(), MAZUR_SAMPLE, show=("w9_11",))


NETWORK_TOML = """\
loss = "half_squared"
learning_rate = 0.5
freeze = ["b"]

[[layers]]
activation = "sigmoid"
weights = [[0.15, 0.2], [0.25, 0.3]]
biases = [0.35, 0.35]

[[layers]]
weights = [[0.4, 0.45], [0.5, 0.55]]
biases = [0.6, 0.6]

[[samples]]
x = [0.05, 0.1]
y = [0.01, 0.99]
"""


def test_cli_network_spec(tmp_path):
    """symgrad example --spec network.toml renders the network in every format."""
    spec = tmp_path / "network.toml"
    spec.write_text(NETWORK_TOML)
    result = run(sys.executable, "-m", "symgrad", "example", "--spec", str(spec),
                 "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["frozen"] == ["b1_1", "b1_2", "b2_1", "b2_2"]
    assert data["updated"]["w2_1_1"]["value"] == pytest.approx(0.35891648, abs=1e-8)
    for fmt in ("md", "tex", "py"):
        assert run(sys.executable, "-m", "symgrad", "example", "--spec", str(spec),
                   "--format", fmt).returncode == 0


@pytest.mark.parametrize("extra, toml, message", [
    (["--x", "1"], NETWORK_TOML, "--x describes a single neuron"),
    ([], NETWORK_TOML.replace("freeze", "frieze"), "unknown key 'frieze'"),
    ([], NETWORK_TOML.replace("[0.4, 0.45]", "[0.4]"), "rows of equal length"),
    ([], NETWORK_TOML.replace('freeze = ["b"]', 'freeze = ["q"]'), "cannot freeze 'q'"),
])
def test_cli_network_spec_errors(tmp_path, extra, toml, message):
    """Bad network specs are one-line errors with exit code 2."""
    spec = tmp_path / "network.toml"
    spec.write_text(toml)
    result = run(sys.executable, "-m", "symgrad", "example", "--spec", str(spec), *extra)
    assert result.returncode == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_classic_example_every_number():
    """The classic 2-2-2 walkthrough, biases frozen: every updated weight and the loss after."""
    d = derive(_mazur(frozen=("b",)), MAZUR_SAMPLE, learning_rate="0.5")
    updated = dict(zip(d.parameter_names, d.updated))
    expected = {"w1_1_1": 0.149780716, "w1_1_2": 0.19956143, "w1_2_1": 0.24975114,
                "w1_2_2": 0.29950229, "w2_1_1": 0.35891648, "w2_1_2": 0.408666186,
                "w2_2_1": 0.511301270, "w2_2_2": 0.561370121}
    for name, value in expected.items():
        assert _close(updated[name], value, 8), name
    terms = [t.value for t in d.forward[0].terms]
    assert _close(terms[0], 0.274811083) and _close(terms[1], 0.023560026)
    assert _close(d.loss_after.value, 0.291027774)


def test_names_never_collide_for_wide_layers():
    """A layer with 11 inputs derives, names w1_1_10 and w1_1_11 apart, and reads old names."""
    layer = Layer([[R(k, 10) for k in range(11)], [R(-k, 10) for k in range(11)]], [0, 0],
                  "tanh")
    network = Network(layers=[layer, Layer([["0.5", "-0.5"]], None, "identity")],
                      frozen=("w1_1_11", "w2_12"))
    d = derive(network, Sample(x=[R(1, k + 1) for k in range(11)], y=["0.3"]))
    names = d.parameter_names
    assert len(set(names)) == len(names) == 22 + 2 + 2
    assert {"w1_1_10", "w1_1_11", "w1_2_11"} <= set(names)
    assert network.frozen == ("w1_1_11", "w2_1_2")
    assert network.canonical("w1_111") is None  # (1,11) or (11,1): ambiguous, refused
    symbols = {g.parameter: g.symbol.name for g in d.gradients}
    assert symbols["w1_1_10"] == "w^{(1)}_{1,10}" and symbols["w1_2_1"] == "w^{(1)}_{2,1}"
    loss, parameters = composed_loss(network, d.samples)
    for g, symbol in zip(d.gradients, parameters):
        slope = diff(loss, symbol).subs(dict(zip(parameters, d.parameters)))
        assert abs(numeric(g.value - slope, 40)) < R(1, 10**30)


def test_layer_superscripts_keep_their_parentheses():
    """Every layer superscript prints as ^{(l)} in tex and md, never as a power ^{l}."""
    example = worked_example(_mazur(), MAZUR_SAMPLE, matrix=True)
    for text in (example.to_latex(), example.to_markdown()):
        for kind in ("z", "a", "w", r"\delta", "W"):
            for layer in (1, 2):
                assert f"{kind}^{{{layer}}}" not in text
        assert r"\delta^{(1)}_{1} = \left(\sum_k w^{(2)}_{k1} \delta^{(2)}_k\right)" in text
        assert r"f'(z^{(2)}_{1}) = " in text


def test_network_lesson_forms_and_loss_terms():
    """Outputs show 2(a − y) and a(1 − a); the loss is the sum of the per-output terms."""
    md = worked_example(_mazur(loss="squared"), MAZUR_SAMPLE).to_markdown()
    assert (r"\frac{\partial L}{\partial a^{(2)}_{1}} = 2 \left(a^{(2)}_{1} - y_{1}\right) "
            r"\approx 2 \cdot \left(0.7514 - 0.01\right) \approx 1.483") in md
    assert r"= a^{(1)}_{1} \left(1 - a^{(1)}_{1}\right) \approx 0.5933 \cdot" in md
    assert r"$$L = \ell_{1} + \ell_{2} \approx 0.5496 + 0.04712 \approx 0.5967$$" in md


def test_network_training_loop():
    """--steps trains a network: each row's loss is the loss of a fresh derivation there."""
    d = derive(_mazur(frozen=("b",)), MAZUR_SAMPLE, learning_rate="0.5", steps=4)
    assert len(d.iterations) == 4
    assert d.iterations[1].loss == d.loss_after.value
    losses = [float(numeric(it.loss)) for it in d.iterations] + [float(numeric(d.final_loss))]
    assert losses == sorted(losses, reverse=True)
    restart = _mazur(frozen=("b",))
    values = [float(numeric(p, 30)) for p in d.iterations[3].parameters]
    layers = [Layer([values[0:2], values[2:4]], values[4:6]),
              Layer([values[6:8], values[8:10]], values[10:12])]
    again = derive(Network(layers=layers, loss="half_squared"), MAZUR_SAMPLE)
    assert abs(float(numeric(again.loss.value)) - losses[3]) < 1e-12
    md = worked_example(restart, MAZUR_SAMPLE, learning_rate="0.5", steps=4).to_markdown()
    assert "## Training loop" in md and "| 4 |" in md


def test_large_network_says_what_it_shows():
    """A 2-3-1 network (13 parameters) works 12 in full and says how to show the rest."""
    network = Network(layers=[Layer([[1, 2], [3, 4], [5, 6]], [0, 0, 0], "tanh"),
                              Layer([[1, -1, 1]], [0], "identity")])
    samples = Sample(x=["0.1", "0.2"], y=["1"])
    md = worked_example(network, samples).to_markdown()
    assert "This network has 13 parameters" in md and "`--show all`" in md
    assert "such as `--show b2_1`" in md
    full = worked_example(network, samples, show="all").to_markdown()
    assert "This network has 13 parameters" not in full
    assert full.count(r"{b^{(2)}_{1}}_{\text{new}}") == 1


def test_single_neuron_record_equals_network_record():
    """A neuron and the same neuron as a 1-1 network give one record, up to notation."""
    neuron = Neuron(weights=["0.5", "-1"], bias="0.1", activation="sigmoid", loss="bce")
    samples = [Sample(x=["2", "1"], y="1"), Sample(x=["-1", "0.5"], y="0")]
    single, layered = derive(neuron, samples, steps=3), derive(neuron.as_network(), samples,
                                                                steps=3)
    assert [g.parameter for g in single.gradients] == ["w1", "w2", "b"]
    assert [g.parameter for g in layered.gradients] == ["w1_1_1", "w1_1_2", "b1_1"]
    for a, b in zip([single.loss.value, *single.updated, single.final_loss],
                    [layered.loss.value, *layered.updated, layered.final_loss]):
        assert abs(numeric(a - b, 50)) < R(1, 10**45)
    assert [f.units[0].slope.value for f in single.forward] == [
        f.units[0].slope.value for f in layered.forward]


def test_diagnose_names_network_mistakes():
    """A hidden gradient computed with one term of the sum, the updated outer weights, or
    without f'(z) is named; the right value is correct (the classic example's numbers)."""
    from symgrad import diagnose
    from symgrad.maths.quantities import mistakes
    net = _mazur(frozen=("b",))
    d = derive(net, MAZUR_SAMPLE, learning_rate="0.5")
    found = {m.name: m.value for m in mistakes(d, "dL/dw1_1_1")}
    assert {"missing_sum", "updated_outer_weights", "missing_activation_derivative",
            "missing_input", "flipped_sign"} <= set(found)
    # By hand: only w5·δ_o1 in the sum; the updated w5, w7 in it; no σ'(z_h1).
    units = {(u.layer, u.neuron): u for u in d.forward[0].units}
    d21, d22 = units[(2, 1)].delta.value, units[(2, 2)].delta.value
    slope = units[(1, 1)].slope.value
    x1 = R("0.05")
    by_hand = {"missing_sum": R("0.4") * d21 * slope * x1,
               "missing_activation_derivative": (R("0.4") * d21 + R("0.5") * d22) * x1}
    updated = dict(zip(d.parameter_names, d.updated))
    by_hand["updated_outer_weights"] = (updated["w2_1_1"] * d21 + updated["w2_2_1"] * d22) \
        * slope * x1
    for name, value in by_hand.items():
        assert abs(numeric(found[name] - value, 40)) < R(1, 10**35), name
    for name, value in by_hand.items():
        answer = f"{float(numeric(value, 20)):.10g}"
        verdict = diagnose(net, "dL/dw1_1_1", answer, samples=[MAZUR_SAMPLE],
                           learning_rate="0.5", tolerance="0.01%")
        assert not verdict.correct and name in [m.name for m in verdict.mistakes]
    assert diagnose(net, "dL/dw1_1_1", "0.000438568", samples=[MAZUR_SAMPLE],
                    learning_rate="0.5", tolerance="0.01%").correct
    swapped = {m.name: m.value for m in mistakes(d, "dL/dw2_1_2")}["swapped_indices"]
    assert swapped == units[(2, 2)].delta.value * units[(1, 1)].a.value


def test_cli_check_on_a_network(tmp_path):
    """symgrad check --spec network.toml grades a hidden gradient and names the mistake."""
    spec = tmp_path / "network.toml"
    spec.write_text(NETWORK_TOML)
    right = run(sys.executable, "-m", "symgrad", "check", "--spec", str(spec), "--quantity",
                "dL/dw1_1_1", "--answer", "0.000438568")
    assert right.returncode == 0 and right.stdout.startswith("✓ correct: dL/dw1_1_1 ≈ 4.386e-4")
    wrong = run(sys.executable, "-m", "symgrad", "check", "--spec", str(spec), "--quantity",
                "delta1_2", "--answer", "0.04137")
    assert wrong.returncode == 1 and "without the activation's derivative" in wrong.stdout
    formula = run(sys.executable, "-m", "symgrad", "check", "--spec", str(spec), "--quantity",
                  "da/dz", "--answer", "a*(1-a)")
    assert formula.returncode == 2 and "delta1_2" in formula.stderr


def test_finite_difference_check_in_the_record():
    """--finite-differences: each gradient's central difference is worked exactly and the
    chain rule agrees with it to O(h²) (exactly, for a quadratic loss)."""
    d = derive(_mazur(frozen=("b",)), MAZUR_SAMPLE, learning_rate="0.5",
               finite_differences=True)
    assert [f.parameter for f in d.finite_differences] == list(d.parameter_names)
    for g, f in zip(d.gradients, d.finite_differences):
        assert abs(numeric(f.difference, 30)) < R(1, 10**11)
        assert abs(numeric(g.value - f.central - f.difference, 40)) < R(1, 10**35)
    neuron = derive(finite_differences=True)
    assert [f.difference for f in neuron.finite_differences] == [0, 0]
    data = worked_example(_mazur(), MAZUR_SAMPLE, finite_differences=True).to_data()
    assert len(data["finite_differences"]) == 12
    md = worked_example(_mazur(), MAZUR_SAMPLE, finite_differences=True).to_markdown()
    assert "### Check: finite differences" in md



def test_matrix_form_as_data_and_script(tmp_path):
    """--matrix with json gives every matrix's shape and exact entries, and the py script
    works each matrix again and fails when one of symgrad's numbers is changed."""
    spec = tmp_path / "network.toml"
    spec.write_text(NETWORK_TOML + '\n[[samples]]\nx = [1, -1]\ny = [0.5, 0.25]\n')
    result = run(sys.executable, "-m", "symgrad", "example", "--spec", str(spec), "--matrix",
                 "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    d = derive(_mazur(), [MAZUR_SAMPLE, Sample(x=["1", "-1"], y=["0.5", "0.25"])],
               learning_rate="0.5", matrix=True)
    for sample, steps in zip(data["matrices"], d.matrices):
        for got, step in zip(sample["layers"], steps):
            assert got["delta"]["shape"] == [2, 1] and got["gradient"]["shape"] == [2, 2]
            assert [[e["exact"] for e in row] for row in got["gradient"]["entries"]] == [
                [exact_text(step.gradient[i, j].value) for j in range(2)] for i in range(2)]
    first = data["batch_matrices"][0]
    assert first["inputs"]["shape"] == [2, 2] and first["weight_gradient"]["shape"] == [2, 2]
    # Δᵀ A summed over the samples is the gradient the step worked (the mean of a batch: ½)
    for j in range(2):
        for k in range(2):
            assert first["weight_gradient"]["entries"][j][k]["value"] == pytest.approx(
                data["gradients"][f"w1_{j + 1}_{k + 1}"]["value"], rel=1e-12)
    assert "matrices" not in json.loads(run(sys.executable, "-m", "symgrad", "example",
                                            "--spec", str(spec), "--format", "json").stdout)
    script = run(sys.executable, "-m", "symgrad", "example", "--spec", str(spec), "--matrix",
                 "--format", "py").stdout
    good = run(sys.executable, "-c", script)
    assert good.returncode == 0 and "layer 1: dL/dW = c Delta^T A (2 × 2)" in good.stdout
    for key in ("expected_matrices = [\n    [\n        ([[", "expected_batch = [\n    ([["):
        at = script.index(key) + len(key)
        tampered = script[:at] + "1" + script[at:]  # 0.74… becomes 10.74…
        bad = run(sys.executable, "-c", tampered)
        assert bad.returncode == 1 and "AssertionError" in bad.stderr


def test_matrix_form_of_a_neuron_script_and_refusal():
    """A neuron's py script asserts its batch matrices; --l2 --matrix is refused in one line."""
    neuron = Neuron(weights=["0.5", "-0.25"], bias="0.1", activation="sigmoid", loss="mse")
    samples = [Sample(x=["1", "2"], y="1"), Sample(x=["2", "-1"], y="0.5")]
    script = worked_example(neuron, samples, matrix=True).render("py")
    good = run(sys.executable, "-c", script)
    assert good.returncode == 0 and "dL/dw = (1/n) X^T delta (2 × 1)" in good.stdout
    at = script.index('"delta": [[') + len('"delta": [[')
    assert run(sys.executable, "-c", script[:at] + "1" + script[at:]).returncode == 1
    result = run(sys.executable, "-m", "symgrad", "example", "--l2", "0.1", "--matrix")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "matrix form shows the loss's gradient" in result.stderr and "--l2" in result.stderr


def test_network_spec_freeze_needs_names(tmp_path):
    """A freeze list of numbers is refused in one line."""
    spec = tmp_path / "network.toml"
    spec.write_text(NETWORK_TOML.replace('freeze = ["b"]', "freeze = [1]"))
    odd = run(sys.executable, "-m", "symgrad", "example", "--spec", str(spec))
    assert odd.returncode == 2 and "an array holding an integer" in odd.stderr


def test_python_script_never_prints_minus_zero():
    """A gradient that float arithmetic makes -0.0 (a dead leaky ReLU times 0) prints 0."""
    network = Network(layers=[Layer([["0.5", "-1"], ["1", "0.25"]], None, "leaky_relu"),
                              Layer([["0.3", "0.2"], ["0.1", "-0.4"]], None, "softplus")],
                      loss="mse", outputs="mean")
    example = worked_example(network, [Sample(x=["1", "0.5"], y=["1", "2"])])
    printed = run(sys.executable, "-c", example.to_python()).stdout
    assert "dL/dw2_1_1 = 0\n" in printed and "= -0\n" not in printed


# --- Softmax outputs and categorical cross-entropy ---------------------------------------------

def _expanded(value):
    """An exact value with every named value replaced by its definition, recursively."""
    from symgrad.maths.model import Defined
    while value.atoms(Defined):
        value = value.xreplace({atom: atom.definition for atom in value.atoms(Defined)})
    return value


def _softmax_network(draw):
    """A small softmax classifier: 2–4 classes, a hidden layer or none, a batch of 1–2, with
    cross-entropy (class index, one-hot or a distribution), squared error or bce."""
    number = st.integers(-15, 15).map(lambda n: R(n, 10))
    classes = draw(st.integers(2, 4))
    inputs = draw(st.integers(1, 2))
    widths = [inputs] + ([draw(st.integers(1, 2))] if draw(st.booleans()) else []) + [classes]
    layers = []
    for l in range(len(widths) - 1):
        last = l == len(widths) - 2
        activation = "softmax" if last else draw(st.sampled_from(["sigmoid", "tanh", "identity"]))
        layers.append(Layer([[draw(number) for _ in range(widths[l])]
                             for _ in range(widths[l + 1])],
                            [draw(number) for _ in range(widths[l + 1])] if draw(st.booleans())
                            else None, activation))
    loss = draw(st.sampled_from(["cross_entropy", "cross_entropy", "squared", "bce"]))

    def target():
        if loss != "cross_entropy":
            return [draw(st.sampled_from([R(0), R(1), R(1, 2)])) for _ in range(classes)]
        kind = draw(st.sampled_from(["index", "one-hot", "distribution"]))
        label = draw(st.integers(1, classes))
        if kind == "index":
            return label
        if kind == "one-hot":
            return [int(k == label) for k in range(1, classes + 1)]
        return [R(1, classes)] * classes

    samples = [Sample(x=[draw(number) for _ in range(inputs)], y=target())
               for _ in range(draw(st.integers(1, 2)))]
    return Network(layers=layers, loss=loss), samples


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.data())
def test_softmax_gradients_equal_diff_and_finite_differences(data):
    """Through a softmax output every δ-built gradient equals sympy.diff of the composed loss
    and a central finite difference; with cross-entropy each output's δ equals a − y exactly."""
    network, samples = _softmax_network(data.draw)
    d = derive(network, samples)
    total, symbols = composed_loss(network, samples)
    values = [mpmath.mpf(p.p) / p.q for p in d.parameters]
    h = mpmath.mpf(10) ** -6
    with mpmath.workdps(30):
        loss = lambdify(symbols, total, modules="mpmath")
        assert abs(float(loss(*values)) - float(numeric(d.loss.value, 30))) < 1e-12
        for j, (g, symbol) in enumerate(zip(d.gradients, symbols)):
            ours = float(numeric(g.value, 30))
            symbolic = float(lambdify(symbols, diff(total, symbol), modules="mpmath")(*values))
            assert abs(ours - symbolic) < 1e-12 * (1 + abs(symbolic))
            up, down = list(values), list(values)
            up[j] += h
            down[j] -= h
            central = float((loss(*up) - loss(*down)) / (2 * h))
            assert abs(ours - central) < 1e-5 * (1 + abs(central))
    for f in d.forward:
        outputs = f.outputs()
        assert all(u.jacobian is not None for u in outputs)
        # The columns form the Jacobian a_j(δ_jk − a_k), and δ = Jᵀ ∇_a L.
        for k, u in enumerate(outputs):
            for j, entry in enumerate(u.jacobian):
                a_j, a_k = outputs[j].a.value, u.a.value
                assert entry.value == (a_j * (1 - a_k) if j == k else -a_j * a_k) or abs(
                    numeric(entry.value - a_j * (int(j == k) - a_k), 40)) < R(1, 10**35)
        if network.loss == "cross_entropy":
            for u, y in zip(outputs, f.sample_data.targets):
                assert u.cancelled is not None
                assert (_expanded(u.delta.value) - _expanded(u.a.value - y)).simplify() == 0
        else:
            assert all(u.cancelled is None for u in outputs)


def test_softmax_cross_entropy_agrees_with_pytorch():
    """The loss and every gradient equal torch.nn.functional.cross_entropy's (mean over the
    batch, classes counted from 0 there), for class indices and a target distribution."""
    torch = pytest.importorskip("torch")
    network = Network(layers=[Layer([["0.5", "-0.2"], ["0.1", "0.4"]], ["0.1", "-0.1"], "tanh"),
                              Layer([["0.3", "-0.5"], ["0.2", "0.6"], ["-0.4", "0.1"]],
                                    ["0", "0.1", "-0.1"], "softmax")], loss="cross_entropy")
    for samples, target in (
            ([Sample(x=["1", "2"], y=3), Sample(x=["-1", "0.5"], y=1)], torch.tensor([2, 0])),
            ([Sample(x=["1", "2"], y=["0.2", "0.5", "0.3"])],
             torch.tensor([[0.2, 0.5, 0.3]], dtype=torch.float64))):
        d = derive(network, samples)
        w1 = torch.tensor([[0.5, -0.2], [0.1, 0.4]], dtype=torch.float64, requires_grad=True)
        b1 = torch.tensor([0.1, -0.1], dtype=torch.float64, requires_grad=True)
        w2 = torch.tensor([[0.3, -0.5], [0.2, 0.6], [-0.4, 0.1]], dtype=torch.float64,
                          requires_grad=True)
        b2 = torch.tensor([0, 0.1, -0.1], dtype=torch.float64, requires_grad=True)
        x = torch.tensor([[float(v) for v in s.x] for s in samples], dtype=torch.float64)
        logits = torch.tanh(x @ w1.T + b1) @ w2.T + b2
        loss = torch.nn.functional.cross_entropy(logits, target)
        loss.backward()
        assert float(numeric(d.loss.value, 30)) == pytest.approx(loss.item(), rel=1e-12)
        theirs = [*w1.grad.flatten(), *b1.grad, *w2.grad.flatten(), *b2.grad]
        for g, t in zip(d.gradients, theirs):
            assert float(numeric(g.value, 30)) == pytest.approx(t.item(), rel=1e-10, abs=1e-14)


def test_sigmoid_with_bce_per_output_cancels():
    """Several sigmoid outputs with bce (multi-label): each output's δ = ∂L/∂a · f'(z) equals
    its own a − y, which the lesson works too."""
    network = Network(layers=[Layer([["0.5", "-1"], ["1", "0.25"], ["-0.5", "0.5"]], ["0", "0.1",
                                                                                      "0"])],
                      loss="bce")
    d = derive(network, [Sample(x=["1", "2"], y=[1, 0, 1])])
    for u, y in zip(d.forward[0].outputs(), [1, 0, 1]):
        assert u.jacobian is None and u.cancelled.value == u.a.value - y
        assert (_expanded(u.delta.value) - _expanded(u.a.value - y)).simplify() == 0
    md = worked_example(network, [Sample(x=["1", "2"], y=[1, 0, 1])]).to_markdown()
    assert "Worked from this short form, each output's error signal comes out as above:" in md
    assert r"\delta^{(1)}_{3} = a^{(1)}_{3} - y_{3}" in md


# Softmax outputs with losses other than cross-entropy (nothing cancels: the gradients go
# through the Jacobian), and several sigmoid outputs with bce (multi-label: each cancels).
OTHER_OUTPUT_LOSSES = {
    "softmax_mse": ("softmax", "mse", [["0.5", "0", "0.5"], ["0", "1", "0"]]),
    "softmax_squared": ("softmax", "squared", [["0.25", "0.75", "0"], ["1", "0", "0"]]),
    "softmax_bce": ("softmax", "bce", [["0", "1", "0"], ["0.5", "0", "0.5"]]),
    "multi_label_bce": ("sigmoid", "bce", [["1", "0", "1"], ["0", "1", "1"]]),
}


@pytest.mark.parametrize("case", OTHER_OUTPUT_LOSSES)
def test_other_output_losses_equal_diff_and_autograd(case):
    """A tanh layer into 3 softmax outputs with mse, squared error or bce, and into 3 sigmoid
    outputs with bce (multi-label), over a batch of 2: every gradient equals sympy.diff of
    the composed loss and PyTorch's autograd of the same model (float64)."""
    torch = pytest.importorskip("torch")
    activation, loss, targets = OTHER_OUTPUT_LOSSES[case]
    hidden = ([["0.5", "-0.2"], ["0.1", "0.4"]], ["0.1", "-0.1"])
    output = ([["0.3", "-0.5"], ["0.2", "0.6"], ["-0.4", "0.1"]], ["0", "0.1", "-0.1"])
    network = Network(layers=[Layer(*hidden, "tanh"), Layer(*output, activation)], loss=loss)
    samples = [Sample(x=["1", "2"], y=targets[0]), Sample(x=["-1", "0.5"], y=targets[1])]
    d = derive(network, samples)
    # Only sigmoid with bce cancels, output by output: its short form gives the δ worked
    for f in d.forward:
        for u in f.outputs():
            assert (u.cancelled is None) == (activation == "softmax")
            if u.cancelled is not None:
                assert abs(numeric(u.cancelled.value - u.delta.value, 40)) < R(1, 10**35)
    total, symbols = composed_loss(network, samples)
    values = dict(zip(symbols, d.parameters))
    for g, symbol in zip(d.gradients, symbols):
        expected = diff(total, symbol).subs(values)
        assert abs(numeric(g.value - expected, 40)) < R(1, 10**30), g.parameter

    def tensor(rows):
        return torch.tensor([[float(R(v)) for v in row] for row in rows], dtype=torch.float64,
                            requires_grad=True)

    w1, w2 = tensor(hidden[0]), tensor(output[0])
    b1, b2 = tensor([hidden[1]])[0].detach().requires_grad_(), tensor(
        [output[1]])[0].detach().requires_grad_()
    x = torch.tensor([[1.0, 2.0], [-1.0, 0.5]], dtype=torch.float64)
    y = torch.tensor([[float(R(v)) for v in row] for row in targets], dtype=torch.float64)
    z = torch.tanh(x @ w1.T + b1) @ w2.T + b2
    a = torch.softmax(z, dim=1) if activation == "softmax" else torch.sigmoid(z)
    terms = (torch.nn.functional.binary_cross_entropy(a, y, reduction="none") if loss == "bce"
             else (a - y) ** 2)
    per_sample = terms.sum(dim=1) if d.network.outputs == "sum" else terms.mean(dim=1)
    batch = per_sample.sum() if d.loss_function.reduction == "sum" else per_sample.mean()
    batch.backward()
    assert float(numeric(d.loss.value, 30)) == pytest.approx(batch.item(), rel=1e-12)
    theirs = [*w1.grad.flatten(), *b1.grad, *w2.grad.flatten(), *b2.grad]
    assert len(theirs) == len(d.gradients)
    for g, t in zip(d.gradients, theirs):
        assert float(numeric(g.value, 30)) == pytest.approx(t.item(), rel=1e-10, abs=1e-14), (
            g.parameter)


def test_class_index_is_one_hot():
    """y = 2 of a 3-class softmax is y = [0, 1, 0]: the same derivation."""
    network = Network(layers=[Layer([[1, 0], [0, 1], [1, 1]], None, "softmax")],
                      loss="cross_entropy")
    by_index = derive(network, [Sample(x=[1, 2], y=2)])
    one_hot = derive(network, [Sample(x=[1, 2], y=[0, 1, 0])])
    assert by_index.samples == one_hot.samples and by_index.samples[0].targets == (0, 1, 0)
    for a, b in zip(by_index.gradients, one_hot.gradients):
        assert abs(numeric(a.value - b.value, 40)) < R(1, 10**35)


def test_saturated_softmax_says_why_its_gradient_is_tiny():
    """A softmax sure of its class (z = ±30) derives: both tiny gradients are put down to
    outputs almost 0 or 1. The other class's ∂L/∂a = -y/a = 0 is no reason (it was told
    "the prediction already equals the target"): its δ = a - y ≈ 10^-26 is not 0. With
    every output on its target, δ = 0 and so is every gradient: that is the reason."""
    network = Network(layers=[Layer([[30], [-30]], None, "softmax")], loss="cross_entropy")
    d = derive(network, [Sample(x=[1], y=1)])
    assert [g.cause for g in d.gradients] == ["saturated_output", "saturated_output"]
    even = Network(layers=[Layer([[0], [0]], None, "softmax")], loss="squared")
    d = derive(even, [Sample(x=[1], y=["0.5", "0.5"])])
    assert [g.cause for g in d.gradients] == ["at_target", "at_target"]


def _drawn_classifier(rng):
    """A seeded softmax classifier with cross-entropy: 2–4 classes, a hidden layer of relu,
    sigmoid or tanh (or none), a batch of 1–2 with a class index or one-hot targets."""
    number = lambda: R(rng.randint(-15, 15), 10)  # noqa: E731
    classes, inputs = rng.randint(2, 4), rng.randint(1, 2)
    widths = [inputs] + ([rng.randint(1, 2)] if rng.random() < 0.7 else []) + [classes]
    layers = [Layer([[number() for _ in range(before)] for _ in range(width)],
                    [number() for _ in range(width)],
                    "softmax" if l == len(widths) - 2 else rng.choice(["relu", "sigmoid", "tanh"]))
              for l, (before, width) in enumerate(zip(widths, widths[1:]))]
    samples = []
    for _ in range(rng.randint(1, 2)):
        label = rng.randint(1, classes)
        samples.append(Sample(x=[R(rng.randint(-4, 4), 2) or 1 for _ in range(inputs)],
                              y=label if rng.random() < 0.5 else
                              [int(k == label) for k in range(1, classes + 1)]))
    return Network(layers=layers, loss="cross_entropy"), samples


def test_diagnose_traces_softmax_mistakes():
    """Over seeded softmax classifiers (2–4 classes): every mistake listed for an output, a
    δ, the loss or a gradient differs from the right value and diagnose traces it to its
    name; the diagonal-only δ is listed for each class but the target's (whose diagonal
    term is all of δ: a − 1), the neighbouring class for the target's δ."""
    import random
    from symgrad import diagnose
    from symgrad.maths.quantities import mistakes, quantities
    seen = set()
    for seed in range(8):
        network, samples = _drawn_classifier(random.Random(f"softmax-mistakes:{seed}"))
        d = derive(network, samples)
        last = len(network.layers)
        targets = d.forward[0].sample_data.targets
        for q in quantities(d):
            listed = mistakes(d, q.key, distinct=False)
            for m in listed:
                assert abs(numeric(m.value - q.value, 30)) > R(1, 10**20), (q.key, m.name)
            names = {m.name for m in listed}
            seen |= names
            if q.key.startswith(f"delta{last}_") and "@" not in q.key:
                k = int(q.key.split("_")[1])
                assert ("softmax_diagonal_only" in names) == (targets[k - 1] == 0), q.key
                assert "flipped_sign" in names, q.key
                assert targets[k - 1] == 0 or "one_hot_shifted" in names, q.key
            if q.kind == "loss":  # equal probabilities (a dead ReLU) lose the same either way
                assert names <= {"one_hot_shifted"}
            if q.kind != "loss" and not q.key.startswith((f"delta{last}_", f"dL/dw{last}_1_1")):
                continue  # diagnose re-derives: the loss and the softmax layer's numbers
            for m in listed:
                verdict = diagnose(network, q.key, str(numeric(m.value, 25)),
                                   samples=samples, tolerance="1e-12")
                assert not verdict.correct and m.name in {n.name for n in verdict.mistakes}, (
                    seed, q.key, m.name, verdict.message)
            assert diagnose(network, q.key, str(numeric(q.value, 25)), samples=samples).correct
    assert {"softmax_diagonal_only", "one_hot_shifted", "flipped_sign"} <= seen


def test_cli_check_names_softmax_mistakes(tmp_path):
    """symgrad check --spec softmax.toml grades an output δ: p − y is right, the diagonal
    of the Jacobian alone (0 for a class that is not the target) and the neighbouring
    class are named."""
    spec = tmp_path / "softmax.toml"
    spec.write_text(SOFTMAX_TOML.split("[[samples]]\nx = [-1")[0])
    check = (sys.executable, "-m", "symgrad", "check", "--spec", str(spec), "--quantity")
    right = run(*check, "delta2_1", "--answer", "0.2048")
    assert right.returncode == 0 and right.stdout.startswith("✓ correct: delta2_1 ≈ 0.2048")
    diagonal = run(*check, "delta2_1", "--answer", "0")
    assert diagonal.returncode == 1 and "only the diagonal of the softmax's Jacobian" in (
        diagonal.stdout)
    shifted = run(*check, "delta2_1", "--answer", "-0.7952")
    assert shifted.returncode == 1 and "target class off by one" in shifted.stdout
    flipped = run(*check, "a2_1", "--answer", "-0.34")
    assert flipped.returncode == 1 and "z used where" in flipped.stdout


@pytest.mark.parametrize("layers, loss, outputs, y, message", [
    ([Layer([[1], [2]], None, "softmax"), Layer([[1, 1], [1, -1]], None, "identity")],
     "squared", "sum", [0, 1], "softmax goes on the output layer only"),
    ([Layer([[1]], None, "softmax")], "squared", "sum", [1], "at least 2 neurons"),
    ([Layer([[1], [2]], None, "sigmoid")], "cross_entropy", "sum", [0, 1],
     "needs a softmax output layer"),
    ([Layer([[1], [2]], None, "softmax")], "cross_entropy", "mean", [0, 1],
     "sums over the classes"),
    ([Layer([[1], [2]], None, "softmax")], "cross_entropy", "sum", ["0.5", "0.4"],
     "so they sum to 1, not 9/10"),
    ([Layer([[1], [2]], None, "softmax")], "cross_entropy", "sum", 3, "a class from 1 to 2"),
    ([Layer([[1], [2]], None, "softmax")], "cross_entropy", "sum", [2, -1],
     "targets from 0 to 1"),
])
def test_softmax_refusals(layers, loss, outputs, y, message):
    """Softmax on a hidden or one-neuron layer, cross-entropy without softmax or averaged over
    the classes, targets that are no distribution or no class: one-line errors."""
    with pytest.raises(SymgradError, match=message) as error:
        derive(Network(layers=layers, loss=loss, outputs=outputs), [Sample(x=[1], y=y)])
    assert "\n" not in str(error.value)
    with pytest.raises(SymgradError, match="at least 2 neurons"):
        derive(Neuron(weights=1, activation="softmax"), [Sample(x=1, y=1)])


SOFTMAX_TOML = """\
loss = "cross_entropy"

[[layers]]
activation = "relu"
weights = [[0.5, -0.2], [0.1, 0.4]]
biases = [0.1, -0.1]

[[layers]]
activation = "softmax"
weights = [[0.3, -0.5], [0.2, 0.6], [-0.4, 0.1]]
biases = [0, 0.1, -0.1]

[[samples]]
x = [1, 2]
y = 3

[[samples]]
x = [-1, 0.5]
y = [0, 1, 0]
"""


def test_softmax_every_format(tmp_path, pdflatex, katex_dir, monkeypatch):
    """A softmax spec renders in md, tex (which compiles), html, json and py; the script's
    numbers, worked with floats, are the JSON's, and it asserts δ = a − y itself."""
    from latex import compile_tex
    spec = tmp_path / "softmax.toml"
    spec.write_text(SOFTMAX_TOML)
    monkeypatch.setenv("SYMGRAD_KATEX_DIR", str(katex_dir / "node_modules" / "katex"))
    outputs = {}
    for fmt in ("md", "tex", "html", "json", "py"):
        result = run(sys.executable, "-m", "symgrad", "example", "--spec", str(spec), "--format",
                     fmt, *(["--matrix"] if fmt in ("md", "tex") else []))
        assert result.returncode == 0, result.stderr
        outputs[fmt] = result.stdout
    assert r"\left(\frac{\partial a^{(2)}}{\partial z^{(2)}}\right)^{T} \nabla_{a} L" in outputs["md"]
    (tmp_path / "softmax.tex").write_text(outputs["tex"])
    assert compile_tex(tmp_path / "softmax.tex", pdflatex).returncode == 0
    data = json.loads(outputs["json"])
    assert data["samples"][0]["y"] == [{"value": v, "exact": str(v), "latex": str(v)}
                                       for v in (0, 0, 1)]
    names = {f["name"] for f in data["factors"]}
    assert {"da2_3/dz2_1", "da2_1/dz2_3", "delta2_1=a-y"} <= names
    printed = dict(line.strip().split(" = ") for line in run(
        sys.executable, "-c", outputs["py"]).stdout.splitlines() if line.startswith("  dL/d"))
    for name, value in data["gradients"].items():
        assert float(printed[f"dL/d{name}"]) == pytest.approx(value["value"], rel=1e-9)


def test_a_batch_without_its_matrix_form_says_why():
    """--matrix with a batch works the batch in matrix form, unless the step follows an L2
    penalty's ∂J or a softmax layer's Jacobian; then the lesson says so instead of leaving
    the section out."""
    layers = [Layer([["0.5", "-0.3"], ["0.2", "0.4"]], ["0.1", "-0.1"], "sigmoid")]
    plain = Network(layers=layers + [Layer([["0.7", "-0.6"]], ["0.05"], "sigmoid")],
                    loss="mse", outputs="mean")
    samples = [Sample(x=["1", "2"], y="0.25"), Sample(x=["-1", "0.5"], y="0.75")]
    texts = {}
    for name, network, batch, l2 in (
            ("plain", plain, samples, "0"), ("l2", plain, samples, "0.1"),
            ("softmax", Network(layers=layers + [Layer([["0.7", "-0.6"], ["0.1", "0.2"]],
                                                       ["0.05", "0"], "softmax")],
                                loss="cross_entropy"),
             [Sample(x=["1", "2"], y=["0", "1"]), Sample(x=["-1", "0.5"], y=["1", "0"])], "0")):
        d = derive(network, batch, learning_rate="0.5", l2=l2, matrix=True)
        texts[name] = WorkedExample(d, matrix=True).to_markdown()
    assert "### The batch in matrix form" in texts["plain"]
    assert "not worked in matrix form" not in texts["plain"]
    for name, reason in (("l2", "the loss with its penalty, $J$"),
                         ("softmax", r"its Jacobian times $\nabla_{a} L$")):
        assert "### The batch in matrix form" not in texts[name]
        assert "The batch is not worked in matrix form here: " in texts[name]
        assert reason in texts[name]
