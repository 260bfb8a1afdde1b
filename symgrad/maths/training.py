"""The update step of the training loop: how an optimizer turns each gradient into a step,
the state it carries from step to step, and an L2 penalty on the weights.

The rules are those of ``torch.optim`` (see :class:`~symgrad.maths.model.Optimizer`);
every value stays exact (ε and √ make them irrational; they are shown rounded with ≈).
"""

from __future__ import annotations

from collections.abc import Callable

from sympy import Add, Expr, Integer, Mul, Pow, Rational, Symbol, sqrt

from .model import Optimizer
from .records import StateLine
from .working import Formula, numbers_in, working

__all__ = ["STATE", "CORRECTED", "Updater", "update_working", "L2", "state_symbol",
           "first_step_from"]

# The state each optimizer carries per parameter, in the order a table shows it: the
# velocity v of momentum, the running mean v of g² of RMSprop, Adam's moments m and v.
STATE = {"sgd": (), "momentum": ("v",), "nesterov": ("v",), "rmsprop": ("v",),
         "adam": ("m", "v"), "adamw": ("m", "v")}
# The values a step works out of its state and shows beside it: Adam's bias-corrected moments.
CORRECTED = {"adam": ("m_hat", "v_hat"), "adamw": ("m_hat", "v_hat")}

ALPHA, MU, BETA1, BETA2 = (Symbol(r"\alpha"), Symbol(r"\mu"), Symbol(r"\beta_{1}"),
                           Symbol(r"\beta_{2}"))
EPSILON, LAMBDA, T = Symbol(r"\epsilon"), Symbol(r"\lambda"), Symbol("t")


def state_symbol(name: str, parameter: Symbol, when: str = "t") -> Symbol:
    """``m_{w,t}``: state ``name`` (``m``, ``v``, ``m_hat``, ``v_hat``) of a parameter at
    step ``when``; ``g_{w,t}`` is the gradient the step uses."""
    letter = {"m_hat": r"\hat{m}", "v_hat": r"\hat{v}"}.get(name, name)
    return Symbol(f"{letter}_{{{parameter.name},{when}}}")


def _sum(*terms: Expr) -> Expr:
    return Add(*terms, evaluate=False)


def _times(*factors: Expr) -> Expr:
    return Mul(*factors, evaluate=False)


def _minus(term: Expr) -> Expr:
    return Mul(-1, term, evaluate=False)


def _over(top: Expr, bottom: Expr) -> Expr:
    return Mul(top, Pow(bottom, -1, evaluate=False), evaluate=False)


def _average(beta: Symbol, before: Expr, new: Expr) -> Expr:
    """``β·before + (1 - β)·new``, kept as written."""
    return _sum(_times(beta, before), _times(_sum(1, _minus(beta)), new))


class Updater:
    """The optimizer's state for every parameter and its step, worked exactly.

    ``define`` names a value that grows too long (see ``derive._Names``); frozen
    parameters keep their values and carry no state.
    """

    def __init__(self, optimizer: Optimizer, rate: Rational, frozen: tuple[bool, ...],
                 define: Callable[[str, Expr], Expr]):
        self.optimizer = optimizer
        self.rate = rate
        self.frozen = frozen
        self.define = define
        self.t = 0
        self.state = {name: tuple(Integer(0) for _ in frozen) for name in STATE[optimizer.name]}
        # the last step's bias-corrected moments (Adam), 0 for a frozen parameter
        self.corrected = {name: tuple(Integer(0) for _ in frozen)
                          for name in CORRECTED.get(optimizer.name, ())}

    def step(self, parameters, gradients) -> tuple[tuple[Expr, ...], tuple[tuple[dict, dict], ...]]:
        """The parameters after one step and, per parameter, its state before the step
        and the values of the step (``v``, ``m``, ``m_hat``, ``v_hat``, the new ``p``)."""
        self.t += 1
        found = []
        for i, (p, g, still) in enumerate(zip(parameters, gradients, self.frozen)):
            before = {name: values[i] for name, values in self.state.items()}
            found.append((before, before | {"p": p} if still else self._one(p, g, before)))
        self.state = {name: tuple(values[name] for _, values in found) for name in self.state}
        self.corrected = {name: tuple(values.get(name, Integer(0)) for _, values in found)
                          for name in self.corrected}
        return tuple(values["p"] for _, values in found), tuple(found)

    def _one(self, p: Expr, g: Expr, before: dict, given: dict | None = None) -> dict:
        """One parameter's step (the formulas of the class docstring of Optimizer); a value
        named in ``given`` (``v``, ``m``, ``m_hat``, ``v_hat``) is taken from it instead."""
        o, rate, t = self.optimizer, self.rate, self.t
        given = given or {}

        def define(name: str, value: Expr) -> Expr:
            return given[name] if name in given else self.define(name, value)

        if o.name == "sgd":
            return {"p": define("p", p - rate * g)}
        if o.name in ("momentum", "nesterov"):
            v = define("v", o.momentum * before["v"] + g)
            step = g + o.momentum * v if o.name == "nesterov" else v
            return {"v": v, "p": define("p", p - rate * step)}
        v = define("v", o.beta2 * before["v"] + (1 - o.beta2) * g**2)
        if o.name == "rmsprop":
            return {"v": v, "p": define("p", p - rate * g / (sqrt(v) + o.eps))}
        m = define("m", o.beta1 * before["m"] + (1 - o.beta1) * g)
        m_hat = define("m_hat", m / (1 - o.beta1**t))
        v_hat = define("v_hat", v / (1 - o.beta2**t))
        decayed = p - rate * o.weight_decay * p if o.name == "adamw" else p
        return {"m": m, "v": v, "m_hat": m_hat, "v_hat": v_hat,
                "p": define("p", decayed - rate * m_hat / (sqrt(v_hat) + o.eps))}


def update_working(optimizer: Optimizer, rate: Rational, t: int, symbol: Symbol, p: Expr,
                   g: Expr, before: dict, values: dict) -> tuple[tuple[StateLine, ...], Formula]:
    """The lines of one parameter's step ``t``: each state variable, then the new value,
    each as ``symbolic = numbers = value`` (``g_{w,t}`` is the gradient the step uses)."""
    o = optimizer
    gradient = state_symbol("g", symbol)
    numbers = {ALPHA: rate, MU: o.momentum, BETA1: o.beta1, BETA2: o.beta2, EPSILON: o.eps,
               LAMBDA: o.weight_decay, T: Integer(t), symbol: p, gradient: g}
    numbers = {key: value for key, value in numbers.items() if value is not None}
    numbers |= {state_symbol(name, symbol, "t-1"): value for name, value in before.items()}
    now = {name: state_symbol(name, symbol) for name in ("m", "v", "m_hat", "v_hat")}
    formulas = {}
    if o.name in ("momentum", "nesterov"):
        formulas["v"] = _sum(_times(MU, state_symbol("v", symbol, "t-1")), gradient)
        step = _times(ALPHA, now["v"] if o.name == "momentum" else _sum(
            gradient, _times(MU, now["v"])))
    elif o.name == "rmsprop":
        formulas["v"] = _average(BETA2, state_symbol("v", symbol, "t-1"),
                                 Pow(gradient, 2, evaluate=False))
        step = _times(ALPHA, _over(gradient, _sum(sqrt(now["v"]), EPSILON)))
    else:
        formulas["m"] = _average(BETA1, state_symbol("m", symbol, "t-1"), gradient)
        formulas["v"] = _average(BETA2, state_symbol("v", symbol, "t-1"),
                                 Pow(gradient, 2, evaluate=False))
        formulas["m_hat"] = _over(now["m"], _sum(1, _minus(Pow(BETA1, T, evaluate=False))))
        formulas["v_hat"] = _over(now["v"], _sum(1, _minus(Pow(BETA2, T, evaluate=False))))
        step = _times(ALPHA, _over(now["m_hat"], _sum(sqrt(now["v_hat"]), EPSILON)))
    lines = []
    for name, formula in formulas.items():
        lines.append(StateLine(name, now[name], working(formula, numbers, values[name])))
        numbers[now[name]] = values[name]
    terms = [symbol, _minus(step)]
    if o.name == "adamw":
        terms.insert(1, _minus(_times(ALPHA, LAMBDA, symbol)))
    return tuple(lines), working(_sum(*terms), numbers, values["p"])


def first_step_from(optimizer: Optimizer, rate: Rational, p: Expr, g: Expr,
                    given: dict | None = None) -> dict:
    """One parameter's first step (t = 1, the state 0) worked from gradient ``g``, with the
    values named in ``given`` put in place of the rule's own: a learner's step worked
    from their own gradient or moments, or a mistake's (``v_hat`` given as ``v``).

    >>> first_step_from(Optimizer("momentum"), Rational(1, 10), Rational(1, 2), Rational(-2))
    {'v': -2, 'p': 7/10}
    """
    updater = Updater(optimizer, rate, (False,), lambda _, value: value)
    updater.t = 1
    return updater._one(p, g, {name: Integer(0) for name in STATE[optimizer.name]}, given)


class L2:
    """An L2 penalty ``(λ/2)·Σ p²`` over the weights (and the biases when ``decayed`` says
    so) added to the loss ``L``, giving ``J = L + (λ/2)·Σ p²``: each decayed parameter's
    gradient gains a second term, ``∂J/∂p = ∂L/∂p + λ·p``.

    >>> L2(Rational(1, 10), (True, False)).gradients((Rational(1, 2), 1), (0, 0))
    (1/20, 0)
    """

    def __init__(self, strength: Rational, decayed: tuple[bool, ...]):
        self.strength = strength
        self.decayed = decayed

    def penalty(self, parameters) -> Expr:
        """``(λ/2)·Σ p²`` of the decayed parameters."""
        return self.strength / 2 * Add(*(p**2 for p, d in zip(parameters, self.decayed) if d))

    def gradients(self, parameters, gradients) -> tuple[Expr, ...]:
        """``∂L/∂p + λ·p`` for the decayed parameters, ``∂L/∂p`` for the others."""
        return tuple(g + self.strength * p if d else g
                     for p, g, d in zip(parameters, gradients, self.decayed))

    def objective(self, loss: Expr, symbols, parameters, value: Expr) -> Formula:
        """``J = L + (λ/2)(w_1² + ...)`` with the numbers put in."""
        squares = [Pow(s, 2, evaluate=False) for s, d in zip(symbols, self.decayed) if d]
        loss_symbol = Symbol("L")
        formula = _sum(loss_symbol, _times(_over(LAMBDA, Integer(2)), _sum(*squares)
                                           if len(squares) > 1 else squares[0]))
        numbers = {loss_symbol: loss, LAMBDA: self.strength} | dict(zip(symbols, parameters))
        return working(formula, numbers, value)

    def gradient(self, symbol: Symbol, p: Expr, loss_gradient: Expr, value: Expr) -> Formula:
        """``∂L/∂p + λ·p`` with the numbers put in (the template writes its symbols)."""
        return Formula(None, numbers_in(lambda g, lam, q: _sum(g, _times(lam, q)),
                                        (loss_gradient, self.strength, p)), value)
