"""Frozen descriptions of a problem: a neuron, its samples, and exact numbers.

Every number is kept as an exact SymPy ``Rational``: text such as ``"0.1"``
becomes ``1/10`` so that ``0.5 - 0.1*(-1.6)`` is exactly ``0.66``.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from fractions import Fraction

import mpmath
from mpmath import libmp
from sympy import (Abs, Add, Expr, Float, Max, Min, Mul, Pow, Rational, S, Symbol, cosh, erf, exp,
                   log, sign, sinh, tanh)
from sympy.core.evalf import PrecisionExhausted
from sympy.core.sympify import _sympify

from ..errors import NumberError, ShapeError, choose

__all__ = ["exact", "decimal", "latex_decimal", "whole_number", "absolute_tolerance", "Given",
           "Defined", "numeric", "digits_of", "closer_by_digits", "DIGITS_ERROR", "PRECISION",
           "Neuron", "Sample", "Layer", "Network", "Optimizer", "OPTIMIZERS", "seed_neuron",
           "seed_samples"]

# Decimal or fraction, optional exponent; anything else is not a number to us. ASCII digits
# only: \\d and int() would take Arabic-Indic or full-width digits too.
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?(/[+-]?[0-9]+)?")
# The minus sign of typeset text (U+2212) is read as '-'.
_MINUS = str.maketrans({"\N{MINUS SIGN}": "-"})
# Exponents beyond this are typos (1e999999), not lesson numbers.
_MAX_EXPONENT = 30
# Longer number texts are typos too; int() would refuse beyond 4300 digits with a traceback.
MAX_NUMBER_LENGTH = 100
# A terminating decimal longer than this is shown rounded, like any other value.
MAX_EXACT_DIGITS = 12
# Most significant digits a rounded value may be shown with.
MAX_DIGITS = 50


def exact(value, name: str = "value") -> Rational:
    """Turn text, an int, a float or a Rational into an exact ``Rational``.

    Floats are read through their shortest repr, so ``0.1`` means ``1/10``.

    >>> exact("0.1"), exact(2.0), exact("1/3"), exact("\N{MINUS SIGN}2.5e-3")
    (1/10, 2, 1/3, -1/400)
    """
    if isinstance(value, bool):
        raise NumberError(f"{name} must be a number, not {value!r}")
    if isinstance(value, Rational):
        return value
    if isinstance(value, int):
        if abs(value) >= 10**MAX_NUMBER_LENGTH:  # compared, not printed: str() has a limit
            raise NumberError(f"{name} is out of range; a number has at most "
                              f"{MAX_NUMBER_LENGTH} characters")
        text = str(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise NumberError(f"{name} must be a finite number, not {value!r}")
        text = repr(value)
    elif isinstance(value, Fraction):
        return Rational(value.numerator, value.denominator)
    elif isinstance(value, str):
        text = value.strip().replace("_", "").translate(_MINUS)
    else:
        raise NumberError(f"{name} must be a number, not {type(value).__name__} {value!r}")
    if not text:
        raise NumberError(f"{name} is empty; give a number such as 0.5 or 1/3")
    if len(text) > MAX_NUMBER_LENGTH:
        raise NumberError(f"{name} is out of range; a number has at most {MAX_NUMBER_LENGTH} "
                          f"characters, not {len(text)}")
    if text.lower().lstrip("+-") in {"nan", "inf", "infinity"}:
        raise NumberError(f"{name} must be a finite number, not {text!r}")
    match = _NUMBER.fullmatch(text)
    if match is None:
        raise NumberError(f"{name} must be a number such as 0.5, -2 or 1/3, not {text!r}")
    exponent = match.group(2)
    if exponent and abs(int(exponent[1:])) > _MAX_EXPONENT:
        raise NumberError(f"{name} = {text!r} is out of range; exponents must lie within "
                          f"±{_MAX_EXPONENT}")
    numerator, _, denominator = text.partition("/")
    result = Rational(Fraction(numerator))
    if denominator:
        if int(denominator) == 0:
            raise NumberError(f"{name} = {text!r} divides by zero")
        result /= int(denominator)
    return result


def _terminating(value: Rational) -> str | None:
    """``33/50`` -> ``"0.66"``; ``None`` when the decimal never ends or is too long."""
    q, twos, fives = value.q, 0, 0
    while q % 2 == 0:
        q, twos = q // 2, twos + 1
    while q % 5 == 0:
        q, fives = q // 5, fives + 1
    if q != 1:
        return None
    places = max(twos, fives)
    digits = str(abs(value.p) * 10**places // value.q).rjust(places + 1, "0")
    whole, fraction = digits[: len(digits) - places], digits[len(digits) - places:]
    if len(whole.lstrip("0") + fraction) > MAX_EXACT_DIGITS:
        return None
    text = f"{whole}.{fraction}" if places else whole
    return ("-" if value < 0 else "") + text


def decimal(value: Expr, digits: int = 4) -> tuple[str, bool]:
    """The decimal text of an exact value and whether that text is exact.

    >>> decimal(Rational(33, 50)), decimal(Rational(1, 3))
    (('0.66', True), ('0.3333', False))
    """
    if value.is_Rational:
        text = _terminating(value)
        if text is not None:
            return text, True
    if isinstance(value, Defined):  # shown several times (value, working, matrices)
        text = value._decimals.get(digits)
        if text is None:
            text = value._decimals[digits] = rounded(value, digits)
        return text, False
    return rounded(value, digits), False


def rounded(value: Expr, digits: int) -> str:
    approx = numeric(value, digits + 10)
    if not approx.is_Number:
        raise NumberError(f"cannot give a number for {value}")
    # Significant digits keep their trailing zeros (≈ 0.3400 has four, ≈ 0.34 two).
    text = mpmath.nstr(approx._to_mpmath(approx._prec), digits, strip_zeros=False,
                       min_fixed=-4, max_fixed=digits + 2)
    return text.replace(".e", "e").removesuffix(".")


def latex_decimal(text: str) -> str:
    """LaTeX of a decimal's text, its exponent as a power of ten.

    >>> latex_decimal("4.386e-4"), latex_decimal("0.66")
    ('4.386 \\\\cdot 10^{-4}', '0.66')
    """
    mantissa, _, exponent = text.partition("e")
    return rf"{mantissa} \cdot 10^{{{int(exponent)}}}" if exponent else mantissa


def whole_number(value, name: str, high: int) -> int:
    """``value`` when it is a whole number from 1 to ``high``, else a NumberError.

    >>> whole_number(4, "digits", 50)
    4
    """
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise NumberError(f"{name} must be a whole number from 1 to {high}, not {value!r}")
    return value


def absolute_tolerance(tolerance, value: Expr) -> Expr:
    """The absolute tolerance around ``value``: ``"1%"`` is relative to it, a number (or
    ``"0.01"``) is absolute. Negative tolerances are refused.

    >>> absolute_tolerance("1%", Rational(-8, 5)), absolute_tolerance("0.05", 3)
    (2/125, 1/20)
    """
    text = str(tolerance).strip()
    relative = text.endswith("%")
    amount = exact(text[:-1] if relative else tolerance, "tolerance")
    if amount < 0:
        raise NumberError(f"the tolerance must not be negative, not {text}")
    return amount / 100 * abs(value) if relative else amount


def _numbers(values, name: str) -> tuple[Rational, ...]:
    """An exact tuple from one number or an iterable of numbers."""
    if isinstance(values, (str, int, float, Rational, Fraction)):
        values = (values,)
    values = tuple(values)
    if not values:
        raise ShapeError(f"{name} needs at least one number")
    if len(values) == 1:
        return (exact(values[0], name),)
    return tuple(exact(v, f"{name}{i}") for i, v in enumerate(values, 1))


@dataclass(frozen=True, slots=True)
class Sample:
    """One training example: inputs ``x`` (one per weight) and the target ``y``
    (a tuple of targets for a network with several outputs).

    >>> Sample(x=2.0, y=1.5)
    Sample(x=(2,), y=3/2)
    """

    x: tuple[Rational, ...]
    y: Rational | tuple[Rational, ...]

    def __post_init__(self):
        object.__setattr__(self, "x", _numbers(self.x, "x"))
        several = isinstance(self.y, (list, tuple))
        object.__setattr__(self, "y", _numbers(self.y, "y") if several else exact(self.y, "y"))

    @property
    def targets(self) -> tuple[Rational, ...]:
        """``y`` as a tuple, one target per output."""
        return self.y if isinstance(self.y, tuple) else (self.y,)


@dataclass(frozen=True, slots=True)
class Neuron:
    """A neuron ``z = w·x + b``, ``ŷ = f(z)``, trained with a loss ``L(ŷ, y)``.

    ``bias=None`` means a neuron without bias.  ``slope`` is the leaky ReLU's
    slope for ``z ≤ 0``; ``delta`` is the Huber loss's threshold.

    >>> Neuron(weights=0.5, bias=0.1).weights
    (1/2,)
    """

    weights: tuple[Rational, ...]
    bias: Rational | None = Rational(0)
    activation: str | object = "identity"  # a registry name or a custom Activation
    loss: str = "squared"
    slope: Rational = field(default=Rational(1, 100))
    delta: Rational = field(default=Rational(1))

    def __post_init__(self):
        object.__setattr__(self, "weights", _numbers(self.weights, "w"))
        if self.bias is not None:
            object.__setattr__(self, "bias", exact(self.bias, "b"))
        object.__setattr__(self, "slope", exact(self.slope, "slope"))
        object.__setattr__(self, "delta", exact(self.delta, "delta"))
        if self.delta <= 0:
            raise NumberError(f"the Huber delta must be positive, not {self.delta}")

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """``('w', 'b')`` for one input, ``('w1', 'w2', 'b')`` for two."""
        n = len(self.weights)
        names = ("w",) if n == 1 else tuple(f"w{i}" for i in range(1, n + 1))
        return names + (("b",) if self.bias is not None else ())

    @property
    def parameters(self) -> tuple[Rational, ...]:
        """The weights, then the bias when there is one."""
        return self.weights + ((self.bias,) if self.bias is not None else ())

    def as_network(self) -> Network:
        """The same neuron as a network of one layer of width one.

        >>> Neuron(weights=[1, 2], bias=None).as_network().parameter_names
        ('w1_1_1', 'w1_1_2')
        """
        layer = Layer(weights=(self.weights,),
                      biases=None if self.bias is None else (self.bias,),
                      activation=self.activation)
        return Network(layers=(layer,), loss=self.loss, slope=self.slope, delta=self.delta)


@dataclass(frozen=True, slots=True)
class Layer:
    """A dense layer: ``weights[j][k]`` joins input k to neuron j; one bias per neuron
    (``biases=None``: no biases); one activation for the layer.

    >>> Layer(weights=[[0.1, 0.2], [0.3, 0.4]], biases=[0, 0]).width
    2
    """

    weights: tuple[tuple[Rational, ...], ...]
    biases: tuple[Rational, ...] | None = None
    activation: str | object = "sigmoid"

    def __post_init__(self):
        rows = tuple(_numbers(row, "w") for row in self.weights)
        if not rows or len({len(row) for row in rows}) != 1:
            raise ShapeError("a layer's weights are rows of equal length, one row per neuron")
        object.__setattr__(self, "weights", rows)
        if self.biases is not None:
            biases = _numbers(self.biases, "b")
            if len(biases) != len(rows):
                raise ShapeError(f"a layer of {len(rows)} neurons needs {len(rows)} biases, "
                                 f"not {len(biases)}")
            object.__setattr__(self, "biases", biases)

    @property
    def width(self) -> int:
        """How many neurons the layer has."""
        return len(self.weights)

    @property
    def inputs(self) -> int:
        """How many inputs each neuron takes."""
        return len(self.weights[0])


@dataclass(frozen=True, slots=True)
class Network:
    """A feed-forward network of dense layers and a loss over its outputs.

    The loss of one sample is the sum (``outputs="sum"``) or mean (``"mean"``) of
    the registry loss over the outputs; samples combine by the loss's own reduction.
    ``frozen`` names parameters (``b`` for every bias, ``layer2`` for a whole layer, or
    single names such as ``w1_12``) that keep their values.

    >>> Network(layers=[Layer([[0.5]], [0.1], "identity")]).parameter_names
    ('w1_1_1', 'b1_1')
    """

    layers: tuple[Layer, ...]
    loss: str = "squared"
    outputs: str = "sum"
    slope: Rational = field(default=Rational(1, 100))
    delta: Rational = field(default=Rational(1))
    frozen: tuple[str, ...] = ()

    def __post_init__(self):
        layers = tuple(self.layers)
        if not layers:
            raise ShapeError("a network needs at least one layer")
        for number, (before, after) in enumerate(zip(layers, layers[1:]), 2):
            if after.inputs != before.width:
                raise ShapeError(f"layer {number} takes {after.inputs} inputs but layer "
                                 f"{number - 1} has {before.width} neurons")
        if self.outputs not in ("sum", "mean"):
            raise ShapeError(f"outputs must be 'sum' or 'mean', not {self.outputs!r}")
        object.__setattr__(self, "layers", layers)
        object.__setattr__(self, "slope", exact(self.slope, "slope"))
        object.__setattr__(self, "delta", exact(self.delta, "delta"))
        if isinstance(self.frozen, (str, int, float)) or not hasattr(self.frozen, "__iter__"):
            raise ShapeError(f"frozen is a list of names such as ['b'], not {self.frozen!r}")
        groups = {"w", "b"} | {f"layer{n}" for n in range(1, len(layers) + 1)}
        frozen = []
        for name in self.frozen:
            found = name if name in groups else self.canonical(str(name))
            if found is None:
                raise ShapeError(f"cannot freeze {name!r}; freeze 'w', 'b', 'layer1'.. or a "
                                 f"parameter such as {self.parameter_names[0]!r}")
            frozen.append(found)
        object.__setattr__(self, "frozen", tuple(frozen))

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """``w{l}_{j}_{k}`` (layer l, neuron j, input k) and ``b{l}_{j}``, layer by layer,
        weights before biases: names that never collide, whatever the widths."""
        names = []
        for l, layer in enumerate(self.layers, 1):
            names += [f"w{l}_{j}_{k}" for j in range(1, layer.width + 1)
                      for k in range(1, layer.inputs + 1)]
            if layer.biases is not None:
                names += [f"b{l}_{j}" for j in range(1, layer.width + 1)]
        return tuple(names)

    @property
    def parameters(self) -> tuple[Rational, ...]:
        """The values in the order of :attr:`parameter_names`."""
        values = []
        for layer in self.layers:
            values += [w for row in layer.weights for w in row]
            values += list(layer.biases or ())
        return tuple(values)

    def canonical(self, name: str) -> str | None:
        """The parameter ``name`` means, or None: ``w2_3_10`` as it is, and the older
        two-digit form ``w1_12`` (= ``w1_1_2``) where it is unambiguous.

        >>> net = Network(layers=[Layer([[1, 2]], [0])])
        >>> net.canonical("w1_12"), net.canonical("w1_1_2"), net.canonical("w9_1_1")
        ('w1_1_2', 'w1_1_2', None)
        """
        known = self.parameter_names
        if name in known:
            return name
        old = _OLD_WEIGHT.fullmatch(name)
        if old:
            guess = f"w{old.group(1)}_{old.group(2)}_{old.group(3)}"
            return guess if guess in known else None
        return None

    def position(self, name: str) -> tuple[int, int, int | None]:
        """``w2_1_3`` -> (2, 1, 3): layer, neuron, input; a bias ``b2_1`` -> (2, 1, None)."""
        parts = [int(p) for p in name[1:].split("_")]
        return (parts[0], parts[1], parts[2] if name[0] == "w" else None)

    def is_frozen(self, name: str) -> bool:
        """Whether parameter ``name`` keeps its value."""
        layer = f"layer{self.position(name)[0]}"
        return name in self.frozen or name[0] in self.frozen or layer in self.frozen


# Each optimizer's settings and their defaults, as torch.optim documents them (RMSprop's
# smoothing constant, PyTorch's ``alpha``, is ``beta2`` here: α is the learning rate).
# momentum and nesterov are torch.optim.SGD with momentum (its default 0 would be plain SGD).
OPTIMIZERS = {
    "sgd": {},
    "momentum": {"momentum": Rational(9, 10)},
    "nesterov": {"momentum": Rational(9, 10)},
    "rmsprop": {"beta2": Rational(99, 100), "eps": Rational(1, 10**8)},
    "adam": {"beta1": Rational(9, 10), "beta2": Rational(999, 1000), "eps": Rational(1, 10**8)},
    "adamw": {"beta1": Rational(9, 10), "beta2": Rational(999, 1000), "eps": Rational(1, 10**8),
              "weight_decay": Rational(1, 100)},
}


@dataclass(frozen=True, slots=True)
class Optimizer:
    """How the update turns each gradient ``g`` into a step, with the update rules and
    defaults of ``torch.optim`` (https://docs.pytorch.org/docs/stable/optim.html):

    - ``sgd``: ``p ← p - α g``.
    - ``momentum`` (torch.optim.SGD, momentum μ, dampening 0): ``b ← μ b + g`` (b starts
      at 0, so the first b is g), ``p ← p - α b``; ``nesterov``: the same b, then
      ``p ← p - α (g + μ b)``. μ defaults to 0.9.
    - ``rmsprop`` (torch.optim.RMSprop, its ``alpha`` is ``beta2`` here, 0.99):
      ``v ← β₂ v + (1 - β₂) g²``, ``p ← p - α g / (√v + ε)``.
    - ``adam`` (torch.optim.Adam, betas (0.9, 0.999)): ``m ← β₁ m + (1 - β₁) g``,
      ``v ← β₂ v + (1 - β₂) g²``, ``m̂ = m / (1 - β₁ᵗ)``, ``v̂ = v / (1 - β₂ᵗ)``,
      ``p ← p - α m̂ / (√v̂ + ε)``.
    - ``adamw`` (torch.optim.AdamW, weight decay λ = 0.01): first ``p ← p - α λ p``
      (decoupled: the decay never enters m or v), then Adam's step.

    ε is 1e-8 for the last three. A setting the optimizer does not use is refused.

    >>> Optimizer("adam").beta2, Optimizer("momentum", momentum="0.5").momentum
    (999/1000, 1/2)
    """

    name: str = "sgd"
    momentum: Rational | None = None
    beta1: Rational | None = None
    beta2: Rational | None = None
    eps: Rational | None = None
    weight_decay: Rational | None = None

    def __post_init__(self):
        defaults = choose(OPTIMIZERS, self.name, "optimizer")
        for setting in ("momentum", "beta1", "beta2", "eps", "weight_decay"):
            value = getattr(self, setting)
            if value is None:
                object.__setattr__(self, setting, defaults.get(setting))
                continue
            if setting not in defaults:
                uses = ", ".join(defaults) or "no settings"
                raise NumberError(f"the {self.name} optimizer has no {setting}; it takes "
                                  f"{uses}")
            value = exact(value, setting)
            if setting == "eps" and value <= 0:
                raise NumberError(f"eps must be above 0, not {value}")
            if setting == "weight_decay" and value < 0:
                raise NumberError(f"the weight decay must not be negative, not {value}")
            if setting in ("momentum", "beta1", "beta2") and not 0 <= value < 1:
                raise NumberError(f"{setting} must be at least 0 and below 1, not {value}")
            object.__setattr__(self, setting, value)

    @property
    def settings(self) -> tuple[tuple[str, Rational], ...]:
        """The settings this optimizer uses, with their values, in a fixed order."""
        return tuple((setting, getattr(self, setting)) for setting in
                     ("momentum", "beta1", "beta2", "eps", "weight_decay")
                     if getattr(self, setting) is not None)


# The older weight names: one digit each for the neuron and the input (w1_12).
_OLD_WEIGHT = re.compile(r"w([0-9]+)_([1-9])([1-9])")


def seed_neuron() -> Neuron:
    """The neuron of the built-in example: w = 0.5, b = 0.1, no activation, squared loss."""
    return Neuron(weights="0.5", bias="0.1")


def seed_samples() -> tuple[Sample, ...]:
    """The sample of the built-in example: x = 2.0, y = 1.5."""
    return (Sample(x="2.0", y="1.5"),)


# Digits carried by the numeric side of a named exact value.
PRECISION = 60
# Bits a named value's number is carried with beyond PRECISION digits, so a later value
# that subtracts nearly equal numbers still has PRECISION correct digits.
_GUARD_BITS = 64
_BITS = libmp.dps_to_prec(PRECISION)


class Defined(Symbol):
    """A named exact value, such as the activation of a deep layer.

    Its ``definition`` is exact, in terms of numbers and earlier named values, so a
    deep network's exact values form a straight-line program of linear size instead
    of one expression that grows with every layer; ``approx`` holds it to
    PRECISION digits for display.  Its sign is known to SymPy, so ``Max(0, a)`` or a
    piecewise derivative at a named value takes the right branch.
    """

    __slots__ = ("definition", "approx", "serial", "_mpf", "_decimals", "_finer")
    _serials = itertools.count()

    def __new__(cls, name: str, definition: Expr):
        value = _mpf(definition, _BITS)
        if value is None:  # a node the fast evaluator does not know: SymPy's evalf
            approx = _numeric_evalf(definition, PRECISION)
            if not approx.is_Number or not approx.is_finite:
                raise NumberError(f"{name} = {definition} is not a number")
            value = approx._mpf_ if approx.is_Float else libmp.from_rational(
                approx.p, approx.q, _BITS + _GUARD_BITS, libmp.round_nearest)
        else:
            approx = Float._new(libmp.mpf_pos(value, _BITS, libmp.round_nearest), _BITS)
        signs = {"positive": True} if approx > 0 else {"negative": True} if approx < 0 else {}
        # Not SymPy's cached constructor: two derivations may both name a value "a1_1__1".
        defined = Symbol.__xnew__(cls, name, real=True, **signs)
        defined.definition = definition
        defined.approx = approx
        defined._mpf = value
        defined._decimals = {}
        defined._finer = {}
        defined.serial = next(cls._serials)
        return defined

    @classmethod
    def stand_in(cls, *, positive: bool | None, negative: bool | None) -> Defined:
        """A named value without a definition, of the given sign (True, False or None:
        unknown), that stands in for any named value of that sign while SymPy evaluates."""
        signs = {key: value for key, value in (("positive", positive), ("negative", negative))
                 if value is not None}
        stand_in = Symbol.__xnew__(cls, "value", real=True, **signs)
        stand_in.definition = stand_in.approx = stand_in._mpf = None
        stand_in._decimals = {}
        stand_in._finer = {}
        stand_in.serial = next(cls._serials)
        return stand_in

    def _hashable_content(self):
        return (self.name, self.serial)


# More bits are taken while cancellation eats the guard bits, up to this many (1 - σ(z)
# for z up to about 10,000); beyond it SymPy's evalf decides.
_MAX_BITS = 1 << 15
# The most bits a value with named values is worked with (its named values worked again
# from their definitions, each time more bits are taken): about 2,400 digits, past the
# tails a lesson shows beside their parts (a softmax's cross-entropy at z = ±1500 is
# 3.6·10^-652 beside 1; tanh's and σ's own go further, see _seen), and a few steps of work
# when the value is exactly 0 written two ways (a gradient beside sympy.diff of the
# composed loss), which no number of bits proves.
_MAX_NAMED_BITS = 1 << 13
# ... and a value with erf: mpmath's erfc of 99 takes 0.01 s at 2^12 bits, 0.1 s at 2^13,
# 3.6 s at 2^14 and about a minute at 2^15, which a far GELU tail's loss change would ask
# for in vain.
_MAX_ERF_BITS = 1 << 12
# evalf's own limit on the digits it may spend to tell a value from 0.
_EVALF_MAXN = (2000, 8000)


def numeric(value: Expr, digits: int = 15) -> Expr:
    """``value`` evaluated to ``digits`` digits, named exact values included; digits lost
    to cancellation (1 - σ(300) ≈ 5e-131) are won back by working with more, named values
    included, so a value far in a tail is still right to every digit shown.

    >>> from sympy import exp, log
    >>> numeric(-log(1 / (1 + exp(-300))), 4)
    5.148e-131
    """
    if isinstance(value, Defined):
        return value.approx.evalf(digits)
    if value.is_Rational:
        return value.evalf(digits)
    return _numeric(value, digits)


@lru_cache(maxsize=8192)
def _numeric(value: Expr, digits: int) -> Expr:
    """:func:`numeric` of an irrational value, worked out once per value and digits: a
    sheet's drawing, marking and rendering ask for the same values' digits many times."""
    bits = libmp.dps_to_prec(digits)
    found = _mpf_shared(value) if digits <= _SHARED_DIGITS else _mpf(value, bits)
    if found is None:
        return _numeric_evalf(value, digits)
    return Float._new(libmp.mpf_pos(found, bits, libmp.round_nearest), bits)


# Up to this many digits, numeric rounds one evaluation of a value (digits_of asks 40,
# the checks 30, the JSON 17, a display a few): the value's tree is walked once.
_SHARED_DIGITS = 40


@lru_cache(maxsize=8192)
def _mpf_shared(value: Expr):
    return _mpf(value, libmp.dps_to_prec(_SHARED_DIGITS))


# digits_of gives None for a value whose binary exponent is larger than this in size.
_MAX_FRACTION_EXPONENT = 3400
# digits_of(value) is within this share of |value| of the value.
DIGITS_ERROR = Fraction(1, 10 ** 35)


@lru_cache(maxsize=4096)
def digits_of(value: Expr) -> Fraction | None:
    """40 correct digits of an exact value, as a fraction (a rational as it is), for quick
    comparisons: it is within ``DIGITS_ERROR · |value|`` of the value. None for a value
    with named values (their digits are carried, not exact), one that is not real, or one
    beyond about 10^±1000 (callers then work exactly).

    >>> from sympy import sqrt
    >>> float(digits_of(sqrt(2))), digits_of(Rational(1, 3))
    (1.4142135623730951, Fraction(1, 3))
    """
    if value.is_Rational:
        return Fraction(int(value.p), int(value.q))
    if value.has(Defined):
        return None
    number = numeric(value, 40)
    if not number.is_Float:
        return None
    negative, mantissa, exponent, _ = number._mpf_
    if abs(exponent) > _MAX_FRACTION_EXPONENT:
        return None  # 10^±1000 and beyond: a fraction of thousands of digits, slower to use
    exact = Fraction(mantissa * 2 ** exponent) if exponent >= 0 else Fraction(
        mantissa, 2 ** -exponent)
    return -exact if negative else exact


def closer_by_digits(first: Fraction, second: Fraction, bound: Fraction) -> bool | None:
    """Whether ``|first - second| < bound`` for two values' :func:`digits_of`; None when
    the distance is within their error of the bound, where only exact work can tell.

    >>> closer_by_digits(Fraction(1), Fraction(3, 2), Fraction(1)), closer_by_digits(
    ...     Fraction(1), Fraction(2), Fraction(1))
    (True, None)
    """
    distance = abs(first - second)
    if abs(distance - bound) > (abs(first) + abs(second) + 1) * DIGITS_ERROR:
        return distance < bound
    return None


def _numeric_evalf(value: Expr, digits: int) -> Expr:
    """``numeric`` by SymPy's ``evalf`` (strict: more digits until the value is told
    apart from 0), named values put in as their approximations."""
    atoms = value.atoms(Defined)
    if atoms:
        value = value.xreplace({atom: atom.approx for atom in atoms})
    for maxn in _EVALF_MAXN:
        try:
            return value.evalf(digits, strict=True, maxn=maxn)
        except PrecisionExhausted:
            continue
    return value.evalf(digits)


def _erf(x, bits: int, rounding):
    """erf of an mpf: far from 0 as ±(1 - erfc(|x|)), which mpmath sums from its asymptotic
    series (erf(99) at 2^13 bits: 0.1 s, where its own series takes 0.8 s)."""
    if _magnitude(x) > 2:  # |x| ≥ 4
        rest = libmp.mpf_erfc(libmp.mpf_abs(x), bits + 8, rounding)
        one = libmp.mpf_sub(libmp.fone, rest, bits, rounding)
        return libmp.mpf_neg(one) if x[0] else one
    return libmp.mpf_erf(x, bits, rounding)


# The functions of activations and losses, evaluated by mpmath's low-level routines
# without building SymPy Floats: SymPy caches calls by argument, and Floats hash as
# doubles, so the many 60-digit values of a deep chain that agree to 16 digits collide.
_FUNCTIONS = {exp: libmp.mpf_exp, log: libmp.mpf_log, tanh: libmp.mpf_tanh, erf: _erf,
              Abs: lambda x, bits, rounding: libmp.mpf_abs(x),
              cosh: lambda x, bits, rounding: libmp.mpf_cosh_sinh(x, bits, rounding)[0],
              sinh: lambda x, bits, rounding: libmp.mpf_cosh_sinh(x, bits, rounding)[1]}


def _mpf(expr: Expr, bits: int, *, too_close=None):
    """``expr`` as an mpmath number good to ``bits`` bits, or None for a node this
    evaluator does not know or a non-real value. It works with guard bits and adds more
    while a sum (or a log near 1) loses more to cancellation than they cover, up to
    ``_MAX_BITS`` (then ``too_close``). Named values enter with the digits they carry, and
    are worked again from their definitions when a sum needs more (:func:`_finer`), up to
    ``_MAX_NAMED_BITS`` (with erf, ``_MAX_ERF_BITS``)."""
    work = bits + _GUARD_BITS
    most = None  # the bits this value may take, found at its first cancellation
    while True:
        try:
            value = _mpf_node(expr, work, work - bits)
        except _Cancelled as cancelled:
            if most is None:
                most = (_MAX_NAMED_BITS if expr.has(Defined) else
                        _MAX_ERF_BITS if expr.has(erf) else _MAX_BITS)
            if work >= most:
                # A value with named values that is still 0 beside its parts at 2^13 bits is
                # 0 to all of them (a gradient through equal weights into a softmax, which
                # is exactly 0; what is left is rounding, and would be shown with a sign);
                # evalf, the other way, would only redo it from the named values' 60 digits.
                return libmp.fzero if most == _MAX_NAMED_BITS and too_close is None \
                    else too_close
            work = min(most, work + cancelled.lost + _GUARD_BITS)
            continue
        except (_Unknown, ZeroDivisionError, ValueError, libmp.ComplexResult):
            return None
        # Infinities and nan (log 0) are SymPy's to name (zoo, nan) and refuse.
        return None if value in (libmp.finf, libmp.fninf, libmp.fnan) else value


def sign_by_bits(value: Expr) -> int | None:
    """-1 or 1 for a real value told apart from 0 with up to ``_MAX_BITS`` bits; 0 for a
    difference (a sum) whose terms are known to those bits and cancel to 0 at all of them;
    None when this evaluator cannot tell (SymPy's to decide). The difference of two
    losses far in a tail needs more digits than evalf spends, which then guesses.

    >>> from sympy import exp
    >>> sign_by_bits(exp(-5000) - exp(-5000 - Rational(1, 10**2000)))
    1
    """
    if isinstance(value, Add) and value.has(Defined):
        return _carried_sign(value)
    found = _mpf(value, _SIGN_BITS, too_close=libmp.fzero)
    if found is None:
        return None
    if found == libmp.fzero and not (isinstance(value, Add) and all(
            _mpf(term, _SIGN_BITS) is not None for term in value.args)):
        return None  # a part of the value, not the difference, ran out of bits
    return 0 if found == libmp.fzero else (-1 if found[0] else 1)


def _carried_sign(value: Add) -> int | None:
    """:func:`sign_by_bits` of a sum with named values, which are right to PRECISION
    digits: 0 when its terms cancel to below those digits (the same to every digit
    carried). Telling them apart further would work every named value under them again,
    at up to 2^13 bits, for two losses that differ by less than a share of 10^-57."""
    terms = [_mpf(term, _BITS) for term in value.args]
    if any(term is None for term in terms):
        return None
    total = libmp.mpf_sum(terms, _CARRIED_BITS, libmp.round_nearest)
    largest = max((_magnitude(t) for t in terms if t != libmp.fzero), default=None)
    if total == libmp.fzero or largest - _magnitude(total) > _BITS - 8:
        return 0
    return -1 if total[0] else 1


# The bits sign_by_bits asks for: the guard bits of each node cover its own cancellation,
# these cover what cancelling nodes under it (exp(q) - exp(q - ε)) leave as noise.
_SIGN_BITS = 128


def _one_plus(expr: Add) -> Expr | None:
    """``t`` for a sum ``1 + t`` of two terms, else None."""
    if len(expr.args) != 2 or S.One not in expr.args:
        return None
    return expr.args[0] if expr.args[1] is S.One else expr.args[1]


def _tail_form(expr: Add) -> tuple | None:
    """``(c, kind, argument, rest)`` for a sum holding a saturated activation's complement
    ``c·(1 + k·core)`` that :func:`_saturated_tail` works without cancelling (``rest``:
    the sum's other terms, as GELU's slope Φ(z) + z·φ(z) flattens to 1/2 + erf(u)/2 +
    z·φ(z)), else None. Kinds: ``tanh+`` or ``tanh-`` (1 ± tanh(u), argument u), ``sech2``
    (1 - tanh(u)², u), ``sigmoid-`` (1 - 1/(1 + t), t) or ``erfc`` (1 ± erf(u) =
    erfc(∓u), ∓u). c is rational: squared error's 2(ŷ - 1) is -2 + 2ŷ, and GELU's Φ(z) is
    1/2 + erf(z/√2)/2 once SymPy multiplies the half in."""
    constants = [arg for arg in expr.args if arg.is_Rational]
    if len(constants) != 1 or constants[0] == 0:
        return None
    constant = constants[0]
    for other in expr.args:
        if other is constant:
            continue
        form = _complement(constant, other)
        if form is not None:
            rest = tuple(arg for arg in expr.args if arg is not constant and arg is not other)
            return (constant, *form, rest)
    return None


def _complement(constant: Expr, other: Expr) -> tuple | None:
    """``(kind, argument)`` of :func:`_tail_form` for the two terms ``constant + other``."""
    core, coefficient = other, S.One
    if isinstance(other, Mul) and len(other.args) == 2 and other.args[0].is_Rational:
        coefficient, core = other.args
    if abs(coefficient) != abs(constant):
        return None
    k = 1 if coefficient == constant else -1
    core = _seen(core)
    if isinstance(core, tanh):
        return "tanh+" if k > 0 else "tanh-", core.args[0]
    if isinstance(core, erf):
        return "erfc", -core.args[0] if k > 0 else core.args[0]
    if (k < 0 and isinstance(core, Pow) and core.args[1] == 2
            and isinstance(_seen(core.args[0]), tanh)):
        return "sech2", _seen(core.args[0]).args[0]
    if (k < 0 and isinstance(core, Pow) and core.args[1] is S.NegativeOne
            and isinstance(core.args[0], Add) and _one_plus(core.args[0]) is not None):
        return "sigmoid-", _one_plus(core.args[0])
    return None


def _seen(expr: Expr) -> Expr:
    """A named value's definition, else ``expr``: a deep network names its activations,
    whose carried digits (about 260 bits) say 1 for tanh(30000) or σ(300), so their
    complements are worked from the definition, never from those digits."""
    return expr.definition if isinstance(expr, Defined) and expr.definition is not None else expr


def _saturated_tail(expr: Add, bits: int, guard: int):
    """A sum of :func:`_tail_form` worked in a form that does not cancel, else None. Far in
    the tail (σ at z = 2·10^5) the sum is 1 - (1 - 10^-84674): the subtraction would need
    84,674 digits, while ``t/(1 + t)`` or ``2/(1 + e^2u)`` gives every digit from the small
    term itself."""
    form = _tail_form(expr)
    if form is None:
        return None
    constant, kind, argument, rest = form
    rounding = libmp.round_nearest
    value = _mpf_node(argument, bits, guard)
    if kind in ("tanh+", "tanh-"):
        # 1 ± tanh(u) = 2/(1 + e^(∓2u)).
        twice = libmp.mpf_shift(value, 1)
        below = libmp.mpf_add(libmp.fone, libmp.mpf_exp(
            twice if kind == "tanh-" else libmp.mpf_neg(twice), bits, rounding), bits, rounding)
        found = libmp.mpf_div(libmp.from_int(2), below, bits, rounding)
    elif kind == "erfc":
        found = libmp.mpf_erfc(value, bits, rounding)
    elif kind == "sech2":
        # 1 - tanh(u)² = 1/cosh(u)².
        cosh_u, _ = libmp.mpf_cosh_sinh(value, bits, rounding)
        found = libmp.mpf_div(libmp.fone, libmp.mpf_mul(cosh_u, cosh_u, bits, rounding), bits,
                              rounding)
    else:
        # 1 - 1/(1 + t) = t/(1 + t): 1 - σ(z) is e^-z/(1 + e^-z).
        found = libmp.mpf_div(value, _sum([libmp.fone, value], bits, guard), bits, rounding)
    tail = libmp.mpf_mul(_mpf_node(constant, bits, guard), found, bits, rounding)
    if not rest:
        return tail
    return _sum([tail, *(_mpf_node(arg, bits, guard) for arg in rest)], bits, guard)


def _log_one_plus(t, bits: int, guard: int):
    """log(1 + t) for an mpf t: for t below the last bit of 1 + t (softplus far in its
    tail, log(1 + e^-3000000)), t itself (the rest of t - t²/2 + … is below it), else the
    log of 1 + t worked with the bits its nearness to 1 takes."""
    if t != libmp.fzero and _magnitude(t) < -bits:
        return t
    _check_near_one(t, bits, guard)
    return libmp.mpf_log(_sum([libmp.fone, t], bits, guard), bits, libmp.round_nearest)


def _check_near_one(offset, bits: int, guard: int) -> None:
    """Raise _Cancelled for the log of 1 + ``offset`` when the offset is so small that the
    argument's rounding error is the result's size."""
    lost = bits if offset == libmp.fzero else -_magnitude(offset)
    if lost > guard - 8:
        raise _Cancelled(lost)


def _log_tail(inner: Expr, bits: int, guard: int):
    """log of ``1 + t``, of ``1/(1 + t)`` (log σ) or of ``1 - 1/(1 + t)`` (log(1 - σ) =
    -log(1 + 1/t)), worked as log(1 + small) without cancelling, else None."""
    inner = _seen(inner)
    if isinstance(inner, Add):
        form = _tail_form(inner)
        if form is not None and form[0] is S.One and form[1] == "sigmoid-" and not form[3]:
            t = _mpf_node(form[2], bits, guard)
            return libmp.mpf_neg(_log_one_plus(
                libmp.mpf_div(libmp.fone, t, bits, libmp.round_nearest), bits, guard))
        small = _one_plus(inner)
        if small is not None and form is None:
            return _log_one_plus(_mpf_node(small, bits, guard), bits, guard)
    if (isinstance(inner, Pow) and inner.args[1] is S.NegativeOne
            and isinstance(inner.args[0], Add) and _one_plus(inner.args[0]) is not None):
        return libmp.mpf_neg(_log_one_plus(_mpf_node(_one_plus(inner.args[0]), bits, guard),
                                           bits, guard))
    return None


# The bits a named value's number is worked with when it is named (PRECISION digits and
# the guard bits): a sum of named values that needs more works them again (_finer).
_CARRIED_BITS = _BITS + _GUARD_BITS


def _finer(defined: Defined, bits: int, guard: int):
    """A named value worked from its definition with ``bits`` bits, as if it were written
    out there, the named values under it too (each once per precision, deepest first and
    without recursion: a deep chain has thousands). Its carried digits would leave only
    noise where a sum cancels them (a loss beside a target equal to 50 digits)."""
    if bits not in defined._finer:
        order, seen, stack = [], set(), [(defined, False)]
        while stack:
            value, below_done = stack.pop()
            if below_done:
                order.append(value)
            elif value not in seen and bits not in value._finer:
                seen.add(value)
                stack.append((value, True))
                stack.extend((inner, False) for inner in value.definition.atoms(Defined)
                             if inner.definition is not None)
        for value in order:
            if len(value._finer) > 4:
                value._finer.clear()  # a few precisions at a time, not every one tried
            value._finer[bits] = _mpf_node(value.definition, bits, guard)
    return defined._finer[bits]


class _Unknown(Exception):
    """A node ``_mpf`` leaves to SymPy's evalf."""


class _Cancelled(Exception):
    """A sum lost more bits to cancellation than the guard bits cover (``lost`` of them)."""

    def __init__(self, lost: int):
        super().__init__(lost)
        self.lost = lost


def _magnitude(value) -> int:
    """About log2 |value| of an mpf (exponent plus bit count)."""
    return value[2] + value[3]


def _sum(terms: list, bits: int, guard: int):
    """The sum of mpf ``terms``, raising _Cancelled when it lost more bits than ``guard``
    spares."""
    total = libmp.mpf_sum(terms, bits, libmp.round_nearest)
    largest = max((_magnitude(t) for t in terms if t != libmp.fzero), default=None)
    if largest is not None:
        lost = bits if total == libmp.fzero else largest - _magnitude(total)
        if lost > guard - 8:
            raise _Cancelled(lost)
    return total


def _mpf_node(expr: Expr, bits: int, guard: int):
    """One node of ``_mpf``; ``guard`` is the bits to spare for cancellation."""
    rounding = libmp.round_nearest
    if isinstance(expr, Defined):
        if bits <= _CARRIED_BITS or expr.definition is None:
            return expr._mpf
        return _finer(expr, bits, guard)
    if expr.is_Rational:
        return libmp.from_rational(expr.p, expr.q, bits, rounding)
    if expr.is_Float:
        return expr._mpf_
    if expr is S.Pi:  # in GELU's slope, 1/√(2π)
        return libmp.mpf_pi(bits, rounding)
    kind = type(expr)
    if kind is Add:
        saturated = _saturated_tail(expr, bits, guard)
        if saturated is not None:
            return saturated
        return _sum([_mpf_node(arg, bits, guard) for arg in expr.args], bits, guard)
    if kind is Mul:
        result = libmp.fone
        for arg in expr.args:
            result = libmp.mpf_mul(result, _mpf_node(arg, bits, guard), bits, rounding)
        return result
    if kind is Pow:
        base, power = expr.args
        if power.is_Integer:
            return libmp.mpf_pow_int(_mpf_node(base, bits, guard), int(power), bits, rounding)
        return libmp.mpf_pow(_mpf_node(base, bits, guard), _mpf_node(power, bits, guard), bits,
                             rounding)
    if kind in (Max, Min):
        values = [_mpf_node(arg, bits, guard) for arg in expr.args]
        pick = libmp.mpf_gt if kind is Max else libmp.mpf_lt
        best = values[0]
        for value in values[1:]:
            if pick(value, best):
                best = value
        return best
    if kind is sign and len(expr.args) == 1:
        # The sign of a value tiny beside its parts (mae's |ŷ - y| with ŷ = σ(49000)):
        # worked to its first bits, not left to evalf, which can lose it to cancellation.
        found = _mpf_node(expr.args[0], bits, guard)
        if found == libmp.fzero:
            raise _Unknown  # an exact 0, or too small to tell from it: SymPy decides
        return libmp.fnone if found[0] else libmp.fone
    function = _FUNCTIONS.get(kind)
    if function is None or len(expr.args) != 1:
        raise _Unknown
    if kind is log:
        found = _log_tail(expr.args[0], bits, guard)
        if found is not None:
            return found
    argument = _mpf_node(expr.args[0], bits, guard)
    if kind is log:
        # Near 1, the argument's rounding error is the result's size: work with more bits.
        _check_near_one(libmp.mpf_sub(argument, libmp.fone, bits, rounding), bits, guard)
    return function(argument, bits, rounding)


class Given(Symbol):
    """A number put into a formula, kept visible: ``2(ŷ - y)`` becomes ``2(1.1 - 1.5)``.

    It is a symbol named after its exact value, so SymPy neither folds it into
    its neighbours nor reorders it; the printer shows its ``value``.

    >>> Given(Rational(-4, 5)).value
    -4/5
    """

    __slots__ = ("value", "_name")

    def __new__(cls, value):
        value = _sympify(value)  # strict: never parses text
        # Rationals and named values, the common cases, are named without running SymPy's
        # printer (whose text of a named value is its name); any other value when its name
        # is first read (see ``name``).
        name = (f"given({value.p}/{value.q})" if value.is_Rational else
                f"given({value.name})" if isinstance(value, Defined) else "")
        # Not SymPy's constructor, which shares one symbol per name: named values of two
        # derivations have the same text, and each Given must keep its own value.
        given = Symbol.__xnew__(cls, name)
        given.value = value
        return given

    @property
    def name(self) -> str:
        """``given(VALUE)``, with SymPy's text of the value: only the order of a sum's
        terms reads it, and for a long irrational value the text costs milliseconds (the
        printer orders each sum's terms by their numbers), so it is written when first
        read, not for every number a lesson shows."""
        if not self._name:
            self._name = f"given({self.value})"
        return self._name

    @name.setter
    def name(self, text: str) -> None:
        self._name = text

    def __getnewargs_ex__(self):
        return ((self.value,), {})

    def _hashable_content(self):
        return (self.value,)
