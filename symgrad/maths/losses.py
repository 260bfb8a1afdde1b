"""The LOSSES registry: each per-sample loss ℓ(ŷ, y) beside its derivative dℓ/dŷ.

A batch's loss L combines the per-sample losses by the entry's ``reduction``:
``sum`` (squared, half_squared) or ``mean`` (mse, mae, bce, huber, cross_entropy).
A network's outputs each add a term ℓ(a_k, y_k); the categorical cross-entropy is that sum,
``L = -Σ_k y_k log a_k``, over a softmax layer's class probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from sympy import Abs, Add, Expr, Mul, Piecewise, Pow, Rational, Symbol, log, sign

from ..errors import choose
from .model import Given, decimal, numeric
from ..words import N_

__all__ = ["Loss", "LOSSES", "CLASS_LOSSES", "loss"]


def _error(a: Symbol, y: Symbol) -> Expr:
    """ŷ - y, kept in that order."""
    return Add(a, Mul(-1, y, evaluate=False), evaluate=False)


def _half(term: Expr) -> Expr:
    return Mul(Rational(1, 2), term, evaluate=False)


def _bce(a, y, delta):
    return Mul(-1, Add(Mul(y, log(a), evaluate=False),
                       Mul(Add(1, Mul(-1, y, evaluate=False), evaluate=False),
                           log(Add(1, Mul(-1, a, evaluate=False), evaluate=False)),
                           evaluate=False), evaluate=False), evaluate=False)


def _bce_derivative(a, y, delta):
    return Mul(_error(a, y),
               Pow(Mul(a, Add(1, Mul(-1, a, evaluate=False), evaluate=False), evaluate=False),
                   -1, evaluate=False), evaluate=False)


def _positive(value: Expr) -> bool:
    """Whether an exact value is > 0, decided with as many digits as it takes (SymPy's
    evalf works out the digits of 1 - σ(300) ≈ 5e-131 instead of rounding it to 0)."""
    if value.is_Rational:
        return value > 0
    approx = numeric(value, 15)
    return bool(approx.is_Number and approx > 0)


def _bce_domain(prediction) -> str | None:
    if _positive(prediction) and _positive(1 - prediction):
        return None
    text, _ = decimal(prediction)
    saturated = not prediction.is_Rational and text.strip("-0.") in ("", "1")
    return ("bce (binary cross-entropy) needs a prediction strictly between 0 and 1, "
            f"because log(0) is undefined, but ŷ = {text}"
            + ("; the activation saturates (ŷ is 0 or 1 to every digit carried): choose "
               "numbers that keep z moderate" if saturated
               else "; use the sigmoid activation or other numbers"))


def _bce_targets(target) -> str | None:
    if not 0 <= target <= 1:
        return ("bce (binary cross-entropy) needs targets from 0 to 1 (a probability or a "
                f"class 0/1), but y = {decimal(target)[0]}")
    return None


def _cross_entropy_domain(prediction) -> str | None:
    if _positive(prediction):
        return None
    return ("cross_entropy needs every probability above 0, because log(0) is undefined, "
            f"but a = {decimal(prediction)[0]}")


def _probability(target) -> str | None:
    if not 0 <= target <= 1:
        return ("cross_entropy needs targets from 0 to 1 (a one-hot class or a distribution "
                f"over the classes), but y = {decimal(target)[0]}")
    return None


def _threshold(delta) -> Expr:
    """δ as given: a symbol (``\\delta`` in the lesson's formulas) or a number."""
    return delta if isinstance(delta, Symbol) else Given(delta)


def _huber(a, y, delta):
    d = _threshold(delta)
    return Piecewise((_half(Pow(_error(a, y), 2)), Abs(_error(a, y)) <= d),
                     (Mul(d, Add(Abs(_error(a, y)), Mul(-1, _half(d), evaluate=False),
                                 evaluate=False), evaluate=False), True))


def _huber_derivative(a, y, delta):
    d = _threshold(delta)
    return Piecewise((_error(a, y), Abs(_error(a, y)) <= d),
                     (Mul(d, sign(_error(a, y)), evaluate=False), True))


@dataclass(frozen=True, slots=True)
class Loss:
    """A per-sample loss with its derivative, and how a batch combines them.

    ``function(a, y, delta)`` and ``derivative(a, y, delta)`` take Huber's threshold as a
    number, or as a symbol (``\\delta``) for the formulas a lesson shows. A
    ``categorical`` loss reads a sample's targets as a distribution over the classes
    (each from 0 to 1, summing to 1) and needs a softmax output layer.
    """

    name: str
    title: str
    function: Callable[[Symbol, Symbol, Rational], Expr]
    derivative: Callable[[Symbol, Symbol, Rational], Expr]
    reduction: str
    convention: str | None = None
    domain: Callable[[Expr], str | None] | None = None
    targets: Callable[[Expr], str | None] | None = None
    categorical: bool = False


LOSSES: dict[str, Loss] = {
    entry.name: entry
    for entry in (
        Loss("squared", N_("squared error"),
             function=lambda a, y, delta: Pow(_error(a, y), 2),
             derivative=lambda a, y, delta: Mul(2, _error(a, y), evaluate=False),
             reduction="sum"),
        Loss("half_squared", N_("half squared error"),
             function=lambda a, y, delta: _half(Pow(_error(a, y), 2)),
             derivative=lambda a, y, delta: _error(a, y),
             reduction="sum"),
        Loss("mse", N_("mean squared error"),
             function=lambda a, y, delta: Pow(_error(a, y), 2),
             derivative=lambda a, y, delta: Mul(2, _error(a, y), evaluate=False),
             reduction="mean"),
        Loss("mae", N_("mean absolute error"),
             function=lambda a, y, delta: Abs(_error(a, y)),
             derivative=lambda a, y, delta: sign(_error(a, y)),
             reduction="mean",
             convention=N_("$|\\hat{y} - y|$ has a kink where $\\hat{y} = y$; symgrad uses "
                        "the sub-gradient $\\operatorname{sign}(0) = 0$ there")),
        Loss("bce", N_("binary cross-entropy"),
             function=_bce, derivative=_bce_derivative, reduction="mean",
             domain=_bce_domain, targets=_bce_targets),
        Loss("huber", N_("Huber loss"),
             function=_huber, derivative=_huber_derivative, reduction="mean",
             convention=N_("the Huber loss is quadratic while $|\\hat{y} - y| \\le \\delta$ and "
                        "linear beyond")),
    )
}


# Losses over the classes of a softmax output layer: they read a sample's targets as a
# distribution over the classes, so they are not for single neurons.
CLASS_LOSSES: dict[str, Loss] = {
    "cross_entropy": Loss(
        "cross_entropy", N_("categorical cross-entropy"),
        function=lambda a, y, delta: Mul(-1, Mul(y, log(a), evaluate=False), evaluate=False),
        derivative=lambda a, y, delta: Mul(-1, Mul(y, Pow(a, -1, evaluate=False),
                                                   evaluate=False), evaluate=False),
        reduction="mean", domain=_cross_entropy_domain, targets=_probability,
        categorical=True),
}


def loss(name: str) -> Loss:
    """Look up a loss by name (a loss over a softmax layer's classes too).

    >>> loss("mse").reduction, loss("cross_entropy").categorical
    ('mean', True)
    """
    return choose(LOSSES | CLASS_LOSSES, name, "loss")
