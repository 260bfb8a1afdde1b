"""Backpropagation through a feed-forward network, every chain-rule factor shown.

The maths of derive.py, layer by layer: the forward pass ``z = W a + b``,
``a = f(z)``; the backward pass with each neuron's error signal ``δ = dL/dz``
(``dL/da · f'(z)`` at the outputs, ``(Σ_k w_kj δ_k) · f'(z)`` in hidden layers);
the gradients ``dL/dw_jk = δ_j a_k`` and ``dL/db_j = δ_j``; the update; the loss again.

Nothing is composed into one big expression: each local factor is symbolic, and
exact numbers flow layer by layer, each δ computed once, as backprop does. A value
that is not a short exact number becomes a named exact value (``Defined``), so the
work grows linearly with depth.
"""

from __future__ import annotations

from dataclasses import dataclass

from sympy import Add, Expr, MatMul, Matrix, Mul, Rational, Symbol

from .activations import Activation, activation as find_activation
from .derive import (PREDICTION, TARGET, Z, Formula, _descent, _evaluate, _numbers_in, _product,
                     _reduce, _show, _working, step_inputs)
from .errors import ShapeError
from .losses import Loss, loss as find_loss
from .model import Defined, Given, Network, Sample

__all__ = ["NetworkDerivation", "Neuronwise", "Backward", "NetworkGradient", "MatrixStep",
           "derive_network", "composed_network_loss"]

# An exact value with more operations than this is given a name of its own.
MAX_INLINE_OPS = 12


@dataclass(frozen=True, slots=True)
class Neuronwise:
    """The forward working of one neuron of one layer for one sample."""

    layer: int
    neuron: int
    z: Formula
    a: Formula


@dataclass(frozen=True, slots=True)
class Backward:
    """The error signal δ = dL/dz of one neuron for one sample.

    ``upstream`` is ``dL/da`` at an output and ``Σ_k w_kj δ_k`` in a hidden layer;
    ``slope`` is ``f'(z)``; ``delta`` is their product.
    """

    layer: int
    neuron: int
    upstream: Formula
    slope: Formula
    delta: Formula


@dataclass(frozen=True, slots=True)
class NetworkGradient:
    """``dL/dp`` for one weight or bias: ``δ·a`` per sample, their reduction, the update."""

    parameter: str
    symbol: Symbol
    per_sample: tuple[Formula, ...]
    total: Formula | None
    value: Expr
    frozen: bool
    update: Formula


@dataclass(frozen=True, slots=True)
class MatrixStep:
    """One layer of the backward pass of one sample in matrix form, numbers shown:
    ``δ = (W^T δ_next) ⊙ f'(z)`` (``∇_a L ⊙ f'(z)`` at the outputs), ``∂L/∂W = δ aᵀ``."""

    layer: int
    backprop: Expr | None   # W^T δ_next as a product of matrices; None at the outputs
    upstream: Matrix
    slope: Matrix
    delta: Matrix
    inputs: Matrix          # (a^{(l-1)})^T, a row
    gradient: Matrix


@dataclass(frozen=True, slots=True)
class NetworkDerivation:
    """A worked gradient-descent step of a network."""

    network: Network
    samples: tuple[Sample, ...]
    learning_rate: Rational
    parameter_names: tuple[str, ...]
    parameter_symbols: tuple[Symbol, ...]
    parameters: tuple[Expr, ...]
    forward: tuple[tuple[Neuronwise, ...], ...]        # [sample][neuron, layer by layer]
    losses: tuple[Formula, ...]                         # one per sample
    loss: Formula
    backward: tuple[tuple[Backward, ...], ...]         # [sample][neuron, last layer first]
    gradients: tuple[NetworkGradient, ...]
    forward_after: tuple[tuple[Neuronwise, ...], ...]
    loss_after: Formula
    activations: tuple[Activation, ...]
    loss_function: Loss
    matrices: tuple[tuple[MatrixStep, ...], ...]        # [sample][layer, last layer first]

    @property
    def updated(self) -> tuple[Expr, ...]:
        """The parameters after the step."""
        return tuple(g.update.value for g in self.gradients)


def _symbol(kind: str, layer: int, *indices: int) -> Symbol:
    """``w^{(l)}_{jk}``, ``a^{(l)}_{j}``, ... as SymPy symbols (real, as in derive.py)."""
    return Symbol(f"{kind}^{{({layer})}}_{{{''.join(map(str, indices))}}}", real=True)


class _Names:
    """Names for the exact values of one derivation, so no two collide."""

    def __init__(self):
        self.count = 0

    def define(self, label: str, value: Expr) -> Expr:
        """``value`` itself when short, else a named exact value."""
        if value.is_Rational or (not value.atoms(Defined) and value.count_ops() <= MAX_INLINE_OPS):
            return value
        self.count += 1
        return Defined(f"{label}#{self.count}", value)


@dataclass(frozen=True, slots=True)
class _Pass:
    """Exact numbers of a forward and backward pass: [sample][layer][neuron]."""

    z: tuple
    a: tuple
    losses: tuple
    loss: Expr
    upstream: tuple
    slope: tuple
    delta: tuple
    gradients: tuple[tuple[Expr, ...], ...]   # [parameter][sample]
    totals: tuple[Expr, ...]


class _NetworkProblem:
    """A network's local formulas, evaluated at given parameter values."""

    def __init__(self, network: Network, samples: tuple[Sample, ...]):
        self.network = network
        self.samples = samples
        self.activations = tuple(find_activation(layer.activation) for layer in network.layers)
        self.loss = find_loss(network.loss)
        outputs = network.layers[-1].width
        for i, sample in enumerate(samples, 1):
            if len(sample.x) != network.layers[0].inputs:
                raise ShapeError(f"sample {i} has {len(sample.x)} inputs but the first layer "
                                 f"takes {network.layers[0].inputs}")
            if len(sample.targets) != outputs:
                raise ShapeError(f"sample {i} has {len(sample.targets)} targets but the "
                                 f"network has {outputs} outputs")
        self.f = [act.function(Z, network.slope) for act in self.activations]
        self.df = [act.derivative(Z, network.slope) for act in self.activations]
        self.ell = self.loss.function(PREDICTION, TARGET, network.delta)
        self.dell = self.loss.derivative(PREDICTION, TARGET, network.delta)
        self.output_scale = Rational(1, outputs) if network.outputs == "mean" else Rational(1)
        self.scale = Rational(1, len(samples)) if self.loss.reduction == "mean" else Rational(1)

    def unpack(self, parameters) -> list[tuple[list[list[Expr]], list[Expr] | None]]:
        """Parameters in the order of ``parameter_names`` -> (weights, biases) per layer."""
        values, position, layers = list(parameters), 0, []
        for layer in self.network.layers:
            count = layer.width * layer.inputs
            flat = values[position:position + count]
            position += count
            weights = [flat[j * layer.inputs:(j + 1) * layer.inputs] for j in range(layer.width)]
            biases = None
            if layer.biases is not None:
                biases = values[position:position + layer.width]
                position += layer.width
            layers.append((weights, biases))
        return layers

    def run(self, parameters, names: _Names) -> _Pass:
        """The forward and backward pass at ``parameters``, every δ computed once."""
        layers = self.unpack(parameters)
        zs, as_, losses, ups, slopes, deltas = [], [], [], [], [], []
        for sample in self.samples:
            inputs = list(sample.x)
            sample_z, sample_a = [], [inputs]
            for l, ((weights, biases), f) in enumerate(zip(layers, self.f), 1):
                z = [names.define(f"z{l}_{j}", Add(*(w * a for w, a in zip(row, inputs)))
                                  + (biases[j - 1] if biases else 0))
                     for j, row in enumerate(weights, 1)]
                inputs = [names.define(f"a{l}_{j}", _evaluate(f, {Z: value}))
                          for j, value in enumerate(z, 1)]
                sample_z.append(z)
                sample_a.append(inputs)
            outputs = sample_a[-1]
            ell = self.output_scale * Add(*(
                _evaluate(self.ell, {PREDICTION: a, TARGET: y})
                for a, y in zip(outputs, sample.targets)))
            losses.append(names.define("L", ell))
            # Backward: the outputs first, then each hidden layer from its successor's δ.
            sample_up, sample_slope, sample_delta = [], [], []
            upstream = [names.define("dL/da", self.output_scale * _evaluate(
                self.dell, {PREDICTION: a, TARGET: y})) for a, y in zip(outputs, sample.targets)]
            for l in range(len(layers), 0, -1):
                slope = [names.define(f"f'{l}_{j}", _evaluate(self.df[l - 1], {Z: z}))
                         for j, z in enumerate(sample_z[l - 1], 1)]
                delta = [names.define(f"d{l}_{j}", u * d)
                         for j, (u, d) in enumerate(zip(upstream, slope), 1)]
                sample_up.insert(0, upstream)
                sample_slope.insert(0, slope)
                sample_delta.insert(0, delta)
                if l > 1:
                    weights = layers[l - 1][0]
                    upstream = [names.define(f"s{l - 1}_{k}", Add(*(
                        weights[j][k - 1] * delta[j] for j in range(len(delta)))))
                        for k in range(1, len(sample_z[l - 2]) + 1)]
            zs.append(sample_z)
            as_.append(sample_a)
            ups.append(sample_up)
            slopes.append(sample_slope)
            deltas.append(sample_delta)
        gradients = []
        for l, (weights, biases) in enumerate(layers, 1):
            for j in range(len(weights)):
                for k in range(len(weights[j])):
                    gradients.append(tuple(names.define(f"g{l}", deltas[s][l - 1][j]
                                                        * as_[s][l - 1][k])
                                           for s in range(len(self.samples))))
            if biases is not None:
                gradients += [tuple(deltas[s][l - 1][j] for s in range(len(self.samples)))
                              for j in range(len(weights))]
        totals = tuple(names.define("g", self.scale * Add(*g)) for g in gradients)
        loss = names.define("L", self.scale * Add(*losses))
        return _Pass(tuple(zs), tuple(as_), tuple(losses), loss, tuple(ups), tuple(slopes),
                     tuple(deltas), tuple(gradients), totals)


def derive_network(network: Network, samples, *, learning_rate="0.1") -> NetworkDerivation:
    """Derive one worked gradient-descent step of ``network``.

    >>> from symgrad.model import Layer
    >>> net = Network(layers=[Layer([["0.5"]], ["0.1"], "identity")])
    >>> d = derive_network(net, [Sample(x="2.0", y="1.5")])
    >>> [g.value for g in d.gradients], d.updated
    ([-8/5, -4/5], (33/50, 9/50))
    """
    samples, rate = step_inputs(samples, learning_rate)
    problem = _NetworkProblem(network, samples)
    names = _Names()
    parameters = network.parameters
    first = problem.run(parameters, names)
    frozen = [network.is_frozen(name) for name in network.parameter_names]
    updated = tuple(p if still else names.define("p", p - rate * g)
                    for p, g, still in zip(parameters, first.totals, frozen))
    after = problem.run(updated, names)
    symbols = _parameter_symbols(network)
    forward = _forward_working(problem, parameters, first)
    gradients = []
    for index, (name, symbol) in enumerate(zip(network.parameter_names, symbols)):
        layer, neuron, source = _position(name)
        per_sample = []
        for s in range(len(samples)):
            delta = first.delta[s][layer - 1][neuron - 1]
            if source is None:
                per_sample.append(Formula(None, None, delta))
            else:
                incoming = first.a[s][layer - 1][source - 1]
                delta_symbol = _symbol("\\delta", layer, neuron)
                input_symbol = (Symbol(f"x_{source}", real=True) if layer == 1
                                else _symbol("a", layer - 1, source))
                product = Mul(delta_symbol, input_symbol, evaluate=False)
                per_sample.append(Formula(product, _show(product, {delta_symbol: delta,
                                                                   input_symbol: incoming}),
                                          first.gradients[index][s]))
        value = first.totals[index]
        total = (_reduce(problem.scale, None, first.gradients[index], value)
                 if len(samples) > 1 else None)
        update = (Formula(None, None, parameters[index]) if frozen[index] else Formula(
            None, _numbers_in(_descent, (parameters[index], rate, value)), updated[index]))
        gradients.append(NetworkGradient(name, symbol, tuple(per_sample), total, value,
                                         frozen[index], update))
    backward = _backward_working(problem, parameters, first)
    matrices = _matrix_working(problem, parameters, first)
    return NetworkDerivation(
        network=network, samples=samples, learning_rate=rate,
        parameter_names=network.parameter_names, parameter_symbols=symbols,
        parameters=parameters, forward=forward,
        losses=tuple(Formula(None, None, value) for value in first.losses),
        loss=Formula(None, None, first.loss), backward=backward, gradients=tuple(gradients),
        forward_after=_forward_working(problem, updated, after),
        loss_after=Formula(None, None, after.loss), activations=problem.activations,
        loss_function=problem.loss, matrices=matrices)


def _position(name: str) -> tuple[int, int, int | None]:
    """``w2_13`` -> (2, 1, 3); ``b2_1`` -> (2, 1, None)."""
    layer, indices = name[1:].split("_")
    if name[0] == "b":
        return int(layer), int(indices), None
    return int(layer), int(indices[:-1]), int(indices[-1])


def _parameter_symbols(network: Network) -> tuple[Symbol, ...]:
    symbols = []
    for name in network.parameter_names:
        layer, neuron, source = _position(name)
        symbols.append(_symbol("w", layer, neuron, source) if source else
                       _symbol("b", layer, neuron))
    return tuple(symbols)


def _forward_working(problem: _NetworkProblem, parameters, numbers: _Pass):
    """z = Σ w a + b and a = f(z) for every neuron of every sample, with numbers."""
    layers = problem.unpack(parameters)
    rows = []
    for s in range(len(problem.samples)):
        sample_rows = []
        for l, ((weights, biases), f) in enumerate(zip(layers, problem.f), 1):
            previous = [Symbol(f"x_{k}", real=True) if l == 1 else _symbol("a", l - 1, k)
                        for k in range(1, len(weights[0]) + 1)]
            for j, row in enumerate(weights, 1):
                w_symbols = [_symbol("w", l, j, k) for k in range(1, len(row) + 1)]
                terms = [Mul(w, a, evaluate=False) for w, a in zip(w_symbols, previous)]
                values = dict(zip(w_symbols, row)) | dict(zip(
                    previous, numbers.a[s][l - 1]))
                if biases is not None:
                    b = _symbol("b", l, j)
                    terms.append(b)
                    values[b] = biases[j - 1]
                linear = Add(*terms, evaluate=False) if len(terms) > 1 else terms[0]
                z_value = numbers.z[s][l - 1][j - 1]
                a_value = numbers.a[s][l][j - 1]
                sample_rows.append(Neuronwise(
                    l, j, _working(linear, values, z_value),
                    _working(f.xreplace({Z: _symbol("z", l, j)}), {_symbol("z", l, j): z_value},
                             a_value)))
        rows.append(tuple(sample_rows))
    return tuple(rows)


def _backward_working(problem: _NetworkProblem, parameters, numbers: _Pass):
    """δ = upstream · f'(z) for every neuron of every sample, outputs first."""
    layers = problem.unpack(parameters)
    rows = []
    last = len(layers)
    for s, sample in enumerate(problem.samples):
        sample_rows = []
        for l in range(last, 0, -1):
            for j in range(1, len(layers[l - 1][0]) + 1):
                z = _symbol("z", l, j)
                a = _symbol("a", l, j)
                if l == last:
                    y = Symbol(f"y_{j}", real=True)
                    upstream = _working(problem.dell.xreplace({PREDICTION: a, TARGET: y}),
                                        {a: numbers.a[s][l][j - 1], y: sample.targets[j - 1]},
                                        numbers.upstream[s][l - 1][j - 1])
                else:
                    after = layers[l][0]
                    terms = {_symbol("w", l + 1, k, j): after[k - 1][j - 1]
                             for k in range(1, len(after) + 1)}
                    deltas = {_symbol("\\delta", l + 1, k): numbers.delta[s][l][k - 1]
                              for k in range(1, len(after) + 1)}
                    symbolic = Add(*(Mul(w, d, evaluate=False)
                                     for w, d in zip(terms, deltas)), evaluate=False) \
                        if len(terms) > 1 else Mul(*terms, *deltas, evaluate=False)
                    upstream = _working(symbolic, terms | deltas,
                                        numbers.upstream[s][l - 1][j - 1])
                slope = _working(problem.df[l - 1].xreplace({Z: z}),
                                 {z: numbers.z[s][l - 1][j - 1]},
                                 numbers.slope[s][l - 1][j - 1])
                delta = Formula(None, _numbers_in(_product, (upstream.value, slope.value)),
                                numbers.delta[s][l - 1][j - 1])
                sample_rows.append(Backward(l, j, upstream, slope, delta))
        rows.append(tuple(sample_rows))
    return tuple(rows)


def _shown_matrix(rows) -> Matrix:
    """A matrix of numbers kept visible (rounded for display, exact underneath)."""
    return Matrix([[Given(value) for value in row] for row in rows])


def _matrix_working(problem: _NetworkProblem, parameters, numbers: _Pass):
    """The backward pass of every sample as matrices, last layer first."""
    layers = problem.unpack(parameters)
    steps = []
    for s in range(len(problem.samples)):
        sample_steps = []
        for l in range(len(layers), 0, -1):
            backprop = None
            if l < len(layers):
                weights = layers[l][0]
                transposed = _shown_matrix([[row[k] for row in weights]
                                            for k in range(len(weights[0]))])
                backprop = MatMul(transposed, _shown_matrix(
                    [[d] for d in numbers.delta[s][l]]), evaluate=False)
            column = lambda values: _shown_matrix([[v] for v in values])  # noqa: E731
            delta = numbers.delta[s][l - 1]
            inputs = numbers.a[s][l - 1]
            sample_steps.append(MatrixStep(
                l, backprop, column(numbers.upstream[s][l - 1]),
                column(numbers.slope[s][l - 1]), column(delta), _shown_matrix([inputs]),
                _shown_matrix([[d * a for a in inputs] for d in delta])))
        steps.append(tuple(sample_steps))
    return tuple(steps)


def composed_network_loss(network: Network, samples) -> tuple[Expr, tuple[Symbol, ...]]:
    """The whole loss as one expression of the parameters, for checks on small networks."""
    problem = _NetworkProblem(network, tuple(samples))
    symbols = _parameter_symbols(network)
    layers = problem.unpack(symbols)
    total = []
    for sample in problem.samples:
        inputs = list(sample.x)
        for (weights, biases), f in zip(layers, problem.f):
            inputs = [_evaluate(f, {Z: Add(*(w * a for w, a in zip(row, inputs)))
                                    + (biases[j] if biases else 0)})
                      for j, row in enumerate(weights)]
        total.append(problem.output_scale * Add(*(
            _evaluate(problem.ell, {PREDICTION: a, TARGET: y})
            for a, y in zip(inputs, sample.targets))))
    return problem.scale * Add(*total), symbols
