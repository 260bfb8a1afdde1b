"""Tests of symgrad.network: backprop through layers against independent oracles."""

import json
import sys

import mpmath
import pytest
from hypothesis import given, settings, strategies as st
from sympy import Rational, diff, lambdify

from conftest import run
from symgrad import Neuron, worked_example
from symgrad.activations import ACTIVATIONS
from symgrad.derive import derive
from symgrad.errors import ShapeError, SymgradError
from symgrad.losses import LOSSES
from symgrad.model import Layer, Network, Sample, numeric
from symgrad.network import composed_network_loss, derive_network

R = Rational


def _mazur(**options):
    """The 2-2-2 sigmoid network of the well-known step-by-step backpropagation example."""
    return Network(layers=[Layer([["0.15", "0.2"], ["0.25", "0.3"]], ["0.35", "0.35"]),
                           Layer([["0.4", "0.45"], ["0.5", "0.55"]], ["0.6", "0.6"])],
                   loss="half_squared", **options)


MAZUR_SAMPLE = Sample(x=["0.05", "0.1"], y=["0.01", "0.99"])


def _close(value, expected, digits=9):
    return abs(float(numeric(value, 30)) - expected) < 10 ** -digits


def test_two_layer_sigmoid_example_numbers():
    """The classic worked example: loss 0.298371109, dL/dw5 = 0.082167041, dL/dw1 = 0.000438568."""
    d = derive_network(_mazur(), MAZUR_SAMPLE, learning_rate="0.5")
    assert _close(d.loss.value, 0.298371109)
    gradients = {g.parameter: g.value for g in d.gradients}
    assert _close(gradients["w2_11"], 0.082167041)
    assert _close(gradients["w1_11"], 0.000438568)
    assert _close(d.updated[d.parameter_names.index("w2_11")], 0.35891648)


def test_freezing_biases_keeps_them():
    """Frozen biases keep their values, as walkthroughs that update only weights do."""
    d = derive_network(_mazur(frozen=("b",)), MAZUR_SAMPLE, learning_rate="0.5")
    for g, before, after in zip(d.gradients, d.parameters, d.updated):
        assert (after == before) == g.parameter.startswith("b")
    assert _close(d.loss_after.value, 0.291027774)


def test_freezing_a_layer_and_unknown_names():
    """layer2 freezes a whole layer; an unknown name is refused."""
    d = derive_network(_mazur(frozen=("layer2",)), MAZUR_SAMPLE)
    assert [g.frozen for g in d.gradients] == [False] * 6 + [True] * 6
    with pytest.raises(ShapeError, match="cannot freeze 'layer3'"):
        _mazur(frozen=("layer3",))


def _random_network(draw):
    depth = draw(st.integers(1, 3))
    widths = [draw(st.integers(1, 3)) for _ in range(depth + 1)]
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
    d = derive_network(network, samples)
    kinky = {"relu", "leaky_relu"} & {a.name for a in d.activations}
    if kinky and any(abs(float(numeric(row.z.value))) < 1e-3
                     for rows in d.forward for row in rows):
        return
    total, symbols = composed_network_loss(network, samples)
    values = [mpmath.mpf(p.p) / p.q for p in d.parameters]
    h = mpmath.mpf(10) ** -6
    with mpmath.workdps(30):
        loss = lambdify(symbols, total, modules="mpmath")
        for j, (g, symbol) in enumerate(zip(d.gradients, symbols)):
            ours = float(numeric(g.value, 30))
            # sympy.diff on small networks (it is slow on big composed losses); the kinks of
            # mae and huber are left to finite differences.
            if len(symbols) <= 12 and network.loss not in ("mae", "huber"):
                symbolic = float(lambdify(symbols, diff(total, symbol), modules="mpmath")(*values))
                assert abs(ours - symbolic) < 1e-12 * (1 + abs(symbolic))
            up, down = list(values), list(values)
            up[j] += h
            down[j] -= h
            central = float((loss(*up) - loss(*down)) / (2 * h))
            if network.loss in ("mae", "huber") and abs(ours - central) > 1e-4:
                errors = [abs(float(numeric(row.a.value)) - float(y))
                          for rows, s in zip(d.forward, samples)
                          for row, y in zip([r for r in rows if r.layer == len(network.layers)],
                                            s.targets)]
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
    layered = derive_network(network, samples)
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
    d = derive_network(Network(layers=layers), [Sample(x=2, y="0.5")])
    first = d.gradients[0].value
    assert 0 < float(numeric(first)) < 1e-80  # the vanishing gradient of a deep sigmoid chain
    assert len(worked_example(Network(layers=layers), [Sample(x=2, y="0.5")]).to_markdown()) > 0


def test_network_shapes_are_checked():
    """Mismatched layers, samples and targets are clear errors."""
    with pytest.raises(ShapeError, match="layer 2 takes 3 inputs but layer 1 has 2"):
        Network(layers=[Layer([[1, 2], [3, 4]]), Layer([[1, 2, 3]])])
    with pytest.raises(ShapeError, match="2 targets but the network has 1 outputs"):
        derive_network(Network(layers=[Layer([[1]])]), [Sample(x=1, y=[1, 2])])
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
    d = derive_network(_mazur(), MAZUR_SAMPLE)
    gradients = {g.parameter: g.value for g in d.gradients}
    deltas = {(row.layer, row.neuron): row.delta.value for row in d.backward[0]}
    for step in d.matrices[0]:
        for j in range(step.delta.rows):
            assert step.delta[j, 0].value == deltas[(step.layer, j + 1)]
            for k in range(step.gradient.cols):
                weight = gradients[f"w{step.layer}_{j + 1}{k + 1}"]
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
    assert data["updated"]["w2_11"]["value"] == pytest.approx(0.35891648, abs=1e-8)
    for fmt in ("md", "tex", "py"):
        assert run(sys.executable, "-m", "symgrad", "example", "--spec", str(spec),
                   "--format", fmt).returncode == 0


@pytest.mark.parametrize("extra, toml, message", [
    (["--x", "1"], NETWORK_TOML, "--x describes a single neuron"),
    (["--steps", "3"], NETWORK_TOML, "one step"),
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
