"""Tests of symgrad.maths.model: exact numbers and the frozen problem description."""

import dataclasses

import pytest
from sympy import Rational

from symgrad.errors import NumberError, ShapeError
from symgrad.maths.model import Given, Neuron, Sample, decimal, exact


@pytest.mark.parametrize("text, expected", [
    ("0.1", Rational(1, 10)), ("2.0", Rational(2)), ("-0.8", Rational(-4, 5)),
    ("1/3", Rational(1, 3)), ("1e-3", Rational(1, 1000)), (".5", Rational(1, 2)),
    (0.1, Rational(1, 10)), (3, Rational(3)), ("  7 ", Rational(7)),
    ("\N{MINUS SIGN}2.5e-3", Rational(-1, 400)), ("\N{MINUS SIGN}2/3", Rational(-2, 3)),
])
def test_exact_reads_decimals_and_fractions(text, expected):
    """Text and floats become the exact rational a teacher means."""
    assert exact(text) == expected


@pytest.mark.parametrize("bad, message", [
    ("nan", "finite"), ("inf", "finite"), ("-Infinity", "finite"), (float("nan"), "finite"),
    ("1e999999", "out of range"), ("", "empty"), ("abc", "must be a number"),
    ("1/0", "divides by zero"), ("2*3", "must be a number"), ("__import__('os')", "number"),
    (True, "must be a number"), (None, "must be a number"),
    ("\N{ARABIC-INDIC DIGIT TWO}", "must be a number"),
    ("\N{FULLWIDTH DIGIT TWO}", "must be a number"),
    ("1/\N{ARABIC-INDIC DIGIT TWO}", "must be a number"), ("1" * 5000, "out of range"),
    pytest.param(10**5000, "out of range", id="5000-digit-int"), ("1/" + "1" * 200, "out of range"),
])
def test_exact_rejects_bad_numbers(bad, message):
    """Non-numbers, NaN, infinities, absurd exponents or lengths and non-ASCII digits raise
    NumberError naming the value."""
    with pytest.raises(NumberError, match=message):
        exact(bad, "x")


def test_neuron_is_frozen_and_exact():
    """A Neuron keeps exact tuples and cannot be changed after creation."""
    neuron = Neuron(weights=["0.5", "-0.25"], bias="0.1")
    assert neuron.weights == (Rational(1, 2), Rational(-1, 4))
    assert neuron.parameter_names == ("w1", "w2", "b")
    with pytest.raises(dataclasses.FrozenInstanceError):
        neuron.bias = 1


def test_neuron_without_bias_has_only_weights():
    """bias=None removes b from the parameters."""
    neuron = Neuron(weights=0.5, bias=None)
    assert neuron.parameter_names == ("w",)
    assert neuron.parameters == (Rational(1, 2),)


def test_sample_needs_inputs():
    """An empty input list is a ShapeError."""
    with pytest.raises(ShapeError):
        Sample(x=[], y=1)


@pytest.mark.parametrize("value, digits, text, exact", [
    (Rational(33, 50), 4, "0.66", True), (Rational(-4, 5), 4, "-0.8", True),
    (Rational(1, 3), 4, "0.3333", False), (Rational(2, 3), 2, "0.67", False),
    (Rational(1, 2**40), 4, "9.095e-13", False), (Rational(10**20), 4, "1.000e+20", False),
])
def test_decimal_display(value, digits, text, exact):
    """Terminating decimals print exactly; others round to the given significant digits."""
    assert decimal(value, digits) == (text, exact)


def test_givens_of_same_named_values_keep_their_own_numbers():
    """Two derivations may both name a value a2_1__3: the numbers put into their formulas
    stay apart (a cached Given once showed the other derivation's number)."""
    from sympy import Add, Mul
    from symgrad.maths.model import Defined
    first, second = Defined("a2_1__3", Rational(1, 3)), Defined("a2_1__3", Rational(2, 3))
    one, two = Given(first), Given(second)
    assert one != two and one.value is first and two.value is second
    assert Mul(two, Add(1, -two)).atoms(Given) == {two}
