"""The numbers of a worked step a learner can be asked for, and the values that
predictable mistakes give for them, read from the derivation record.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from sympy import Add, Expr, Rational, Symbol

from .derive import PREDICTION, TARGET, _Engine, _Names
from ..errors import DomainError, UnknownNameError
from .model import (DIGITS_ERROR, Defined, Optimizer, Sample, closer_by_digits, digits_of,
                    numeric)
from .records import Derivation
from .training import STATE, first_step_from, state_symbol
from ..words import N_
from .working import evaluate, sign

__all__ = ["Quantity", "Mistake", "MISTAKES", "FirstStep", "quantities", "mistakes",
           "depends_on", "recompute", "first_step"]


@dataclass(frozen=True, slots=True)
class Quantity:
    """One number a learner can be asked for: ``kind`` is ``prediction``, ``loss``,
    ``gradient``, ``update`` or ``loss_after`` (a network's also ``activation`` and
    ``delta``); with an L2 penalty ``objective`` (``J``) and ``objective_gradient``
    (``dJ/dw``), with an optimizer that keeps state ``state`` (``v_w``, ``m_w``,
    ``m_hat_w``, ``v_hat_w``: after the first step); ``key`` names it (``dL/dw``,
    ``w_new``)."""

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


# Named values carry PRECISION (60) digits: two that agree to this many are one number.
SAME_DIGITS = 45

MISTAKES = {
    "missing_activation_derivative": N_("the chain without the activation's derivative f'(z)"),
    "missing_input": N_("the chain without dz/dw = x, the input the weight multiplies"),
    "missing_factor_two": N_("the derivative of the square without its factor 2"),
    "flipped_sign": N_("(y - ŷ) used instead of (ŷ - y), which flips the sign"),
    "missing_mean": N_("the sum over the batch without dividing by the number of samples"),
    "z_for_prediction": N_("z used where the activation's output ŷ = f(z) belongs"),
    "plus_instead_of_minus": N_("the update with + instead of -: a step uphill"),
    "missing_learning_rate": N_("the update without the learning rate α"),
    "missing_sum": N_("only the first term of Σ_k w_kj δ_k: a hidden neuron's error signal sums "
                   "over every neuron it feeds"),
    "updated_outer_weights": N_("the already-updated outer weights in Σ_k w_kj δ_k: "
                             "backpropagation uses the weights of the forward pass"),
    "swapped_indices": N_("δ_k·a_j instead of δ_j·a_k: the weight's indices swapped"),
    "softmax_diagonal_only": N_("δ_k = ∂L/∂a_k · a_k(1 - a_k): only the diagonal of the "
                                "softmax's Jacobian, its terms -a_j a_k for the other "
                                "classes forgotten"),
    "one_hot_shifted": N_("the target class off by one: the one-hot y of a neighbouring "
                          "class"),
    "l2_forgotten": N_("the L2 penalty left out: (λ/2)Σw² in J, λw in its gradient"),
    "l2_lambda_only": N_("λ added to the gradient instead of λw"),
    "l2_half_kept": N_("(λ/2)w added to the gradient: the derivative of (λ/2)w² is λw"),
    "l2_without_half": N_("the penalty taken as λΣw², without its ½ (2λw in the gradient)"),
    "l2_bias_penalised": N_("the bias penalised too: the L2 penalty covers only the weights "
                            "here"),
    "l2_bias_not_penalised": N_("the bias left out of the L2 penalty: here the biases are "
                                "penalised too"),
    "l2_as_decay": N_("the L2 penalty applied as decoupled weight decay p - αλp instead of "
                      "adding λw to the gradient the optimizer uses"),
    "decay_as_l2": N_("AdamW's weight decay added to the gradient as λw (Adam with L2) "
                      "instead of decoupled: p - αλp, outside m and v"),
    "weight_decay_forgotten": N_("AdamW's decoupled weight decay αλp left out"),
    "no_bias_correction": N_("Adam's moments without bias correction: m and v in place of "
                             "m̂ = m/(1 - β₁ᵗ) and v̂ = v/(1 - β₂ᵗ)"),
    "divided_by_v": N_("the step divided by v instead of √v"),
    "velocity_unused": N_("Nesterov's step without its velocity term μv: plain α·g"),
}

# Two values closer than this share of their size are one number to a learner.
INDISTINCT = Rational(1, 10 ** 6)
_INDISTINCT = Fraction(1, 10 ** 6)  # the same, for comparing digits


@dataclass(frozen=True, slots=True)
class FirstStep:
    """One parameter's first training step as the record works it: ``gradient`` is the
    gradient the step uses (``∂J/∂p`` with an L2 penalty), ``loss_gradient`` ``∂L/∂p``;
    ``state`` holds the optimizer's values after the step (``(name, value)``, such as
    ``("m", ...)``) and ``new`` the parameter after it. ``decayed``: penalised by L2."""

    parameter: str
    symbol: Symbol
    value: Expr
    gradient: Expr
    loss_gradient: Expr
    state: tuple[tuple[str, Expr], ...]
    new: Expr
    decayed: bool
    frozen: bool
    is_bias: bool


def first_step(derivation: Derivation) -> tuple[FirstStep, ...]:
    """Every parameter's first step, read from the record.

    >>> from symgrad.maths.derive import derive
    >>> s = first_step(derive(optimizer="adam", l2="0.1"))[0]
    >>> s.gradient, s.loss_gradient, [name for name, _ in s.state]
    (-31/20, -8/5, ['m', 'v', 'm_hat', 'v_hat'])
    """
    d = derivation
    return tuple(FirstStep(
        g.parameter, g.symbol, p, g.value,
        g.value if g.loss_value is None else g.loss_value,
        tuple((line.name, line.formula.value) for line in g.state), g.update.value,
        g.penalty is not None, g.frozen, d.network.position(name)[2] is None)
        for g, p, name in zip(d.gradients, d.parameters, d.network.parameter_names))


def _trains(d: Derivation) -> bool:
    """Whether the step is more than plain gradient descent on the loss."""
    return d.optimizer.name != "sgd" or bool(d.l2)


def _gradient_key(d: Derivation, parameter: str) -> str:
    """The key of the gradient a parameter's step uses: ``dJ/dw`` with a penalty."""
    return f"{'dJ' if d.l2 else 'dL'}/d{parameter}"


def _step_quantities(d: Derivation) -> list[Quantity]:
    """The quantities between the loss and the updates: the penalised objective J (with
    an L2 penalty), each parameter's gradient of the loss, then with a penalty each
    gradient of J, then the optimizer's state after the first step."""
    steps = first_step(d)
    found = [Quantity("J", "objective", d.objective.value, Symbol("J"))] if d.l2 else []
    found += [Quantity(f"dL/d{s.parameter}", "gradient", s.loss_gradient, s.symbol)
              for s in steps]
    if d.l2:
        found += [Quantity(f"dJ/d{s.parameter}", "objective_gradient", s.gradient, s.symbol)
                  for s in steps]
    for s in steps:
        found += [Quantity(f"{name}_{s.parameter}", "state", value,
                           state_symbol(name, s.symbol, "1")) for name, value in s.state]
    return found


def quantities(derivation: Derivation) -> tuple[Quantity, ...]:
    """Every number of the worked step a learner can be asked for, in lesson order.

    >>> from symgrad.maths.derive import derive
    >>> [q.key for q in quantities(derive())]
    ['prediction', 'loss', 'dL/dw', 'dL/db', 'w_new', 'b_new', 'loss_after']
    """
    d = derivation
    if d.is_network:
        return _network_quantities(d)
    batch = len(d.forward) > 1
    found = [Quantity(f"prediction{row.sample}" if batch else "prediction", "prediction",
                      row.prediction.value, row.prediction_symbol, row.sample)
             for row in d.forward]
    found.append(Quantity("loss", "loss", d.loss.value))
    found += _step_quantities(d)
    found += [Quantity(f"{g.parameter}_new", "update", g.update.value, g.symbol)
              for g in d.gradients]
    found.append(Quantity("loss_after", "loss_after", d.loss_after.value))
    return tuple(found)


def mistakes(derivation: Derivation, key: str, *, distinct: bool = True) -> tuple[Mistake, ...]:
    """The values predictable mistakes give for quantity ``key``, computed from the
    derivation's own factors: each differs from the correct value, and with ``distinct``
    from the others too (else mistakes that give the same number are all listed).

    >>> from symgrad.maths.derive import derive
    >>> [(m.name, m.value) for m in mistakes(derive(), "dL/dw")]
    [('missing_input', -4/5), ('flipped_sign', 8/5)]
    """
    d = derivation
    wanted = {q.key: q for q in quantities(d)}
    if key not in wanted:
        raise UnknownNameError(f"unknown quantity {key!r}; choose one of: {', '.join(wanted)}")
    quantity = wanted[key]
    if quantity.kind in ("objective", "objective_gradient", "state") or (
            quantity.kind == "update" and _trains(d)):
        return _differing(quantity.value, _training_candidates(d, quantity), distinct)
    if d.is_network:
        return _differing(quantity.value, _network_candidates(d, quantity), distinct)
    engine = _Engine(d.network, d.samples)  # for the formulas a mistake evaluates wrongly
    scale = engine.scale
    units = [f.units[0] for f in d.forward]
    zs = [u.z.value for u in units]
    dloss = [u.upstream.value for u in units]
    dactivation = [u.slope.value for u in units]
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
        # The step as the optimizer takes it, reversed or without α (p - α·g for sgd).
        steps = tuple(p - new for p, new in zip(d.parameters, d.updated))
        plus = tuple(p + step for p, step in zip(d.parameters, steps))
        no_rate = tuple(p - step / d.learning_rate for p, step in zip(d.parameters, steps))
        if quantity.kind == "update":
            j = d.parameter_symbols.index(quantity.symbol)
            candidates += [("plus_instead_of_minus", plus[j]),
                           ("missing_learning_rate", no_rate[j])]
        else:
            for name, parameters in (("plus_instead_of_minus", plus),
                                     ("missing_learning_rate", no_rate)):
                try:
                    candidates.append((name, engine.run(parameters, _Names.of(True),
                                                        backward=False).loss))
                except DomainError:
                    continue  # that wrong step leaves the loss undefined: no number to match
    return _differing(quantity.value, candidates, distinct)


def depends_on(derivation: Derivation, key: str) -> tuple[str, ...]:
    """The quantities a learner's ``key`` is computed from. For a single neuron: the loss
    and each gradient from the predictions (dL/dŷ at ŷ; f'(z) and x are given by the
    problem), a new parameter from its gradient, the loss after the step from every new
    parameter. For a network, everything before it along backpropagation: a neuron's
    output from the outputs of earlier layers (same sample); the loss from the outputs;
    a neuron's δ from the outputs of its sample and the δ of later layers; a gradient
    from those of its neuron's δ in every sample; then the updates and the loss after.

    >>> from symgrad.maths.derive import derive
    >>> d = derive()
    >>> depends_on(d, "dL/dw"), depends_on(d, "w_new"), depends_on(d, "loss_after")
    (('prediction',), ('dL/dw',), ('w_new', 'b_new'))
    """
    d = derivation
    found = {q.key: q for q in quantities(d)}
    if key not in found:
        raise UnknownNameError(f"unknown quantity {key!r}; choose one of: {', '.join(found)}")
    kind = found[key].kind
    if kind in ("objective", "objective_gradient", "state", "update"):
        return _step_depends_on(d, found, found[key])
    if d.is_network:
        return _network_depends_on(d, found, found[key])
    if kind in ("loss", "gradient"):
        return tuple(q.key for q in found.values() if q.kind == "prediction")
    if kind == "loss_after":
        return tuple(q.key for q in found.values() if q.kind == "update")
    return ()


def _step_depends_on(d: Derivation, found: dict, q: Quantity) -> tuple[str, ...]:
    """J from the loss, ∂J/∂p from ∂L/∂p; the optimizer's state from the gradient the step
    uses (∂J/∂p, or with a penalty ∂L/∂p when ∂J/∂p is not asked; m̂ from m, v̂ from v
    too), a new parameter from that gradient and its state."""
    if q.kind == "objective":
        return ("loss",)
    name, parameter = _step_part(q)
    if q.kind == "objective_gradient":
        return (f"dL/d{parameter}",)
    earlier = [_gradient_key(d, parameter), f"dL/d{parameter}"]
    if name in ("m_hat", "v_hat"):
        earlier.append(f"{name[0]}_{parameter}")
    elif name == "p":
        earlier += [f"{state}_{parameter}" for state in ("m", "v", "m_hat", "v_hat")]
    return tuple(dict.fromkeys(k for k in earlier if k in found))


def _place(q: Quantity) -> tuple[str, int, int, int] | None:
    """A network quantity's (kind, sample, layer, neuron) for an output or a δ."""
    if q.kind not in ("activation", "delta"):
        return None
    name = q.key.split("@")[0].removeprefix("delta" if q.kind == "delta" else "a")
    layer, neuron = (int(n) for n in name.split("_"))
    return ("a" if q.kind == "activation" else "delta", q.sample or 1, layer, neuron)


def _network_depends_on(d: Derivation, found: dict, q: Quantity) -> tuple[str, ...]:
    places = {k: _place(other) for k, other in found.items()}
    if q.kind == "loss_after":
        return tuple(k for k, other in found.items() if other.kind == "update")
    if q.kind == "gradient":
        g = next(g for g in d.gradients if g.parameter == q.key[4:])
        return tuple(k for k, p in places.items() if p is not None and (
            p[0] == "a" or p[0] == "delta" and (p[2] > g.layer or p[2:] == (g.layer,
                                                                             g.neuron))))
    if q.kind == "loss":
        return tuple(k for k, p in places.items() if p is not None and p[0] == "a")
    kind, sample, layer, _ = _place(q)
    return tuple(k for k, p in places.items() if p is not None and p[1] == sample and (
        p[0] == "a" and (kind == "delta" or p[2] < layer)
        or kind == "delta" and p[0] == "delta" and p[2] > layer))


def recompute(derivation: Derivation, key: str, given: dict, *,
              through_output: bool = False) -> Expr | None:
    """Quantity ``key`` recomputed from ``given`` values (key -> number) of the quantities
    it depends on (:func:`depends_on`); those not given keep their true values. ``None``
    when those values leave it undefined (the log of a negative number). With
    ``through_output``, ``f'`` is written through a given output, as a learner who works
    from their own ŷ writes it (``ŷ(1 − ŷ)`` for the sigmoid): both ways are a correct
    working of a wrong ŷ.

    >>> from sympy import Rational
    >>> from symgrad.maths.derive import derive
    >>> d = derive()  # seed 001: ŷ = 1.1, y = 1.5, L = (ŷ - y)², x = 2, α = 0.1
    >>> recompute(d, "loss", {"prediction": Rational("1.3")})
    1/25
    >>> recompute(d, "dL/dw", {"prediction": Rational("1.3")}), recompute(d, "w_new", {"dL/dw": -1})
    (-4/5, 3/5)
    """
    d = derivation
    depends = depends_on(d, key)
    values = {q.key: q.value for q in quantities(d)}
    values.update({k: v for k, v in given.items() if k in depends})
    wanted = next(q for q in quantities(d) if q.key == key)
    engine = _Engine(d.network, d.samples)
    if d.is_network and wanted.kind in ("activation", "delta", "loss", "gradient"):
        # Backpropagation again, with the learner's outputs and δ in place of ours.
        places = {q.key: _place(q) for q in quantities(d)}
        mine = {places[k]: v for k, v in given.items() if k in depends and places[k]}
        try:
            run = engine.run(d.parameters, _Names.of(False), "from your answers", mine,
                             through_output)
        except DomainError:
            return None
        if wanted.kind == "loss":
            result = run.loss
        elif wanted.kind == "gradient":
            result = run.totals[d.parameter_symbols.index(wanted.symbol)]
        else:
            kind, sample, layer, neuron = places[key]
            result = (run.a[sample - 1][layer] if kind == "a" else
                      run.delta[sample - 1][layer - 1])[neuron - 1]
    elif wanted.kind in ("loss", "gradient"):
        predictions = [values[q.key] for q in quantities(d) if q.kind == "prediction"]
        if wanted.kind == "loss":
            result = engine.scale * Add(*(evaluate(engine.ell, {PREDICTION: a, TARGET: s.y})
                                          for a, s in zip(predictions, d.samples)))
        else:
            j = d.parameter_symbols.index(wanted.symbol)
            weights = len(d.neuron.weights)
            form = d.activation.output_form if through_output else None
            result = engine.scale * Add(*(
                evaluate(engine.dell, {PREDICTION: a, TARGET: s.y})
                * (f.units[0].slope.value if form is None else
                   evaluate(form(PREDICTION), {PREDICTION: a}))
                * (s.x[j] if j < weights else 1)
                for a, s, f in zip(predictions, d.samples, d.forward)))
    elif wanted.kind in ("objective", "objective_gradient"):
        earlier = depends[0]
        right = next(q.value for q in quantities(d) if q.key == earlier)
        result = values[earlier] + wanted.value - right  # plus the penalty's part
    elif wanted.kind in ("state", "update"):
        name, parameter = _step_part(wanted)
        s = next(s for s in first_step(d) if s.parameter == parameter)
        used, loss = _gradient_key(d, parameter), f"dL/d{parameter}"
        mine = {k: v for k, v in given.items() if k in depends}
        gradient = (mine[used] if used in mine else  # ∂J/∂p from the learner's ∂L/∂p
                    mine[loss] + s.gradient - s.loss_gradient if loss in mine else s.gradient)
        state = {k.removesuffix("_" + parameter): v for k, v in mine.items()
                 if k not in (used, loss)}
        result = first_step_from(d.optimizer, d.learning_rate, s.value, gradient,
                                 state)[name]
    elif wanted.kind == "loss_after":
        updates = {q.symbol: values[q.key] for q in quantities(d) if q.kind == "update"}
        parameters = [updates.get(s, p) for s, p in zip(d.parameter_symbols, d.parameters)]
        try:
            result = engine.run(parameters, _Names.of(True), "after the update",
                                backward=False).loss
        except DomainError:
            return None
    else:
        return values[key]
    try:
        approx = complex(numeric(result, 30))
    except (TypeError, ValueError):  # zoo or nan: log(0) at ŷ = 0 or 1
        return None
    return result if not approx.imag and math.isfinite(approx.real) else None


def _network_quantities(d: Derivation) -> tuple[Quantity, ...]:
    """A network's askable numbers: each neuron's output ``a2_1`` and error signal
    ``delta2_1`` (``@2`` for sample 2 of a batch), the loss, every gradient ``dL/dw1_2_1``,
    every new value ``w1_2_1_new`` of a parameter that is not frozen, and the loss after."""
    batch = len(d.forward) > 1
    found = []
    for kind, prefix, part in (("activation", "a", "a"), ("delta", "delta", "delta")):
        for f in d.forward:
            tag = f"@{f.sample}" if batch else ""
            found += [Quantity(f"{prefix}{u.layer}_{u.neuron}{tag}", kind,
                               getattr(u, part).value, u.a_symbol if kind == "activation"
                               else Symbol(u.a_symbol.name.replace("a^", "\\delta^", 1)),
                               f.sample) for u in f.units]
    found.append(Quantity("loss", "loss", d.loss.value))
    found += _step_quantities(d)
    found += [Quantity(f"{g.parameter}_new", "update", g.update.value, g.symbol)
              for g in d.gradients if not g.frozen]
    found.append(Quantity("loss_after", "loss_after", d.loss_after.value))
    return tuple(found)


def _network_candidates(d: Derivation, quantity: Quantity) -> list[tuple[str, Expr]]:
    """The values the network mistakes give for ``quantity``, from the record's units."""
    scale = Rational(1, len(d.samples)) if d.loss_function.reduction == "mean" else 1
    last = len(d.network.layers)
    units = [{(u.layer, u.neuron): u for u in f.units} for f in d.forward]
    gradients = {g.parameter: g for g in d.gradients}
    softmax = [act.layer is not None for act in d.activations]
    shifted = _shifted_passes(d) if quantity.kind in ("loss", "delta", "gradient") else ()

    def outer(s, l, j, updated=False, only_first=False):
        """Σ_k w^{(l+1)}_{kj} δ^{(l+1)}_k of sample s, as backprop (or a mistake) forms it."""
        width = d.network.layers[l].width
        terms = []
        for k in range(1, (1 if only_first else width) + 1):
            weight = gradients[f"w{l + 1}_{k}_{j}"]
            w = weight.update.value if updated else d.network.layers[l].weights[k - 1][j - 1]
            terms.append(w * units[s][(l + 1, k)].delta.value)
        return Add(*terms)

    def signal(s, l, j, mistake=None):
        """δ of unit (l, j) in sample s, correct or with a hidden-layer mistake."""
        unit = units[s][(l, j)]
        if mistake == "missing_activation_derivative":
            return unit.upstream.value
        if mistake == "missing_sum":
            return outer(s, l, j, only_first=True) * unit.slope.value
        if mistake == "updated_outer_weights":
            return outer(s, l, j, updated=True) * unit.slope.value
        if mistake == "softmax_diagonal_only":  # slope: the Jacobian's diagonal entry
            return unit.upstream.value * unit.slope.value
        return unit.delta.value

    def hidden_mistakes(l, j):
        names = ["softmax_diagonal_only"] if softmax[l - 1] else []
        if l < last and d.network.layers[l].width > 1:
            names.append("missing_sum")
        if l < last and any(not gradients[f"w{l + 1}_{k}_{j}"].frozen
                            for k in range(1, d.network.layers[l].width + 1)):
            names.append("updated_outer_weights")
        if d.activations[l - 1].name != "identity":
            names.append("missing_activation_derivative")
        return names

    samples = range(len(d.forward))
    candidates: list[tuple[str, Expr]] = []
    if quantity.kind == "activation":
        l, j = (int(n) for n in quantity.key.split("@")[0][1:].split("_"))
        if d.activations[l - 1].name != "identity":
            candidates.append(("z_for_prediction", units[quantity.sample - 1][(l, j)].z.value))
    elif quantity.kind == "delta":
        l, j = (int(n) for n in quantity.key.split("@")[0][5:].split("_"))
        s = quantity.sample - 1
        candidates += [(name, signal(s, l, j, name)) for name in hidden_mistakes(l, j)]
        candidates.append(("flipped_sign", -quantity.value))
        candidates += [("one_hot_shifted", run.delta[s][l - 1][j - 1]) for run in shifted]
    elif quantity.kind == "loss":
        candidates += [("one_hot_shifted", run.loss) for run in shifted]
    elif quantity.kind == "gradient":
        g = gradients[quantity.key[4:]]
        l, j, k = g.layer, g.neuron, g.source

        def incoming(s, source):
            return Rational(1) if source is None else _source(d, s, l, source)

        for name in hidden_mistakes(l, j):
            candidates.append((name, scale * Add(*(signal(s, l, j, name) * incoming(s, k)
                                                   for s in samples))))
        if k is not None:
            candidates.append(("missing_input", scale * Add(*(signal(s, l, j)
                                                              for s in samples))))
            width, before = d.network.layers[l - 1].width, len(d.samples[0].x) if l == 1 else \
                d.network.layers[l - 2].width
            if j != k and k <= width and j <= before:
                candidates.append(("swapped_indices", scale * Add(*(
                    signal(s, l, k) * _source(d, s, l, j) for s in samples))))
        if l == last and d.loss_function.name in ("squared", "mse"):
            candidates.append(("missing_factor_two", quantity.value / 2))
        candidates.append(("flipped_sign", -quantity.value))
        position = d.parameter_symbols.index(quantity.symbol)
        candidates += [("one_hot_shifted", run.totals[position]) for run in shifted]
    elif quantity.kind == "update":
        g = gradients[quantity.key[:-4]]
        candidates += [("plus_instead_of_minus", g.update.value + 2 * d.learning_rate * g.value),
                       ("missing_learning_rate", d.parameters[d.gradients.index(g)] - g.value)]
    return candidates


def _step_part(quantity: Quantity) -> tuple[str, str]:
    """The value of a parameter's first step a quantity is, and the parameter:
    ``m_hat_w`` -> ("m_hat", "w"), ``w_new`` -> ("p", "w"), ``dJ/dw`` -> ("g", "w")."""
    key = quantity.key
    if quantity.kind == "update":
        return "p", key.removesuffix("_new")
    if quantity.kind in ("gradient", "objective_gradient"):
        return "g", key[4:]
    return next((name, key[len(name) + 1:]) for name in ("m_hat", "v_hat", "m", "v")
                if key.startswith(name + "_"))


def _training_candidates(d: Derivation, quantity: Quantity) -> list[tuple[str, Expr]]:
    """The values the mistakes of an L2 penalty and of an optimizer's first step give for
    the objective J, a gradient ∂J/∂p, a state value or a new parameter: each the
    optimizer's rule (:func:`~symgrad.maths.training.first_step_from`) worked from a
    wrong gradient or with a wrong value put in."""
    o, rate, lam = d.optimizer, d.learning_rate, d.l2
    steps = first_step(d)
    if quantity.kind == "objective":
        loss, penalty = d.loss.value, d.objective.value - d.loss.value
        biases = lam / 2 * Add(*(s.value ** 2 for s in steps if s.is_bias))
        candidates = [("l2_forgotten", loss), ("l2_without_half", loss + 2 * penalty)]
        if biases != 0:
            candidates.append(("l2_bias_not_penalised", loss + penalty - biases)
                              if d.l2_biases else ("l2_bias_penalised", loss + penalty + biases))
        return candidates
    name, parameter = _step_part(quantity)
    s = next(s for s in steps if s.parameter == parameter)
    gl, p = s.loss_gradient, s.value
    slips = []  # (mistake, the wrong gradient the step is worked from)
    if lam and s.decayed:
        slips += [("l2_bias_not_penalised" if s.is_bias else "l2_forgotten", gl),
                  ("l2_lambda_only", gl + lam), ("l2_half_kept", gl + lam * p / 2),
                  ("l2_without_half", gl + 2 * lam * p)]
    elif lam and s.is_bias:
        slips.append(("l2_bias_penalised", gl + lam * p))
    if quantity.kind == "objective_gradient":
        return slips
    right = dict(s.state)

    def worked(optimizer: Optimizer, gradient: Expr, given=None) -> Expr:
        return first_step_from(optimizer, rate, p, gradient, given)[name]

    candidates = [(mistake, worked(o, g)) for mistake, g in slips]
    settings = dict(o.settings)
    adam = Optimizer("adam", **{k: v for k, v in settings.items() if k != "weight_decay"}) \
        if o.name == "adamw" else o
    if o.name == "adamw":
        candidates.append(("decay_as_l2", worked(adam, s.gradient + o.weight_decay * p)))
    if lam and s.decayed:  # decoupled: decay p, then the optimizer's step on ∂L/∂p alone
        candidates.append(("l2_as_decay", worked(o, gl) - (rate * lam * p if name == "p"
                                                          else 0)))
    if name in ("m_hat", "v_hat"):
        candidates.append(("no_bias_correction", right[name[0]]))
    if name != "p":
        return candidates
    if o.name in ("adam", "adamw"):
        candidates += [("no_bias_correction", worked(o, s.gradient, {
                            "m_hat": right["m"], "v_hat": right["v"]})),
                       ("divided_by_v", worked(o, s.gradient, {"v_hat": right["v_hat"] ** 2}))]
    if o.name == "adamw":
        candidates.append(("weight_decay_forgotten", worked(adam, s.gradient)))
    if o.name == "rmsprop":
        candidates.append(("divided_by_v", worked(o, s.gradient, {"v": right["v"] ** 2})))
    if o.name == "nesterov":
        candidates.append(("velocity_unused", worked(o, s.gradient, {"v": 0})))
    candidates += [("plus_instead_of_minus", 2 * p - s.new),
                   ("missing_learning_rate", p - (p - s.new) / rate)]
    return candidates


def _shifted_passes(d: Derivation) -> tuple:
    """Backpropagation with each sample's one-hot class moved to the class after it, then
    to the class before it (cyclically; one pass for two classes): what a learner who
    reads the target off by one works out. None unless the outputs are a softmax's with
    one-hot targets."""
    targets = [f.sample_data.targets for f in d.forward]
    if d.activations[-1].layer is None or any(sorted(t) != [0] * (len(t) - 1) + [1]
                                               for t in targets):
        return ()
    classes = len(targets[0])
    passes = []
    for step in sorted({1, classes - 1}):
        samples = tuple(Sample(x=f.sample_data.x, y=t[-step:] + t[:-step])
                        for f, t in zip(d.forward, targets))
        passes.append(_Engine(d.network, samples).run(d.parameters, _Names.of(False)))
    return tuple(passes)


def _source(d: Derivation, s: int, l: int, k: int) -> Expr:
    """Input k of layer l in sample s: x_k, or the output of neuron k of layer l - 1."""
    if l == 1:
        return d.forward[s].sample_data.x[k - 1]
    return next(u.a.value for u in d.forward[s].units if (u.layer, u.neuron) == (l - 1, k))


def _same(value: Expr, other: Expr) -> bool:
    """Whether two values are the same number; for named values (carried to PRECISION
    digits) when they agree to SAME_DIGITS digits, since two names of one number (a
    softmax's δ worked twice) differ in their rounding."""
    if value.is_Rational and other.is_Rational:
        return value == other
    first, second = digits_of(value), digits_of(other)
    if first is not None and second is not None and abs(first - second) > (
            abs(first) + abs(second)) * DIGITS_ERROR:
        return False  # clearly apart, without SymPy's exact difference
    difference = value - other
    if not difference.atoms(Defined):
        return sign(difference) == 0
    # Each side to more digits than the bound asks (named values carry PRECISION): their
    # difference worked as one value would work the named values again, at more and more
    # bits, for two values that are equal.
    first, second = numeric(value, SAME_DIGITS + 5), numeric(other, SAME_DIGITS + 5)
    size = max(abs(second), 1)
    return bool(abs(first - second) <= size * Rational(1, 10 ** SAME_DIGITS))


def _indistinct(value: Expr, correct: Expr) -> bool:
    """Whether ``value`` is within :data:`INDISTINCT` of the correct value, relatively
    (Adam's step on a slightly wrong gradient is still about α). Decided from 40 digits
    of each when the distance is clearly on one side of the bound (SymPy's exact
    difference of two irrational values costs a millisecond), else from 30 digits of it."""
    first, second = digits_of(value), digits_of(correct)
    if first is not None and second is not None:
        closer = closer_by_digits(first, second, max(abs(first), abs(second)) * _INDISTINCT)
        if closer is not None:
            return closer
    first, second = numeric(value, 30), numeric(correct, 30)
    if value.has(Defined) or correct.has(Defined):
        # Each side to 30 digits, far finer than the bound: their difference worked as one
        # value would work the named values again, at more and more bits, when they are equal.
        return bool(abs(first - second) <= max(abs(first), abs(second)) * INDISTINCT)
    return bool(abs(numeric(value - correct, 30)) <= max(abs(first), abs(second)) * INDISTINCT)


def _differing(correct: Expr, candidates, distinct: bool) -> tuple[Mistake, ...]:
    """Keep the mistakes whose values differ from the correct one (and, when ``distinct``,
    from each other)."""
    kept: list[Mistake] = []
    for name, value in candidates:
        if any(k.name == name and _same(value, k.value) for k in kept):
            continue  # one mistake reached twice (a class shifted either way)
        approx = 0 if value.is_Rational else complex(numeric(value, 30))
        if approx.imag or not math.isfinite(approx.real):
            continue  # e.g. log of a negative number: no number a learner could write
        if _indistinct(value, correct):
            continue  # no learner could tell it from the right answer
        others = [correct] + ([k.value for k in kept] if distinct else [])
        if not any(_same(value, other) for other in others):
            kept.append(Mistake(name, MISTAKES[name], value))
    return tuple(kept)
