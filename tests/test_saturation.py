"""Saturated neurons and long loops: values far in the tails are right (checked against
mpmath at 200 digits or exact fractions), and nothing crashes or runs long."""

import json
import sys
from fractions import Fraction

import mpmath
import pytest

from conftest import run
from symgrad import Neuron, Sample, derive, worked_example
from symgrad.errors import DomainError
from symgrad.maths.model import Layer, Network, numeric

mpmath.mp.dps = 200


def _float(value) -> float:
    return float(numeric(value, 30))


def _sigmoid(z):
    return 1 / (1 + mpmath.exp(-z))


def test_sigmoid_far_in_its_tail():
    """w = 100, y = 0: the gradient 2σ(z)·σ(z)(1 − σ(z))·x ≈ 5.0e-87 is right to 12 digits."""
    d = derive(Neuron(weights=100, bias="0.1", activation="sigmoid"), [Sample(x=2, y=0)])
    z = mpmath.mpf("200.1")
    a = _sigmoid(z)
    expected = 2 * a * a * (1 - a) * 2
    assert _float(d.gradients[0].value) == pytest.approx(float(expected), rel=1e-12)
    assert worked_example(Neuron(weights=100, bias="0.1", activation="sigmoid"),
                          [Sample(x=2, y=0)]).to_markdown()


def test_tanh_far_in_its_tail():
    """w = 50: tanh's slope 1 − tanh²(z) ≈ 4e-87 keeps its digits."""
    d = derive(Neuron(weights=50, bias="0.1", activation="tanh"), [Sample(x=2, y="1.5")])
    z = mpmath.mpf("100.1")
    expected = 2 * (mpmath.tanh(z) - mpmath.mpf("1.5")) * (1 - mpmath.tanh(z) ** 2) * 2
    assert _float(d.gradients[0].value) == pytest.approx(float(expected), rel=1e-12)


def test_cross_entropy_of_a_saturated_sigmoid(tmp_path):
    """x = 300: the loss −log σ(300.1) ≈ 4.658e-131 is that number in JSON, not 0."""
    result = run(sys.executable, "-m", "symgrad", "example", "--activation", "sigmoid",
                 "--loss", "bce", "--x", "300", "--w", "1", "--y", "1", "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    expected = mpmath.log1p(mpmath.exp(-mpmath.mpf("300.1")))
    assert data["loss_value"]["value"] == pytest.approx(float(expected), rel=1e-14)
    gradient = (_sigmoid(mpmath.mpf("300.1")) - 1) * 300
    assert data["gradients"]["w"]["value"] == pytest.approx(float(gradient), rel=1e-12)


def test_huge_learning_rate_one_step():
    """--lr 1000 with cross-entropy: one step lands far out, and the loss after is exact."""
    d = derive(Neuron(weights="0.5", bias="0.1", activation="sigmoid", loss="bce"),
               [Sample(x=2, y=1)], learning_rate=1000)
    a = _sigmoid(mpmath.mpf("1.1"))
    w, b = mpmath.mpf("0.5") - 1000 * (a - 1) * 2, mpmath.mpf("0.1") - 1000 * (a - 1)
    after = -mpmath.log(_sigmoid(2 * w + b))
    assert _float(d.loss_after.value) == pytest.approx(float(after), rel=1e-12)


def test_saturating_loop_keeps_its_digits():
    """A cross-entropy loop whose sigmoid is 1 to every carried digit (z ≈ 300): its
    complement is worked from the named value's definition, so the fifty steps run (they
    stopped with "ŷ = 1.000 saturates") and the final loss log(1 + e^-z) ≈ 4.658·10^-131 is
    right to 25 digits."""
    d = derive(Neuron(weights=1, bias="0.1", activation="sigmoid", loss="bce"),
               [Sample(x=300, y=1)], steps=50)
    w, b, rate = mpmath.mpf(1), mpmath.mpf("0.1"), mpmath.mpf("0.1")
    for _ in range(50):
        slope = _sigmoid(300 * w + b) - 1  # dL/dz of cross-entropy after a sigmoid
        w, b = w - rate * slope * 300, b - rate * slope
    expected = mpmath.log1p(mpmath.exp(-(300 * w + b)))
    assert abs(mpmath.mpf(numeric(d.final_loss, 30)._mpf_) / expected - 1) < 1e-25


def test_long_loop_of_decimals_matches_fractions():
    """--x 0.3 --lr 0.07 --steps 1000: the parameters agree with exact fractions to 12
    digits; the loss, whose error term shrinks to 1e-72 of the parameters, to 8 (named
    values carry 60 digits and 64 guard bits: the digits shown stay right)."""
    d = derive(Neuron(weights="0.5", bias="0.1"), [Sample(x="0.3", y="1.5")],
               learning_rate="0.07", steps=1000)
    w, b = Fraction("0.5"), Fraction("0.1")
    x, y, rate = Fraction("0.3"), Fraction("1.5"), Fraction("0.07")
    for it in d.iterations:
        assert _float(it.parameters[0]) == pytest.approx(float(w), rel=1e-12)
        assert _float(it.loss) == pytest.approx(float((w * x + b - y) ** 2), rel=1e-8)
        error = w * x + b - y
        w, b = w - rate * 2 * error * x, b - rate * 2 * error
    assert _float(d.final_parameters[1]) == pytest.approx(float(b), rel=1e-12)


@pytest.mark.parametrize("formula, steps", [("z**2", 10), ("z**100", 1), ("z**100", 3)])
def test_polynomial_activations_train(formula, steps):
    """Custom polynomial activations train without growing past Python's digit limits."""
    from symgrad.maths.activations import custom
    from symgrad.assess.checks import parse
    neuron = Neuron(weights="0.5", bias="0.1", activation=custom(parse(formula)))
    d = derive(neuron, [Sample(x=2, y="1.5")], steps=steps)
    w, b = mpmath.mpf("0.5"), mpmath.mpf("0.1")
    power = int(formula.split("**")[1])
    for _ in range(steps):
        z = 2 * w + b
        slope = 2 * (z ** power - mpmath.mpf("1.5")) * power * z ** (power - 1)
        w, b = w - mpmath.mpf("0.1") * slope * 2, b - mpmath.mpf("0.1") * slope
    assert _float(d.final_parameters[0]) == pytest.approx(float(w), rel=1e-9)


def test_network_output_far_past_141():
    """A network whose output pre-activation is about 300 derives, its tiny gradients right."""
    network = Network(layers=[Layer([[10, 10]], [0], "identity"),
                              Layer([["15"]], [0], "sigmoid")])
    d = derive(network, [Sample(x=[1, 1], y=[0])])
    z = mpmath.mpf(300)
    a = _sigmoid(z)
    expected = 2 * a * a * (1 - a) * 20
    assert _float(d.gradients[-2].value) == pytest.approx(float(expected), rel=1e-12)


def test_network_cross_entropy_at_one_is_refused():
    """A network with cross-entropy whose output is exactly 1 is a domain error, not nan."""
    network = Network(layers=[Layer([[1]], [0], "identity")], loss="bce")
    with pytest.raises(DomainError, match="strictly between 0 and 1"):
        derive(network, [Sample(x=[1], y=[1])])


@pytest.mark.parametrize("u", ["3", "40", "2000", "200000"])
def test_complements_of_saturated_activations_keep_their_digits(u):
    """1 − σ, 1 ∓ tanh, 1 − tanh² and log(1 + e^−u) far in the tail are their tiny values
    to every digit shown (not what is left of 1 − 0.99…9 at some precision)."""
    from sympy import Rational, exp, log, tanh

    u_exact, u_mp = Rational(u), mpmath.mpf(u)
    cases = [(1 - 1 / (1 + exp(-u_exact)), 1 / (1 + mpmath.exp(u_mp))),
             (1 - tanh(u_exact), 2 / (1 + mpmath.exp(2 * u_mp))),
             (1 + tanh(-u_exact), 2 / (1 + mpmath.exp(2 * u_mp))),
             (-1 + 1 / (1 + exp(-u_exact)), -1 / (1 + mpmath.exp(u_mp))),
             (tanh(u_exact) - 1, -2 / (1 + mpmath.exp(2 * u_mp))),
             (1 - tanh(u_exact) ** 2, 1 / mpmath.cosh(u_mp) ** 2),
             (log(1 + exp(-u_exact)), mpmath.log1p(mpmath.exp(-u_mp))),
             (-log(1 - 1 / (1 + exp(-u_exact))), u_mp + mpmath.log1p(mpmath.exp(-u_mp))),
             # squared error's 2(ŷ - 1) is -2 + 2ŷ; cross-entropy's -log σ and -log(1 - σ)
             (2 * (1 / (1 + exp(-u_exact)) - 1), -2 / (1 + mpmath.exp(u_mp))),
             (2 * (tanh(u_exact) - 1), -4 / (1 + mpmath.exp(2 * u_mp))),
             (-log(1 / (1 + exp(-u_exact))), mpmath.log1p(mpmath.exp(-u_mp))),
             (-log(1 - 1 / (1 + exp(u_exact))), mpmath.log1p(mpmath.exp(-u_mp)))]
    for value, expected in cases:
        got = numeric(value, 20)
        assert got.is_Float, value
        assert abs(mpmath.mpf(got._mpf_) / expected - 1) < mpmath.mpf("1e-19"), (value, got)


def test_cross_entropy_loss_after_a_huge_step_of_a_batch():
    """α = 10⁶ sends one sample's sigmoid to z' ≈ 194969.68 (its loss −log(1 − σ(z')) is
    about z') and the other's to z' ≈ −2968060: the loss after is their mean, ≈ 97484.84,
    not what cancellation leaves of 1 − σ(z') (it read 320.9)."""
    samples = [([2, 1], 0), ([-1, mpmath.mpf("0.5")], 0)]
    w, b, rate = [mpmath.mpf(3), mpmath.mpf(-2)], mpmath.mpf(1), mpmath.mpf(10) ** 6
    grad_w, grad_b = [mpmath.mpf(0)] * 2, mpmath.mpf(0)
    for x, y in samples:  # dL/dz = σ(z) − y for cross-entropy of a sigmoid, per sample
        slope = _sigmoid(w[0] * x[0] + w[1] * x[1] + b) - y
        grad_w = [g + slope * xi / 2 for g, xi in zip(grad_w, x)]
        grad_b += slope / 2
    w = [wi - rate * g for wi, g in zip(w, grad_w)]
    b -= rate * grad_b
    # −log(1 − σ(z)) = softplus(z), worked without cancelling.
    softplus = [z + mpmath.log1p(mpmath.exp(-z)) if z > 0 else mpmath.log1p(mpmath.exp(z))
                for z in (w[0] * x[0] + w[1] * x[1] + b for x, _ in samples)]
    expected = sum(softplus) / 2
    d = derive(Neuron(weights=["3", "-2"], bias="1", activation="sigmoid", loss="bce"),
               [Sample(x=["2", "1"], y="0"), Sample(x=["-1", "0.5"], y="0")],
               learning_rate="1e6")
    assert abs(mpmath.mpf(numeric(d.loss_after.value, 30)._mpf_) / expected - 1) < 1e-25
    assert round(float(expected), 2) == 97484.84


@pytest.mark.parametrize("x, told", [
    # the change, 10^-2126 of the loss, lies past 50 digits: not "from x to x"
    (49, "went down, by too little for 50 significant digits to show: ${shown}$ before "
         "the step, ${shown}$ after it"),
    (490, "is ${shown}$ before and after to every digit carried")])
def test_absolute_error_far_in_the_tail_is_told_truly(x, told):
    """mae of σ(100x + 0.1) against 1: the loss 1 − σ (≈ 3.365·10^-21281 at x = 490) is
    those digits (it read 3.025·10^-123), and the step, which moves z up by about
    10^-2126 (10^-21278), lowers it: the text says so when the digits carried tell (it
    said the step overshot), and that the loss is the same to every digit carried when
    they do not."""
    expected = mpmath.nstr(1 / (1 + mpmath.exp(100 * x + mpmath.mpf("0.1"))), 4)
    mantissa, exponent = expected.split("e")
    shown = rf"\approx {mantissa} \cdot 10^{{{int(exponent)}}}"
    text = worked_example(Neuron(weights=100, bias="0.1", activation="sigmoid", loss="mae"),
                          [Sample(x=x, y=1)]).to_markdown()
    assert f"The loss is ${shown}$." in text
    assert "The loss " + told.replace("{shown}", shown) in text


def test_loss_changes_are_told_by_enough_bits():
    """change() gives the true sign of a difference hidden under nested cancellation, a
    clear difference whose parts alone run out of bits, and 0 for equal values written
    differently (evalf guessed at random for some of them)."""
    from sympy import Integer, Rational, cosh, exp, log, pi, tanh
    from symgrad.maths.working import change

    q, e = Rational(1234, 5678), Rational(1, 2**50)
    for d in (Rational(1, 2**200), Rational(1, 2**210)):  # mpmath at 2000 bits: > 0
        assert change(pi * (exp(q) - exp(q - e)), pi * (exp(q + d) - exp(q - e + d))) == 1
    assert change(Integer(3), -log(1 / (1 + exp(-10**6)))) == -1  # after ≈ 3.3e-434295
    # Each side far in a tail: their difference is not tanh(20000) - tanh(19999), which
    # no number of bits tells apart, but e^-39998·(…) worked side by side.
    assert change(1 - 1 / (1 + exp(-Integer(30000))), 1 - 1 / (1 + exp(-Integer(29999)))) == 1
    assert change(1 - tanh(Integer(20000)), 1 - tanh(Integer(19999))) == 1
    u = Rational(827037, 20)
    assert change(1 - tanh(u) ** 2, 1 - tanh(u - Rational(1, 10**10)) ** 2) == 1
    assert change(log(6), log(2) + log(3)) == 0
    assert change(1 - tanh(3) ** 2, 1 / cosh(3) ** 2) == 0


def _softplus(x):
    return mpmath.log1p(mpmath.exp(x))


def test_named_activations_far_in_the_tail_keep_their_digits():
    """A softplus-softplus-tanh network with mae, its tanh at z ≈ 33820: the named tanh
    value carries about 60 digits, all 9s, so 1 − a and 1 − a² are worked from its
    definition. They read 8.767·10^-193 (the carried digits' noise), and the gradients
    came out with the wrong sign, so the text said every update lowered the parameters
    when each step raises them."""
    network = Network(layers=[Layer([[2, 1]], ["0.5"], "softplus"),
                              Layer([["1.5"]], ["0.25"], "softplus"),
                              Layer([[7000]], [0], "tanh")], loss="mae")
    samples = [Sample(x=[1, "0.5"], y=[1])]
    d = derive(network, samples, learning_rate="0.1")
    a1 = _softplus(2 + mpmath.mpf("0.5") + mpmath.mpf("0.5"))
    a2 = _softplus(mpmath.mpf("1.5") * a1 + mpmath.mpf("0.25"))
    u = 7000 * a2
    loss, slope = 2 / (1 + mpmath.exp(2 * u)), 1 / mpmath.cosh(u) ** 2
    assert abs(mpmath.mpf(numeric(d.loss.value, 30)._mpf_) / loss - 1) < 1e-25
    # dL/db3 = sign(a - 1)·(1 − a²) = −1/cosh(u)²
    db3 = d.gradients[d.parameter_names.index("b3_1")].value
    assert abs(mpmath.mpf(numeric(db3, 30)._mpf_) / -slope - 1) < 1e-25
    text = worked_example(network, samples, learning_rate="0.1").to_markdown()
    shown = mpmath.nstr(loss, 4).split("e")
    told = rf"\approx {shown[0]} \cdot 10^{{{int(shown[1])}}}"
    # The step lowers the loss by a share of about 10^-29368: beyond the 60 digits carried.
    assert f"The loss is ${told}$ before and after to every digit carried" in text
    assert "is positive" not in text and "decreases $" not in text


def test_named_sigmoid_in_the_tail_keeps_its_cross_entropy():
    """An identity layer feeding a sigmoid at z = 3000 with cross-entropy and y = 1: the
    loss −log a = log(1 + e^-3000) ≈ 2.0·10^-1303, worked from the named sigmoid's
    definition (its carried digits say a = 1 and the loss 0)."""
    network = Network(layers=[Layer([[1000, 1000, 1000]], [0], "identity"),
                              Layer([[1]], [0], "sigmoid")], loss="bce")
    d = derive(network, [Sample(x=[1, 1, 1], y=[1])], learning_rate="0.1")
    expected = mpmath.log1p(mpmath.exp(-3000))
    assert abs(mpmath.mpf(numeric(d.loss.value, 30)._mpf_) / expected - 1) < 1e-25
    db2 = d.gradients[d.parameter_names.index("b2_1")].value  # σ(z) − 1 = −1/(1 + e^z)
    assert abs(mpmath.mpf(numeric(db2, 30)._mpf_) / (-1 / (1 + mpmath.exp(3000))) - 1) < 1e-25


def test_named_output_by_one_is_worked_again_from_its_definition():
    """A softsign output 1 − 5·10^-78 has no tail form and carries 60 digits, all 9s: the
    sum 1 − a that cross-entropy needs works the named value again with more bits (it
    refused the problem as saturated, blaming a sigmoid it did not have)."""
    network = Network(layers=[Layer([[1000, 1000]], [0], "identity"),
                              Layer([[10**74]], [0], "softsign")], loss="bce")
    d = derive(network, [Sample(x=[1, 1], y=[1])])
    z = 2000 * mpmath.mpf(10) ** 74
    expected = mpmath.log1p(1 / z)  # −log(z/(1 + z))
    assert abs(mpmath.mpf(numeric(d.loss.value, 30)._mpf_) / expected - 1) < 1e-25


def test_named_values_are_worked_again_where_their_sums_cancel():
    """Named values carry 60 digits; a sum that cancels more of them is worked again from
    the definitions. Each case printed noise before: a softmax's cross-entropy at
    a ≈ 1 − 10^-259 (it read 4.217e-81), an identity output after a saturated tanh minus
    its target 1 (the loss after read 0), and a loss beside a target equal to ŷ to 55
    digits, which went down by a share of 7.5·10^-30 (the text said it did not go down)."""
    a1 = _softplus(mpmath.mpf("1.5"))
    softmax = Network(layers=[Layer([[1]], ["0.5"], "softplus"),
                              Layer([["1.5"]], ["0.25"], "tanh"),
                              Layer([[300], [-300]], [0, 0], "softmax")], loss="cross_entropy")
    d = derive(softmax, [Sample(x=[1], y=[1, 0])])
    a2 = mpmath.tanh(mpmath.mpf("1.5") * a1 + mpmath.mpf("0.25"))
    expected = mpmath.log1p(mpmath.exp(-600 * a2))  # −log of the softmax's first output
    assert abs(mpmath.mpf(numeric(d.loss.value, 30)._mpf_) / expected - 1) < 1e-25

    identity = Network(layers=[Layer([[1]], ["0.5"], "softplus"), Layer([[60]], [0], "tanh"),
                               Layer([[1]], [0], "identity")], loss="squared")
    d = derive(identity, [Sample(x=[1], y=[1])])
    w1, b1, w2, w3 = mpmath.mpf(1), mpmath.mpf("0.5"), mpmath.mpf(60), mpmath.mpf(1)
    b2 = b3 = mpmath.mpf(0)
    a1 = _softplus(w1 + b1)
    a2 = mpmath.tanh(w2 * a1 + b2)
    error = w3 * a2 + b3 - 1
    slope2 = 1 / mpmath.cosh(w2 * a1 + b2) ** 2
    d3 = 2 * error  # backward pass, then one step of α = 0.1
    d2 = d3 * w3 * slope2
    d1 = d2 * w2 * (1 - 1 / (1 + mpmath.exp(w1 + b1)))
    w1, b1, w2, b2 = w1 - d1 / 10, b1 - d1 / 10, w2 - d2 * a1 / 10, b2 - d2 / 10
    w3, b3 = w3 - d3 * a2 / 10, b3 - d3 / 10
    after = (w3 * mpmath.tanh(w2 * _softplus(w1 + b1) + b2) + b3 - 1) ** 2
    assert abs(mpmath.mpf(numeric(d.loss_after.value, 30)._mpf_) / after - 1) < 1e-20

    near = Network(layers=[Layer([[1]], ["0.5"], "tanh"), Layer([["1.5"]], ["0.25"], "tanh"),
                           Layer([["0.75"]], ["0.125"], "identity")], loss="squared")
    target = "0.8171170579235788949954424310533132632536901789474126881"
    text = worked_example(near, [Sample(x=[1], y=[target])], learning_rate="1e-30").to_markdown()
    assert ("The loss went down from $\\approx 9.55779822299680356788135524014 \\cdot "
            "10^{-112}$ to $\\approx 9.55779822299680356788135524007 \\cdot 10^{-112}$") in text


def test_gelu_far_in_its_tail_keeps_its_normal_cdf():
    """GELU at z = −140: the slope Φ(z) + z·φ(z) flattens to 1/2 + erf(z/√2)/2 + z·φ(z),
    whose first two terms are erfc(−z/√2)/2 ≈ 10^-4260: worked as that, the gradient is
    2.9998·10^-8511 (it was 0, with "every gradient is zero", after three minutes), and
    in a chain of 250 GELUs at z ≈ −140 no gradient loses Φ (they were 1/z² off)."""
    example = worked_example(Neuron(weights="-140", bias=0, activation="gelu"),
                             [Sample(x=1, y=0)])
    z = mpmath.mpf(-140)
    cdf, density = mpmath.erfc(-z / mpmath.sqrt(2)) / 2, mpmath.npdf(z)
    expected = 2 * z * cdf * (cdf + z * density)  # 2ŷ·f'(z)·x with y = 0, x = 1
    got = numeric(example.derivation.gradients[0].value, 30)
    assert abs(mpmath.mpf(got._mpf_) / expected - 1) < 1e-25
    assert "every gradient is zero" not in example.to_markdown()
    # With y = 1 the loss (ŷ − 1)² ≈ 1 + 2.8·10^-4258 moves by a share of about 10^-8500:
    # told as the same to every digit carried (SymPy's evaluation of it, the other way,
    # asked evalf for erf at thousands of digits and did not finish in minutes).
    text = worked_example(Neuron(weights="-140", bias=0, activation="gelu"),
                          [Sample(x=1, y=1)]).to_markdown()
    assert "The loss is $\\approx 1.000$ before and after to every digit carried" in text

    network = Network(layers=[Layer([[-30]], [0], "gelu") for _ in range(250)], loss="squared")
    d = derive(network, [Sample(x=[1], y=[0])])
    z, inputs, slopes = mpmath.mpf(1), [], []
    for _ in range(250):  # forward: each layer's input and its GELU slope at z = −30·input
        inputs.append(z)
        u = -30 * z
        cdf = mpmath.erfc(-u / mpmath.sqrt(2)) / 2
        slopes.append(cdf + u * mpmath.npdf(u))
        z = u * cdf
    delta = 2 * z  # dL/dŷ, then back through each layer: δ_l = upstream·f'(z_l)
    expected = {}
    for layer in range(250, 0, -1):
        delta *= slopes[layer - 1]
        expected[f"b{layer}_1"] = delta
        delta *= -30
    for name, value in expected.items():
        got = mpmath.mpf(numeric(d.gradients[d.parameter_names.index(name)].value, 30)._mpf_)
        assert abs(got / value - 1) < 1e-20, name


def test_a_gradient_exactly_zero_through_named_values_is_zero():
    """Equal weights into a softmax with cross-entropy: every hidden gradient is exactly 0,
    since Σ_k w·(a_k − y_k) = w·(Σa − 1). Worked from named values, it came out as
    rounding, ≈ 1.3·10^-82 with a sign and a sentence about which way to turn w."""
    network = Network(layers=[
        Layer([["0.3", "0.1"], ["-0.2", "0.6"]], ["0.05", "-0.1"], "tanh"),
        Layer([["0.5", "-0.3"], ["0.2", "0.4"]], ["0.1", "0.2"], "sigmoid"),
        Layer([["0.5", "0.5"]] * 3, ["0.1", "0.2", "0.3"], "softmax")], loss="cross_entropy")
    d = derive(network, [Sample(x=[1, 2], y=[0, 1, 0])])
    hidden = [g for g in d.gradients if g.layer < 3]
    assert len(hidden) == 12 and all(g.sign == 0 for g in hidden)
    assert all(numeric(g.value, 20) == 0 for g in hidden)


def test_a_softmax_loss_past_two_thousand_bits_is_not_told_as_zero():
    """A softmax at z = ±1500 with cross-entropy: the loss −log(a_1) ≈ 3.6·10^-652 is read
    from named values after the step, and needs about 2200 bits beside the 1 it sits
    next to. It printed ≈ 0, with "the loss went down ... to ≈ 0"."""
    network = Network(layers=[Layer([[1500, 0], [0, 0], [-1500, 0]], [0, 0, 0], "softmax")],
                      loss="cross_entropy")
    example = worked_example(network, [Sample(x=[1, 0], y=1)])
    z = [mpmath.mpf(1500), mpmath.mpf(0), mpmath.mpf(-1500)]
    total = sum(mpmath.exp(v) for v in z)
    delta = [mpmath.exp(v) / total - y for v, y in zip(z, (1, 0, 0))]
    # dL/dw_j1 = dL/db_j = δ_j (x = (1, 0)): one step of α = 0.1 moves z_j by -0.2·δ_j
    after = [v - delta[j] / 5 for j, v in enumerate(z)]
    expected = mpmath.log1p(mpmath.exp(after[1] - after[0]) + mpmath.exp(after[2] - after[0]))
    got = mpmath.mpf(numeric(example.derivation.loss_after.value, 30)._mpf_)
    assert abs(got / expected - 1) < 1e-25
    assert ("The loss is $\\approx 3.616 \\cdot 10^{-652}$ before and after to every digit "
            "carried") in example.to_markdown()
