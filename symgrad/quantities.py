"""The numbers of a worked step a learner can be asked for, and the values that
predictable mistakes give for them, read from the derivation record.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sympy import Add, Expr, Rational, Symbol

from .derive import PREDICTION, TARGET, _Engine, _Names, _sign
from .errors import DomainError, UnknownNameError
from .model import numeric
from .records import Derivation
from .working import evaluate

__all__ = ["Quantity", "Mistake", "MISTAKES", "quantities", "mistakes"]


@dataclass(frozen=True, slots=True)
class Quantity:
    """One number a learner can be asked for: ``kind`` is ``prediction``, ``loss``,
    ``gradient``, ``update`` or ``loss_after``; ``key`` names it (``dL/dw``, ``w_new``)."""

    key: str
    kind: str
    value: Expr
    symbol: Symbol | None = None
    sample: int | None = None


@dataclass(frozen=True, slots=True)
class Mistake:
    """The value a predictable mistake gives, and what that mistake is."""

    name: str
    description: str
    value: Expr


MISTAKES = {
    "missing_activation_derivative": "the chain without the activation's derivative f'(z)",
    "missing_input": "the chain without dz/dw = x, the input the weight multiplies",
    "missing_factor_two": "the derivative of the square without its factor 2",
    "flipped_sign": "(y - ŷ) used instead of (ŷ - y), which flips the sign",
    "missing_mean": "the sum over the batch without dividing by the number of samples",
    "z_for_prediction": "z used where the activation's output ŷ = f(z) belongs",
    "plus_instead_of_minus": "the update with + instead of -: a step uphill",
    "missing_learning_rate": "the update without the learning rate α",
}


def quantities(derivation: Derivation) -> tuple[Quantity, ...]:
    """Every number of the worked step a learner can be asked for, in lesson order.

    >>> from symgrad.derive import derive
    >>> [q.key for q in quantities(derive())]
    ['prediction', 'loss', 'dL/dw', 'dL/db', 'w_new', 'b_new', 'loss_after']
    """
    d = derivation
    batch = len(d.forward) > 1
    found = [Quantity(f"prediction{row.sample}" if batch else "prediction", "prediction",
                      row.prediction.value, sample=row.sample) for row in d.forward]
    found.append(Quantity("loss", "loss", d.loss.value))
    found += [Quantity(f"dL/d{g.parameter}", "gradient", g.value, g.symbol) for g in d.gradients]
    found += [Quantity(f"{g.parameter}_new", "update", g.update.value, g.symbol)
              for g in d.gradients]
    found.append(Quantity("loss_after", "loss_after", d.loss_after.value))
    return tuple(found)


def mistakes(derivation: Derivation, key: str, *, distinct: bool = True) -> tuple[Mistake, ...]:
    """The values predictable mistakes give for quantity ``key``, computed from the
    derivation's own factors: each differs from the correct value, and with ``distinct``
    from the others too (else mistakes that give the same number are all listed).

    >>> from symgrad.derive import derive
    >>> [(m.name, m.value) for m in mistakes(derive(), "dL/dw")]
    [('missing_input', -4/5), ('flipped_sign', 8/5)]
    """
    d = derivation
    wanted = {q.key: q for q in quantities(d)}
    if key not in wanted:
        raise UnknownNameError(f"unknown quantity {key!r}; choose one of: {', '.join(wanted)}")
    quantity = wanted[key]
    engine = _Engine(d.network, d.samples)  # for the formulas a mistake evaluates wrongly
    scale = engine.scale
    units = [f.units[0] for f in d.forward]
    zs = [u.z.value for u in units]
    dloss = [u.upstream.value for u in units]
    dactivation = [u.slope.value for u in units]
    totals = [g.value for g in d.gradients]
    m = len(d.samples)
    candidates: list[tuple[str, Expr]] = []

    def at_z(i):  # dL/dŷ evaluated at z instead of ŷ
        return evaluate(engine.dell, {PREDICTION: zs[i], TARGET: d.samples[i].y})

    if quantity.kind == "prediction" and d.activation.name != "identity":
        candidates.append(("z_for_prediction", zs[quantity.sample - 1]))
    elif quantity.kind == "loss":
        if scale != 1 and m > 1:
            candidates.append(("missing_mean", d.loss.value * m))
        if d.activation.name != "identity":
            candidates.append(("z_for_prediction", scale * Add(*(
                evaluate(engine.ell, {PREDICTION: z, TARGET: s.y})
                for z, s in zip(zs, d.samples)))))
    elif quantity.kind == "gradient":
        j = d.parameter_symbols.index(quantity.symbol)
        local = [Rational(1)] * m if j >= len(d.neuron.weights) else [s.x[j] for s in d.samples]
        chains = list(zip(dloss, dactivation, local))
        if d.activation.name != "identity":
            candidates.append(("missing_activation_derivative",
                               scale * Add(*(dl * dz for dl, _, dz in chains))))
        if j < len(d.neuron.weights):
            candidates.append(("missing_input",
                               scale * Add(*(dl * da for dl, da, _ in chains))))
        if d.loss_function.name in ("squared", "mse"):
            candidates.append(("missing_factor_two", quantity.value / 2))
        candidates.append(("flipped_sign", -quantity.value))
        if scale != 1 and m > 1:
            candidates.append(("missing_mean", quantity.value * m))
        if d.activation.name != "identity":
            candidates.append(("z_for_prediction", scale * Add(*(
                at_z(i) * da * dz for i, (_, da, dz) in enumerate(chains)))))
    elif quantity.kind in ("update", "loss_after"):
        plus = tuple(p + d.learning_rate * g for p, g in zip(d.parameters, totals))
        no_rate = tuple(p - g for p, g in zip(d.parameters, totals))
        if quantity.kind == "update":
            j = d.parameter_symbols.index(quantity.symbol)
            candidates += [("plus_instead_of_minus", plus[j]),
                           ("missing_learning_rate", no_rate[j])]
        else:
            for name, parameters in (("plus_instead_of_minus", plus),
                                     ("missing_learning_rate", no_rate)):
                try:
                    candidates.append((name, engine.run(parameters,
                                                        _Names.of(True)).loss))
                except DomainError:
                    continue  # that wrong step leaves the loss undefined: no number to match
    return _differing(quantity.value, candidates, distinct)


def _differing(correct: Expr, candidates, distinct: bool) -> tuple[Mistake, ...]:
    """Keep the mistakes whose values differ from the correct one (and, when ``distinct``,
    from each other)."""
    kept: list[Mistake] = []
    for name, value in candidates:
        approx = complex(numeric(value, 30))
        if approx.imag or not math.isfinite(approx.real):
            continue  # e.g. log of a negative number: no number a learner could write
        others = [correct] + ([k.value for k in kept] if distinct else [])
        if all(_sign(value - other) != 0 for other in others):
            kept.append(Mistake(name, MISTAKES[name], value))
    return tuple(kept)
