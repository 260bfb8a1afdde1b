"""The ACTIVATIONS registry: each activation's f(z) beside its derivative f'(z); and
LAYER_ACTIVATIONS, whose outputs each depend on every z of their layer (softmax), with
their Jacobian ∂a_j/∂z_k beside them.

Formulas are built unevaluated so they print as a lesson writes them
(``σ(z)(1 - σ(z))``, not SymPy's expanded canonical form).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from mpmath.libmp import prec_to_dps
from sympy import (Abs, Add, Eq, Expr, Function, Max, Mul, Piecewise, Pow, Rational, Sum,
                   Symbol, diff, erf, exp, log, pi, tanh)

from ..errors import SymgradError, choose
from .model import Given
from ..words import N_

__all__ = ["Activation", "ACTIVATIONS", "LAYER_ACTIVATIONS", "activation", "custom", "sigmoid",
           "normal_cdf", "normal_pdf", "LESSON_FUNCTIONS", "explicit"]


class sigmoid(Function):
    """The logistic function σ(z) = 1/(1 + e^(-z)), printed as ``\\sigma(z)``.

    >>> sigmoid(Symbol('z')).rewrite(exp)
    1/(1 + exp(-z))
    """

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0]) * (1 - sigmoid(self.args[0]))

    def _eval_rewrite_as_exp(self, z, **kwargs):
        return 1 / (1 + exp(-z))

    def _latex(self, printer):
        return r"\sigma\left(%s\right)" % printer._print(self.args[0])


class normal_cdf(Function):
    """The standard normal distribution function Φ(z) = (1 + erf(z/√2))/2, the chance that
    a standard normal variable is below z; printed as ``\\Phi(z)``.

    >>> normal_cdf(Symbol('z')).rewrite(erf)
    (erf(z/sqrt(2)) + 1)/2
    """

    def fdiff(self, argindex=1):
        return normal_pdf(self.args[0])

    def _eval_rewrite_as_erf(self, z, **kwargs):
        return _half(Add(1, erf(_over_root_two(z)), evaluate=False))

    def _eval_evalf(self, prec):
        return self.rewrite(erf).evalf(prec_to_dps(prec))

    def _latex(self, printer):
        return r"\Phi\left(%s\right)" % printer._print(self.args[0])


class normal_pdf(Function):
    """The standard normal density φ(z) = e^(-z²/2)/√(2π), the slope of Φ; printed as
    ``\\varphi(z)``.

    >>> normal_pdf(Symbol('z')).rewrite(exp)
    exp(-z**2/2)/(sqrt(2*pi))
    """

    def fdiff(self, argindex=1):
        return -self.args[0] * normal_pdf(self.args[0])

    def _eval_rewrite_as_exp(self, z, **kwargs):
        return Mul(exp(_minus(_half(Pow(z, 2)))), _one_over_root_two_pi(), evaluate=False)

    def _eval_evalf(self, prec):
        return self.rewrite(exp).evalf(prec_to_dps(prec))

    def _latex(self, printer):
        return r"\varphi\left(%s\right)" % printer._print(self.args[0])


# Functions that lessons write by name (σ, Φ, φ) and their explicit forms, which SymPy,
# mpmath and Python's math can evaluate.
LESSON_FUNCTIONS = {sigmoid: exp, normal_cdf: erf, normal_pdf: exp}


def explicit(expr: Expr) -> Expr:
    """``expr`` with σ, Φ and φ written out through exp and erf.

    >>> z = Symbol("z")
    >>> explicit(sigmoid(z) + normal_pdf(z))
    exp(-z**2/2)/(sqrt(2*pi)) + 1/(1 + exp(-z))
    """
    if not any(expr.has(f) for f in LESSON_FUNCTIONS):
        return expr
    return expr.replace(lambda e: type(e) in LESSON_FUNCTIONS,
                        lambda e: e.rewrite(LESSON_FUNCTIONS[type(e)]))


def _minus(term: Expr) -> Expr:
    return Mul(-1, term, evaluate=False)


def _half(term: Expr) -> Expr:
    """``term/2`` as written."""
    return Mul(term, Pow(2, -1, evaluate=False), evaluate=False)


def _over_root_two(z: Expr) -> Expr:
    """``z/√2`` as written (SymPy would make it ``√2 z/2``), which becomes SymPy's own
    ``3√2/8`` once a number is put in."""
    return Mul(z, Pow(2, Rational(-1, 2), evaluate=False), evaluate=False)


def _one_over_root_two_pi() -> Expr:
    """``1/√(2π)`` as written."""
    return Pow(Pow(Mul(2, pi, evaluate=False), Rational(1, 2), evaluate=False), -1,
               evaluate=False)


def _sigmoid_explicit(z: Symbol) -> Expr:
    return Pow(Add(1, exp(_minus(z)), evaluate=False), -1, evaluate=False)


def _over(numerator: Expr, denominator: Expr) -> Expr:
    return Mul(numerator, Pow(denominator, -1, evaluate=False), evaluate=False)


@dataclass(frozen=True, slots=True)
class Activation:
    """An activation ``f`` with its derivative side by side.

    ``function(z, slope)`` and ``derivative(z, slope)`` build unevaluated
    formulas; ``lesson_form(z)`` is the derivative as lessons of a single neuron
    write it (``σ(z)(1 - σ(z))``), and ``output(z)`` is the sub-expression of it
    that equals the neuron's output ŷ; ``output_form(a)`` is the derivative written
    through the output ``a = f(z)`` itself (``a(1 - a)``, ``1 - a²``), as
    backpropagation uses it. ``convention`` states what symgrad takes at a kink (and why
    an activation that looks kinked needs no convention); ``notation`` is a sentence
    naming the functions the lesson form writes (Φ, φ, σ). Both are marked for
    translation.

    A layer-wide activation (softmax) has no ``function`` of one ``z``: ``layer(zs)``
    gives every output of the layer from all its ``z``, ``jacobian(outputs)`` the
    matrix ``∂a_j/∂z_k`` written through the outputs, row j, column k, and
    ``rule(l, m)`` its formula as layer ``l`` of ``m`` neurons states it (an elementwise
    activation's is ``a = f(z)``, neuron by neuron).
    """

    name: str
    title: str
    function: Callable[[Symbol, Rational], Expr] | None
    derivative: Callable[[Symbol, Rational], Expr] | None
    lesson_form: Callable[[Symbol], Expr] | None = None
    output: Callable[[Symbol], Expr] | None = None
    output_form: Callable[[Symbol], Expr] | None = None
    convention: str | None = None
    kink: Rational | None = None
    layer: Callable[[tuple[Symbol, ...]], tuple[Expr, ...]] | None = None
    jacobian: Callable[[tuple[Symbol, ...]], tuple[tuple[Expr, ...], ...]] | None = None
    notation: str | None = None
    rule: Callable[[int, int], Expr] | None = None


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation(
            "identity", N_("identity"),
            function=lambda z, slope: z,
            derivative=lambda z, slope: Rational(1),
        ),
        Activation(
            "sigmoid", N_("sigmoid"),
            function=lambda z, slope: _sigmoid_explicit(z),
            derivative=lambda z, slope: Mul(
                exp(_minus(z)),
                Pow(Pow(Add(1, exp(_minus(z)), evaluate=False), 2, evaluate=False), -1,
                    evaluate=False),
                evaluate=False),
            lesson_form=lambda z: Mul(sigmoid(z), Add(1, _minus(sigmoid(z)), evaluate=False),
                                      evaluate=False),
            output=lambda z: sigmoid(z),
            output_form=lambda a: Mul(a, Add(1, _minus(a), evaluate=False), evaluate=False),
        ),
        Activation(
            "tanh", N_("tanh"),
            function=lambda z, slope: tanh(z),
            derivative=lambda z, slope: Add(1, _minus(Pow(tanh(z), 2)), evaluate=False),
            output_form=lambda a: Add(1, _minus(Pow(a, 2)), evaluate=False),
        ),
        Activation(
            "relu", N_("ReLU"),
            function=lambda z, slope: Max(0, z),
            derivative=lambda z, slope: Piecewise((1, z > 0), (0, True)),
            convention=N_("ReLU has a kink at $z = 0$, where it has no derivative; "
                       "symgrad uses $f'(0) = 0$ there, as PyTorch and TensorFlow do"),
            kink=Rational(0),
        ),
        Activation(
            "leaky_relu", N_("leaky ReLU"),
            # slope · z, in that order: the lesson writes 0.01 z, not z 0.01
            function=lambda z, slope: Piecewise((z, z > 0),
                                                (Mul(Given(slope), z, evaluate=False), True)),
            derivative=lambda z, slope: Piecewise((1, z > 0), (Given(slope), True)),
            convention=N_("leaky ReLU has a kink at $z = 0$; symgrad uses the slope of the "
                       "left side there, $f'(0) = $ the leak slope"),
            kink=Rational(0),
        ),
        Activation(
            "softplus", N_("softplus"),
            function=lambda z, slope: log(Add(1, exp(z), evaluate=False)),
            derivative=lambda z, slope: Mul(exp(z), Pow(Add(1, exp(z), evaluate=False), -1,
                                                        evaluate=False), evaluate=False),
            lesson_form=lambda z: sigmoid(z),
        ),
        # GELU (PyTorch's nn.GELU, approximate='none'): z·Φ(z), exactly, through erf;
        # smooth everywhere, so no convention is needed. Its slope Φ(z) + z·φ(z) is 0 at its
        # lowest point, z ≈ -0.7518, and it has no kink.
        Activation(
            "gelu", N_("GELU"),
            function=lambda z, slope: Mul(_half(z), Add(1, erf(_over_root_two(z)),
                                                        evaluate=False), evaluate=False),
            derivative=lambda z, slope: Add(
                _half(Add(1, erf(_over_root_two(z)), evaluate=False)),
                Mul(z, exp(_minus(_half(Pow(z, 2)))), _one_over_root_two_pi(),
                    evaluate=False),
                evaluate=False),
            lesson_form=lambda z: Add(normal_cdf(z), Mul(z, normal_pdf(z), evaluate=False),
                                      evaluate=False),
            notation=N_("In the slope of the GELU, $\\Phi(z) = \\frac{1}{2}\\left(1 + "
                        "\\operatorname{erf}\\left(\\frac{z}{\\sqrt{2}}\\right)\\right)$ is the "
                        "standard normal distribution function (the GELU is "
                        "$z \\, \\Phi(z)$) and "
                        "$\\varphi(z) = \\frac{e^{-z^{2}/2}}{\\sqrt{2 \\pi}}$ is its density"),
        ),
        # SiLU, a.k.a. swish (PyTorch's nn.SiLU): z·σ(z); smooth, lowest at z ≈ -1.2785.
        Activation(
            "silu", N_("SiLU"),
            function=lambda z, slope: _over(z, Add(1, exp(_minus(z)), evaluate=False)),
            derivative=lambda z, slope: Add(
                _sigmoid_explicit(z),
                _over(Mul(z, exp(_minus(z)), evaluate=False),
                      Pow(Add(1, exp(_minus(z)), evaluate=False), 2, evaluate=False)),
                evaluate=False),
            lesson_form=lambda z: Mul(sigmoid(z), Add(1, Mul(z, Add(1, _minus(sigmoid(z)),
                                                                    evaluate=False),
                                                         evaluate=False), evaluate=False),
                                      evaluate=False),
            notation=N_("In the slope of the SiLU, $\\sigma(z) = \\frac{1}{1 + e^{-z}}$ is the "
                        "sigmoid (the SiLU is $z \\, \\sigma(z)$)"),
        ),
        # ELU with α = 1 (PyTorch's nn.ELU default): z for z > 0, α(e^z - 1) otherwise. With
        # α = 1 both pieces have slope 1 at z = 0, so f'(0) = e^0 = 1 is its derivative, not
        # a convention.
        Activation(
            "elu", N_("ELU"),
            function=lambda z, slope: Piecewise((z, z > 0), (Add(exp(z), -1, evaluate=False),
                                                             True)),
            derivative=lambda z, slope: Piecewise((1, z > 0), (exp(z), True)),
            convention=N_("ELU here has $\\alpha = 1$, PyTorch's default, so its two pieces "
                          "$z$ and $e^{z} - 1$ meet at $z = 0$ with the same slope: it has no "
                          "kink, and $f'(0) = e^{0} = 1$ is its derivative there, not a "
                          "convention"),
        ),
        # Softsign (PyTorch's nn.Softsign): z/(1 + |z|). Its |z| has a kink at 0, softsign
        # has none: the slope is 1 from both sides, and 1/(1 + |z|)² gives f'(0) = 1.
        Activation(
            "softsign", N_("softsign"),
            function=lambda z, slope: _over(z, Add(1, Abs(z), evaluate=False)),
            derivative=lambda z, slope: Pow(Pow(Add(1, Abs(z), evaluate=False), 2,
                                                evaluate=False), -1, evaluate=False),
            output_form=lambda a: Pow(Add(1, _minus(Abs(a)), evaluate=False), 2,
                                      evaluate=False),
            convention=N_("softsign's formula holds $|z|$, which has a kink at $z = 0$, but "
                          "softsign has none: its slope is $1$ from both sides, so "
                          "$f'(0) = \\frac{1}{(1 + |0|)^{2}} = 1$, which the formula gives "
                          "too"),
        ),
    )
}


def _softmax(zs: tuple[Symbol, ...]) -> tuple[Expr, ...]:
    """``a_j = e^{z_j} / Σ_k e^{z_k}`` for each j."""
    total = Add(*(exp(z) for z in zs), evaluate=False)
    return tuple(Mul(exp(z), Pow(total, -1, evaluate=False), evaluate=False) for z in zs)


def _softmax_jacobian(outputs: tuple[Symbol, ...]) -> tuple[tuple[Expr, ...], ...]:
    """``∂a_j/∂z_k = a_j(δ_jk - a_k)``: ``a_j(1 - a_j)`` on the diagonal, ``-a_j a_k`` off it."""
    return tuple(tuple(Mul(a, Add(1, _minus(a), evaluate=False), evaluate=False) if j == k
                       else _minus(Mul(a, b, evaluate=False))
                       for k, b in enumerate(outputs)) for j, a in enumerate(outputs))


def _softmax_rule(layer: int, width: int) -> Expr:
    r"""``a_k = e^{z_k} / Σ_{j=1}^{m} e^{z_j}`` in layer ``layer`` of ``width`` neurons.

    >>> from sympy import latex
    >>> latex(_softmax_rule(2, 3))
    'a^{(2)}_{k} = \\frac{e^{z^{(2)}_{k}}}{\\sum_{j=1}^{3} e^{z^{(2)}_{j}}}'
    """
    j = Symbol("j", integer=True)
    a_k, z_k, z_j = (Symbol(f"{name}^{{({layer})}}_{{{index}}}")
                     for name, index in (("a", "k"), ("z", "k"), ("z", "j")))
    return Eq(a_k, _over(exp(z_k), Sum(exp(z_j), (j, 1, width))), evaluate=False)


# Activations of a whole layer: an output depends on every z of its layer, so backpropagation
# multiplies by their Jacobian rather than by one slope per neuron.
LAYER_ACTIVATIONS: dict[str, Activation] = {
    "softmax": Activation("softmax", N_("softmax"), function=None, derivative=None,
                          layer=_softmax, jacobian=_softmax_jacobian, rule=_softmax_rule),
}


def activation(name: str | Activation) -> Activation:
    """Look up an activation by name (a custom :class:`Activation` is its own entry);
    a layer-wide one (softmax) too.

    >>> activation("relu").title, activation("softmax").jacobian is not None
    ('ReLU', True)
    """
    if isinstance(name, Activation):
        return name
    return choose(ACTIVATIONS | LAYER_ACTIVATIONS, name, "activation")


def custom(formula: Expr) -> Activation:
    """An activation from a formula in ``z``; SymPy derives its derivative.

    >>> z = Symbol("z", real=True)
    >>> custom(z / (1 + abs(z))).derivative(z, 0)
    -z*sign(z)/(Abs(z) + 1)**2 + 1/(Abs(z) + 1)
    """
    z = Symbol("z", real=True)
    extra = sorted(str(s) for s in formula.free_symbols - {z})
    if extra:
        raise SymgradError(f"a custom activation is a formula in z alone, but it uses "
                           f"{', '.join(extra)}")
    derivative = diff(formula, z)
    return Activation("custom", N_("custom"),
                      function=lambda at, slope: formula.xreplace({z: at}),
                      derivative=lambda at, slope: derivative.xreplace({z: at}))
