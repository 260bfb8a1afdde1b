"""The one engine: the forward pass, backpropagation, the update and the training loop
of any feed-forward network; a single neuron is a network of one layer of width one.

The forward pass is ``z = Σ w a + b``, ``a = f(z)``; the backward pass gives each
neuron's error signal ``δ = ∂L/∂z`` (``∂L/∂a · f'(z)`` at the outputs,
``(Σ_k w_kj δ_k) · f'(z)`` in hidden layers, each δ computed once; through a softmax
output layer, whose outputs each depend on every z, ``δ_k = Σ_j ∂L/∂a_j · ∂a_j/∂z_k``
with its Jacobian); the gradients are
``∂L/∂w_jk = δ_j a_k`` and ``∂L/∂b_j = δ_j``. For a single neuron, ``δ · x`` is the
lesson's chain ``∂L/∂ŷ · ∂ŷ/∂z · ∂z/∂w``.

Nothing is composed into one big expression: exact numbers flow unit by unit, and a
value that is not a short exact number becomes a named exact value (``Defined``), so
the work grows linearly with depth, width and training steps. The result is a
:class:`~symgrad.maths.records.Derivation` that every view reads.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

from sympy import (Add, Expr, Function, Integer, MatMul, Matrix, Mul, Pow, Rational,
                   Symbol, cancel, degree)

from .activations import activation as find_activation
from ..collector import collecting_rarely
from ..errors import DomainError, NumberError, ShapeError, SymgradError
from .losses import loss as find_loss
from .model import (Defined, Given, Network, Neuron, Optimizer, Sample, decimal, exact,
                    numeric, seed_neuron, seed_samples, whole_number)
from .steps import (DerivativeSteps, activation_steps, loss_steps,
                    softmax_cross_entropy_steps, softmax_steps)
from .records import (HUBER_DELTA, PREDICTION, TARGET, Z, Derivation, FiniteDifference,
                      BatchLayer, Forward, Gradient, Iteration, Jacobian, MatrixStep, Reading,
                      Unit)
from .training import L2, Updater, update_working
from .working import (Formula, approx, change, combined, descent, evaluate, numbers_in, product,
                      reduce, show, unevaluated, working)
from .working import sign as working_sign

__all__ = ["derive", "training_settings", "step_inputs", "step_numbers", "StepNumbers",
           "composed_loss", "Z",
           "PREDICTION", "TARGET", "HUBER_DELTA", "TINY", "MAX_STEPS"]

# A gradient smaller than this in size barely moves its parameter.
TINY = Rational(1, 1000)
# At most this many training steps, so a typo cannot run for hours.
MAX_STEPS = 10_000
# In a network, an exact value with more operations than this gets a name of its own; a
# single neuron's values stay written out unless they grow past MAX_NEURON_OPS (a training
# loop nests e^(e^(...)) step after step).
MAX_INLINE_OPS = 12
MAX_NEURON_OPS = 100
# A rational with more bits than this (an ordinary decimal after many steps) gets a name.
MAX_RATIONAL_BITS = 256
# A tiny slope whose sign changes this close to z is a turning point, not saturation.
TURNING = Rational(1, 100)
# The step h of the finite-difference check.
FINITE_DIFFERENCE_STEP = Rational(1, 10**6)
# Values the training loop carries from step to step: the parameters and the optimizer's
# state, named once they grow (a neuron's worked values stay written out).
_CARRIED = {"p", "v", "m", "m_hat", "v_hat", "J", "gJ"}
# Adam's first step moves a parameter by α·|g|/(|g| + ε); with |g| at least this many
# times ε that is α to within 0.1%.
NEAR_RATE = 1000


class _Names:
    """Names for the exact values of one derivation, so no two collide.

    A value is named when it refers to named values, when it is a long rational, or when
    it has more operations than ``inline_ops`` (parameters: ``parameter_ops``; None: no
    limit). So a deep network names every long value, while a single neuron's worked step
    stays written out and only its training loop's parameters get names once they grow.
    """

    def __init__(self, inline_ops: int | None, parameter_ops: int | None = None):
        self.inline_ops = inline_ops
        self.parameter_ops = inline_ops if parameter_ops is None else parameter_ops
        self.count = 0

    @classmethod
    def of(cls, lesson: bool) -> _Names:
        """The naming rule of a single neuron (``lesson``) or of a network."""
        return cls(None, MAX_NEURON_OPS) if lesson else cls(MAX_INLINE_OPS)

    def define(self, label: str, value: Expr) -> Expr:
        """``value`` itself when short, else a named exact value."""
        limit = self.parameter_ops if label in _CARRIED else self.inline_ops
        if value.is_Rational:
            if value.p.bit_length() + value.q.bit_length() <= MAX_RATIONAL_BITS:
                return value
        elif not value.atoms(Defined) and (limit is None or value.count_ops() <= limit):
            return value
        self.count += 1
        # An identifier, so that the exact text of a value that refers to it is SymPy text
        # that reads back (a2_1__3; "a2_1#3" would read as a2_1, "dL/da#8" as dL/da).
        return Defined(f"{label}__{self.count}", value)


@dataclass(frozen=True, slots=True)
class _Pass:
    """Exact numbers of a forward and backward pass: [sample][layer][neuron]."""

    z: tuple
    a: tuple            # a[s][0] are the inputs x
    terms: tuple        # [sample][output]: each output's loss term
    losses: tuple       # [sample]
    loss: Expr
    upstream: tuple
    slope: tuple
    delta: tuple
    gradients: tuple[tuple[Expr, ...], ...]   # [parameter][sample]
    totals: tuple[Expr, ...]
    jacobian: tuple = ()  # [sample][layer]: a softmax layer's ∂a_j/∂z_k, rows j; else None


@lru_cache(maxsize=256)
def _activation_formulas(activation, slope: Rational) -> tuple[Expr, Expr]:
    """``f(z)`` and ``f'(z)``, built once: SymPy takes longer to build ``max(0, z)`` than
    to evaluate it, and drawing a sheet builds an engine for every candidate problem."""
    return activation.function(Z, slope), activation.derivative(Z, slope)


@lru_cache(maxsize=256)
def _layer_formulas(activation, width: int) -> tuple[tuple, tuple, tuple, tuple]:
    """A layer-wide activation's formulas for ``width`` neurons: the symbols z_k, every
    output in them, the symbols a_j and the Jacobian ∂a_j/∂z_k written in those."""
    zs = tuple(Symbol(f"z_{k}", real=True) for k in range(1, width + 1))
    outputs = tuple(Symbol(f"a_{j}", real=True) for j in range(1, width + 1))
    return zs, activation.layer(zs), outputs, activation.jacobian(outputs)


# A softmax with categorical cross-entropy: δ_k = Σ_j (-y_j/a_j) a_j(δ_jk - a_k) = a_k - y_k.
CLASS_OUTPUT, CLASS_TARGET = Symbol("a_k", real=True), Symbol("y_k", real=True)


@lru_cache(maxsize=256)
def _loss_formulas(loss, delta: Rational) -> tuple[Expr, Expr]:
    """``L(ŷ, y)`` and ``∂L/∂ŷ``, built once (see :func:`_activation_formulas`)."""
    return loss.function(PREDICTION, TARGET, delta), loss.derivative(PREDICTION, TARGET, delta)


class _Engine:
    """A network's local formulas, evaluated at given parameter values."""

    def __init__(self, network: Network, samples: tuple[Sample, ...]):
        self.network = network
        self.activations = tuple(find_activation(layer.activation) for layer in network.layers)
        self.loss = find_loss(network.loss)
        outputs = network.layers[-1].width
        self._check_layer_activations()
        classes = self.activations[-1].layer is not None
        self.samples = samples = tuple(_class_targets(s, outputs) if classes else s
                                       for s in samples)
        for i, sample in enumerate(samples, 1):
            if len(sample.x) != network.layers[0].inputs:
                raise ShapeError(f"sample {i} has {len(sample.x)} input(s) x but the first "
                                 f"layer takes {network.layers[0].inputs}; give one x per w")
            if len(sample.targets) != outputs:
                raise ShapeError(f"sample {i} has {len(sample.targets)} target(s) y but the "
                                 f"network has {outputs} output(s)")
            if self.loss.targets:
                for y in sample.targets:
                    if problem := self.loss.targets(y):
                        raise DomainError(problem)
            if self.loss.categorical and sum(sample.targets) != 1:
                raise DomainError(f"{network.loss} reads sample {i}'s targets as a "
                                  "distribution over the classes, so they sum to 1, not "
                                  f"{sum(sample.targets)}; give a class (y = 2) or one-hot "
                                  "targets (y = [0, 1, 0])")
        self.f, self.df = zip(*(_activation_formulas(act, network.slope)
                                if act.layer is None else (None, None)
                                for act in self.activations))
        self.vector = tuple(_layer_formulas(act, layer.width) if act.layer else None
                            for act, layer in zip(self.activations, network.layers))
        self.ell, self.dell = _loss_formulas(self.loss, network.delta)
        self.output_scale = Rational(1, outputs) if network.outputs == "mean" else Rational(1)
        self.scale = Rational(1, len(samples)) if self.loss.reduction == "mean" else Rational(1)

    def _check_layer_activations(self):
        """A layer-wide activation only on a wide output layer; a categorical loss only
        after one, summed over the classes."""
        layers = self.network.layers
        for l, (act, layer) in enumerate(zip(self.activations, layers), 1):
            if act.layer is None:
                continue
            if l < len(layers):
                raise ShapeError(f"{act.name} goes on the output layer only (here layer {l} "
                                 "of " f"{len(layers)}): it turns the outputs into class "
                                 "probabilities; give hidden layers an elementwise activation")
            if layer.width < 2:
                raise ShapeError(f"{act.name} needs an output layer of at least 2 neurons, one "
                                 "per class: over one output it is always 1 and learns nothing")
        if self.loss.categorical:
            if self.activations[-1].layer is None:
                raise ShapeError(f"{self.loss.name} needs a softmax output layer, whose "
                                 "outputs are class probabilities; for outputs that are each "
                                 "a probability of their own, use sigmoid with bce")
            if self.network.outputs != "sum":
                raise ShapeError(f"{self.loss.name} sums over the classes; give outputs = "
                                 "'sum', not 'mean'")

    def layer_outputs(self, l: int, z, shallow: bool = False) -> list[Expr]:
        """The outputs ``a = f(z)`` of layer ``l`` (each from every z, for a softmax);
        ``shallow`` is :func:`~symgrad.maths.working.evaluate`'s."""
        if self.vector[l - 1] is not None:
            symbols, formulas, _, _ = self.vector[l - 1]
            at = dict(zip(symbols, z))
            return [evaluate(formula, at, shallow=shallow) for formula in formulas]
        return [evaluate(self.f[l - 1], {Z: value}, shallow=shallow) for value in z]

    def _slope(self, l: int, j: int, z: Expr, output: Expr | None, names: _Names) -> Expr:
        """``f'(z)`` of layer ``l``; written through ``output`` when one is given and the
        activation has that form."""
        form = self.activations[l - 1].output_form
        if output is not None and form is not None:
            return evaluate(form(PREDICTION), {PREDICTION: output})
        return names.define(f"df{l}_{j}", evaluate(self.df[l - 1], {Z: z}))

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

    def _check_real(self, l: int, z, outputs, sample: int, when: str):
        """A custom activation's outputs are real numbers (``sqrt(z)`` at z < 0 is not)."""
        for j, (value, a) in enumerate(zip(z, outputs), 1):
            if not numeric(a, 15).is_Number:
                where = [f"sample {sample}" if len(self.samples) > 1 else "",
                         f"layer {l}, neuron {j}" if len(self.network.layers) > 1
                         or self.network.layers[0].width > 1 else "", when]
                raise DomainError(
                    f"the custom activation f(z) = {self.f[l - 1]} gives no "
                    f"real number at z = {decimal(value)[0]} ("
                    + ", ".join(w for w in where if w) + "); choose numbers inside its domain")

    def _check_domain(self, prediction: Expr, sample: int, output: int, when: str):
        if self.loss.domain is None:
            return
        if problem := self.loss.domain(prediction):
            where = [f"sample {sample}" if len(self.samples) > 1 else "",
                     f"output {output}" if self.network.layers[-1].width > 1 else "", when]
            raise DomainError(problem + " (" + ", ".join(w for w in where if w) + ")")

    def run(self, parameters, names: _Names, when: str = "before the update",
            given: dict | None = None, through_output: bool = False,
            backward: bool = True) -> _Pass:
        """The forward and backward pass at ``parameters``, every δ computed once.

        Without ``backward``, the forward pass and the loss only, as after a step: its
        gradients are left empty, and the outputs and losses at irrational numbers are
        evaluated shallowly (see :func:`~symgrad.maths.working.evaluate`).

        ``given`` puts a learner's numbers in place of the computed ones, keyed
        ``("a", sample, layer, neuron)`` or ``("delta", sample, layer, neuron)``, so that
        what follows is worked from them (follow-through marking); with
        ``through_output``, the slope of a neuron whose output is given is ``f'`` written
        through that output (``a(1 - a)``), as a learner who works from ``a`` writes it."""
        given = given or {}
        layers = self.unpack(parameters)
        zs, as_, terms, losses, ups, slopes, deltas, jacobians = [], [], [], [], [], [], [], []
        for s, sample in enumerate(self.samples, 1):
            inputs = list(sample.x)
            sample_z, sample_a = [], [inputs]
            for l, (weights, biases) in enumerate(layers, 1):
                z = [names.define(f"z{l}_{j}", Add(*(w * a for w, a in zip(row, inputs)))
                                  + (biases[j - 1] if biases else 0))
                     for j, row in enumerate(weights, 1)]
                inputs = [given[("a", s, l, j)] if ("a", s, l, j) in given else names.define(
                    f"a{l}_{j}", value)
                    for j, value in enumerate(self.layer_outputs(l, z, not backward), 1)]
                if self.activations[l - 1].name == "custom":
                    self._check_real(l, z, inputs, s, when)
                sample_z.append(z)
                sample_a.append(inputs)
            outputs = sample_a[-1]
            for j, a in enumerate(outputs, 1):
                self._check_domain(a, s, j, when)
            sample_terms = [names.define("l", evaluate(self.ell, {PREDICTION: a, TARGET: y},
                                                       shallow=not backward))
                            for a, y in zip(outputs, sample.targets)]
            terms.append(sample_terms)
            losses.append(names.define("L", combined(self.output_scale, sample_terms,
                                                     not backward)))
            zs.append(sample_z)
            as_.append(sample_a)
            if not backward:
                continue
            # Backward: the outputs first, then each hidden layer from its successor's δ.
            sample_up, sample_slope, sample_delta, sample_jacobian = [], [], [], []
            upstream = [names.define("dL_da", self.output_scale * evaluate(
                self.dell, {PREDICTION: a, TARGET: y})) for a, y in zip(outputs, sample.targets)]
            for l in range(len(layers), 0, -1):
                jacobian = None
                if self.vector[l - 1] is not None:
                    # Every output depends on every z: δ_k = Σ_j ∂L/∂a_j · ∂a_j/∂z_k.
                    _, _, symbols, formulas = self.vector[l - 1]
                    at = dict(zip(symbols, sample_a[l]))
                    jacobian = tuple(tuple(names.define(f"J{l}_{j}_{k}", evaluate(entry, at))
                                           for k, entry in enumerate(row, 1))
                                     for j, row in enumerate(formulas, 1))
                    slope = [jacobian[k][k] for k in range(len(jacobian))]
                    delta = [given[("delta", s, l, k)] if ("delta", s, l, k) in given else
                             names.define(f"d{l}_{k}", Add(*(
                                 u * row[k - 1] for u, row in zip(upstream, jacobian))))
                             for k in range(1, len(jacobian) + 1)]
                else:
                    slope = [self._slope(l, j, z, given.get(("a", s, l, j)) if through_output
                                         else None, names)
                             for j, z in enumerate(sample_z[l - 1], 1)]
                    delta = [given[("delta", s, l, j)] if ("delta", s, l, j) in given else
                             names.define(f"d{l}_{j}", u * d)
                             for j, (u, d) in enumerate(zip(upstream, slope), 1)]
                sample_jacobian.insert(0, jacobian)
                sample_up.insert(0, upstream)
                sample_slope.insert(0, slope)
                sample_delta.insert(0, delta)
                if l > 1:
                    weights = layers[l - 1][0]
                    upstream = [names.define(f"s{l - 1}_{k}", Add(*(
                        weights[j][k - 1] * delta[j] for j in range(len(delta)))))
                        for k in range(1, len(sample_z[l - 2]) + 1)]
            ups.append(sample_up)
            slopes.append(sample_slope)
            deltas.append(sample_delta)
            jacobians.append(tuple(sample_jacobian))
        gradients = []
        m = len(self.samples)
        for l, (weights, biases) in enumerate(layers if backward else (), 1):
            for j in range(len(weights)):
                for k in range(len(weights[j])):
                    gradients.append(tuple(names.define(f"g{l}", deltas[s][l - 1][j]
                                                        * as_[s][l - 1][k]) for s in range(m)))
            if biases is not None:
                gradients += [tuple(deltas[s][l - 1][j] for s in range(m))
                              for j in range(len(weights))]
        totals = tuple(g[0] if m == 1 else names.define("g", self.scale * Add(*g))
                       for g in gradients)
        loss = losses[0] if m == 1 else names.define("L", combined(self.scale, losses,
                                                                   not backward))
        return _Pass(tuple(zs), tuple(as_), tuple(terms), tuple(losses), loss, tuple(ups),
                     tuple(slopes), tuple(deltas), tuple(gradients), totals, tuple(jacobians))


class _Notation:
    """The symbols a derivation is written in: the lessons' ``w``, ``b``, ``x``, ``z``,
    ``ŷ``, ``y`` for a single neuron, layer superscripts for a network.

    In a batch, sample ``s`` is a superscript in parentheses, apart from the input's
    subscript: ``x^{(2)}_1``, ``z^{(2)}``, ``\\hat{y}^{(2)}``, ``y^{(2)}``, ``L^{(2)}``
    (``s = "i"`` for any sample). In a network the superscript ``(l)`` is the layer, so
    there only the sample's loss ``L^{(s)}`` carries it; the rest is under the sample's
    heading.
    """

    def __init__(self, network: Network, lesson: bool, batch: bool = False):
        self.lesson = lesson
        self.batch = batch
        self.inputs = network.layers[0].inputs
        wide = max(max(layer.width, layer.inputs) for layer in network.layers) >= 10
        self.separator = "," if wide else ""

    def _of(self, s) -> str:
        """``^{(s)}`` for sample s of a lesson's batch; nothing otherwise."""
        return f"^{{({s})}}" if self.lesson and self.batch and s is not None else ""

    def weight(self, l: int, j: int, k: int) -> Symbol:
        if self.lesson:
            return Symbol("w" if self.inputs == 1 else f"w_{k}", real=True)
        return Symbol(f"w^{{({l})}}_{{{j}{self.separator}{k}}}", real=True)

    def bias(self, l: int, j: int) -> Symbol:
        return Symbol("b" if self.lesson else f"b^{{({l})}}_{{{j}}}", real=True)

    def source(self, l: int, k: int, s=None) -> Symbol:
        """What input k of layer l is: ``x_k``, or ``a^{(l-1)}_k`` after the first layer."""
        if l == 1:
            tag = self._of(s)
            if self.lesson and self.inputs == 1:
                return Symbol(f"x{tag}", real=True)
            return Symbol(f"x{tag}_{{{k}}}" if tag else f"x_{k}", real=True)
        return self.a(l - 1, k)

    def z(self, l: int, j: int, s=None) -> Symbol:
        if self.lesson:
            return Symbol(f"z{self._of(s)}", real=True) if self._of(s) else Z
        return Symbol(f"z^{{({l})}}_{{{j}}}", real=True)

    def a(self, l: int, j: int, s=None) -> Symbol:
        if self.lesson:
            tag = self._of(s)
            return Symbol(f"\\hat{{y}}{tag}", real=True) if tag else PREDICTION
        return Symbol(f"a^{{({l})}}_{{{j}}}", real=True)

    def y(self, j: int, s=None) -> Symbol:
        if self.lesson:
            return Symbol(f"y{self._of(s)}", real=True) if self._of(s) else TARGET
        return Symbol(f"y_{{{j}}}", real=True)

    def loss(self, s=None) -> Symbol:
        """``L``, or ``L^{(s)}`` for sample s of a batch (a network's too)."""
        return Symbol(f"L^{{({s})}}" if self.batch and s is not None else "L")

    def delta(self, l: int, j: int) -> Symbol:
        return Symbol(f"\\delta^{{({l})}}_{{{j}}}", real=True)

    def threshold(self) -> Symbol:
        """The Huber loss's threshold: ``\\delta``, or ``\\delta_{\\text{H}}`` in a
        network, whose ``\\delta^{(l)}_j`` are the error signals."""
        return HUBER_DELTA if self.lesson else Symbol(r"\delta_{\text{H}}", positive=True)


def _parameter_symbols(network: Network, notation: _Notation) -> tuple[Symbol, ...]:
    symbols = []
    for name in network.parameter_names:
        layer, neuron, source = network.position(name)
        symbols.append(notation.weight(layer, neuron, source) if source is not None
                       else notation.bias(layer, neuron))
    return tuple(symbols)


class _Writer:
    """Writes the working of a pass: each unit's lines, symbolic → numbers → value."""

    def __init__(self, engine: _Engine, notation: _Notation):
        self.engine = engine
        self.notation = notation
        # The loss as the lesson writes it: the Huber threshold as a symbol, whose value
        # (``constants``) goes in with the numbers.
        threshold = notation.threshold()
        self.ell = engine.loss.function(PREDICTION, TARGET, threshold)
        self.dell = engine.loss.derivative(PREDICTION, TARGET, threshold)
        used = self.ell.free_symbols | self.dell.free_symbols
        self.constants = {threshold: engine.network.delta} if threshold in used else {}
        # The short form an output's δ cancels to, worked per output in a network.
        found = None if notation.lesson else cancellation(
            engine.activations[-1], engine.loss, engine.network.delta)
        self.short = None if found is None else found[1]

    def linear(self, l: int, j: int, inputs: int, bias: bool, s=None) -> Expr:
        """``w_1 x_1 + ... + b`` of neuron j of layer l (for sample s of a batch)."""
        n = self.notation
        terms = [Mul(n.weight(l, j, k), n.source(l, k, s), evaluate=False)
                 for k in range(1, inputs + 1)]
        if bias:
            terms.append(n.bias(l, j))
        return Add(*terms, evaluate=False) if len(terms) > 1 else terms[0]

    def slope_form(self, l: int, j: int, s=None):
        """The lesson's form of f'(z) and the symbols shown in it."""
        act, n = self.engine.activations[l - 1], self.notation
        z, a = n.z(l, j, s), n.a(l, j, s)
        if n.lesson and act.lesson_form is not None:
            return act.lesson_form(z), act.output
        if act.output_form is not None:
            return act.output_form(a), None
        if act.lesson_form is not None:
            return act.lesson_form(z), act.output
        return None, None

    def forward(self, parameters, numbers: _Pass, backward: bool) -> tuple[Forward, ...]:
        engine, n = self.engine, self.notation
        layers = engine.unpack(parameters)
        last = len(layers)
        rows = []
        for s, sample in enumerate(engine.samples):
            units = []
            for l, (weights, biases) in enumerate(layers, 1):
                for j, row in enumerate(weights, 1):
                    values = {n.weight(l, j, k): w for k, w in enumerate(row, 1)}
                    values |= {n.source(l, k, s + 1): v
                               for k, v in enumerate(numbers.a[s][l - 1], 1)}
                    if biases is not None:
                        values[n.bias(l, j)] = biases[j - 1]
                    z_symbol, a_symbol = n.z(l, j, s + 1), n.a(l, j, s + 1)
                    z_value = numbers.z[s][l - 1][j - 1]
                    a_value = numbers.a[s][l][j - 1]
                    z = working(self.linear(l, j, len(row), biases is not None, s + 1), values,
                                z_value)
                    if engine.vector[l - 1] is not None:  # a_j from every z of the layer
                        symbols, formulas = engine.vector[l - 1][:2]
                        zs = {n.z(l, k, s + 1): v
                              for k, v in enumerate(numbers.z[s][l - 1], 1)}
                        f = unevaluated(formulas[j - 1], dict(zip(symbols, zs)))
                        a = working(f, zs, a_value)
                    else:
                        f = unevaluated(engine.f[l - 1], {Z: z_symbol})
                        a = working(f, {z_symbol: z_value}, a_value)
                    unit = Unit(l, j, z_symbol, a_symbol, z, a)
                    if backward:
                        unit = self._backward(unit, layers, numbers, s, l == last)
                    units.append(unit)
            jacobian = numbers.jacobian[s][last - 1] if backward else None
            rows.append(Forward(s + 1, sample, tuple(units), *self._loss(numbers, s),
                                tuple(n.source(1, k, s + 1) for k in range(1, len(sample.x) + 1)),
                                tuple(n.y(j, s + 1) for j in range(1, len(sample.targets) + 1)),
                                n.loss(s + 1),
                                None if jacobian is None else self._jacobian(numbers, s, last)))
        return tuple(rows)

    def _jacobian(self, numbers: _Pass, s: int, l: int) -> Jacobian:
        """The matrices of the backward step through layer l's softmax, sample s."""
        n = self.notation
        _, _, symbols, formulas = self.engine.vector[l - 1]
        outputs = {symbol: n.a(l, j, s + 1) for j, symbol in enumerate(symbols, 1)}
        jacobian = numbers.jacobian[s][l - 1]
        return Jacobian(l, Matrix([[unevaluated(entry, outputs) for entry in row]
                                   for row in formulas]),
                        _shown_matrix(jacobian), _column(numbers.upstream[s][l - 1]),
                        _column(numbers.delta[s][l - 1]))

    def _backward(self, unit: Unit, layers, numbers: _Pass, s: int, output: bool) -> Unit:
        engine, n = self.engine, self.notation
        l, j = unit.layer, unit.neuron
        z_symbol, a_symbol = unit.z_symbol, unit.a_symbol
        z_value, a_value = numbers.z[s][l - 1][j - 1], numbers.a[s][l][j - 1]
        if output:
            y_symbol = n.y(j, s + 1)
            formula = unevaluated(self.dell, {PREDICTION: a_symbol, TARGET: y_symbol})
            if engine.output_scale != 1:
                formula = Mul(engine.output_scale, formula, evaluate=False)
            upstream = working(formula, {a_symbol: a_value,
                                         y_symbol: engine.samples[s].targets[j - 1]}
                               | self.constants, numbers.upstream[s][l - 1][j - 1])
        else:
            after = layers[l][0]
            weights = {n.weight(l + 1, k, j): after[k - 1][j - 1] for k in range(1, len(after) + 1)}
            deltas = {n.delta(l + 1, k): numbers.delta[s][l][k - 1]
                      for k in range(1, len(after) + 1)}
            symbolic = Add(*(Mul(w, d, evaluate=False) for w, d in zip(weights, deltas)),
                           evaluate=False) if len(weights) > 1 else Mul(*weights, *deltas,
                                                                        evaluate=False)
            upstream = working(symbolic, weights | deltas, numbers.upstream[s][l - 1][j - 1])
        cancelled = None
        if output and self.short is not None:
            y_symbol = n.y(j, s + 1)
            formula = unevaluated(self.short, {PREDICTION: a_symbol, TARGET: y_symbol,
                                               CLASS_OUTPUT: a_symbol, CLASS_TARGET: y_symbol})
            if engine.output_scale != 1:
                formula = Mul(engine.output_scale, formula, evaluate=False)
            at = {a_symbol: a_value, y_symbol: engine.samples[s].targets[j - 1]}
            cancelled = working(formula, at, evaluate(formula, at))
        if engine.vector[l - 1] is not None:
            return self._through_jacobian(unit, numbers, s, upstream, cancelled)
        lesson, output_of = self.slope_form(l, j, s + 1)
        shown = {z_symbol: z_value}
        if lesson is not None:
            shown[output_of(z_symbol) if output_of else a_symbol] = a_value
        slope = working(unevaluated(engine.df[l - 1], {Z: z_symbol}), {z_symbol: z_value},
                        numbers.slope[s][l - 1][j - 1], lesson, shown)
        delta = Formula(None, numbers_in(product, (upstream.value, slope.value)),
                        numbers.delta[s][l - 1][j - 1])
        return Unit(l, j, z_symbol, a_symbol, unit.z, unit.a, upstream, slope, delta,
                    cancelled=cancelled)

    def _through_jacobian(self, unit: Unit, numbers: _Pass, s: int, upstream: Formula,
                          cancelled: Formula | None) -> Unit:
        """A softmax neuron k's column ∂a_j/∂z_k of the Jacobian, and
        δ_k = Σ_j ∂L/∂a_j · ∂a_j/∂z_k."""
        n, l, k = self.notation, unit.layer, unit.neuron
        _, _, symbols, formulas = self.engine.vector[l - 1]
        outputs = [n.a(l, j, s + 1) for j in range(1, len(symbols) + 1)]
        values = numbers.a[s][l]
        jacobian = numbers.jacobian[s][l - 1]
        column = tuple(working(unevaluated(row[k - 1], dict(zip(symbols, outputs))),
                               {outputs[j]: values[j], outputs[k - 1]: values[k - 1]},
                               jacobian[j][k - 1])
                       for j, row in enumerate(formulas))
        terms = [Mul(Given(u), Given(row[k - 1]), evaluate=False)
                 for u, row in zip(numbers.upstream[s][l - 1], jacobian)]
        delta = Formula(None, Add(*terms, evaluate=False), numbers.delta[s][l - 1][k - 1])
        return Unit(l, k, unit.z_symbol, unit.a_symbol, unit.z, unit.a, upstream,
                    column[k - 1], delta, column, cancelled)

    def _loss(self, numbers: _Pass, s: int) -> tuple[tuple[Formula, ...], Formula]:
        """Each output's loss term and the sample's loss."""
        engine, n = self.engine, self.notation
        outputs = numbers.a[s][-1]
        last = len(engine.network.layers)
        terms = []
        for j, (a, y) in enumerate(zip(outputs, engine.samples[s].targets), 1):
            a_symbol, y_symbol = n.a(last, j, s + 1), n.y(j, s + 1)
            formula = unevaluated(self.ell, {PREDICTION: a_symbol, TARGET: y_symbol})
            terms.append(working(formula, {a_symbol: a, y_symbol: y} | self.constants,
                                 numbers.terms[s][j - 1]))
        if len(terms) == 1:
            return tuple(terms), terms[0]
        ells = tuple(Symbol(f"\\ell_{{{j}}}") for j in range(1, len(terms) + 1))
        return tuple(terms), reduce(engine.output_scale, ells, numbers.terms[s],
                                    numbers.losses[s])

    def total(self, numbers: _Pass, forward: tuple[Forward, ...]) -> Formula:
        """The loss of the batch (a single sample's own loss)."""
        if len(forward) == 1:
            return forward[0].loss
        return reduce(self.engine.scale, tuple(f.loss_symbol for f in forward), numbers.losses,
                      numbers.loss)

    def gradients(self, labels, parameters, updated, rate, numbers: _Pass,
                  frozen) -> tuple[Gradient, ...]:
        engine, n = self.engine, self.notation
        network = engine.network
        last = len(network.layers)
        found = []
        for index, (name, position, symbol) in enumerate(zip(
                labels, network.parameter_names, _parameter_symbols(network, n))):
            l, j, k = network.position(position)
            per_sample = []
            for s in range(len(engine.samples)):
                delta = numbers.delta[s][l - 1][j - 1]
                incoming = numbers.a[s][l - 1][k - 1] if k is not None else Rational(1)
                value = numbers.gradients[index][s]
                if n.lesson:
                    chain = (numbers.upstream[s][l - 1][j - 1], numbers.slope[s][l - 1][j - 1],
                             incoming)
                    per_sample.append(Formula(None, numbers_in(product, chain), value))
                elif k is None:
                    per_sample.append(Formula(None, None, value))
                else:
                    d_symbol, a_symbol = n.delta(l, j), n.source(l, k)
                    line = Mul(d_symbol, a_symbol, evaluate=False)
                    per_sample.append(Formula(line, show(line, {d_symbol: delta,
                                                                a_symbol: incoming}), value))
            value = numbers.totals[index]
            total = (reduce(engine.scale, None, numbers.gradients[index], value)
                     if len(engine.samples) > 1 else None)
            update = Formula(None, None, parameters[index]) if frozen[index] else Formula(
                None, numbers_in(descent, (parameters[index], rate, value)), updated[index])
            sign = working_sign(value)
            tiny = sign != 0 and _is_tiny(value)
            cause = (self._cause(numbers, l, j, k, l == last, exactly=sign == 0)
                     if sign == 0 or tiny else None)
            chain = (("dL/da", "da/dz", f"dz/d{name}") if n.lesson else
                     ("delta", "a") if k is not None else ("delta",))
            found.append(Gradient(name, symbol, chain, tuple(per_sample), total, value, sign,
                                  tiny, cause, update, frozen[index], l, j, k))
        return tuple(found)

    def _cause(self, numbers: _Pass, l: int, j: int, k: int | None, output: bool,
               exactly: bool) -> str | None:
        """Why a gradient is zero or tiny: the factor that vanishes in every sample (for a
        gradient that is ``exactly`` 0, a factor that is exactly 0 in every sample)."""
        samples = range(len(self.engine.samples))
        slopes = [numbers.slope[s][l - 1][j - 1] for s in samples]
        if numbers.jacobian and numbers.jacobian[0][l - 1] is not None:
            # A softmax's δ_j is no product ∂L/∂a_j · f'(z_j): each output's ∂L/∂a counts
            # (∂L/∂a_j = 0 for a class that is not the target says nothing). δ is 0 when
            # every output is on its target; a small δ_j comes from this output being
            # almost 0 or 1 only when its own slope a_j(1 - a_j) is small.
            if output and all(working_sign(v) == 0 for s in samples
                              for v in numbers.upstream[s][l - 1]):
                return "at_target"
            deltas = [numbers.delta[s][l - 1][j - 1] for s in samples]
            factors = [("saturated_output", slopes)] if all(map(_is_tiny, deltas)) else []
        else:
            factors = [("at_target" if output else "no_signal",
                        [numbers.upstream[s][l - 1][j - 1] for s in samples]),
                       ("flat_activation", slopes)]
        if k is not None:
            factors.append(("zero_input", [numbers.a[s][l - 1][k - 1] for s in samples]))
        if exactly:  # a tiny factor does not make a product exactly 0
            factors = [(cause, values) for cause, values in factors
                       if not any(working_sign(v) for v in values)]
        for cause, values in factors:
            if all(_is_tiny(v) for v in values):
                if cause == "at_target" and any(working_sign(v) for v in values):
                    return "near_target"  # almost, not exactly, on target
                if cause == "zero_input" and any(working_sign(v) for v in values):
                    return "small_input"  # a saturated input neuron's output, say
                kink = self.engine.activations[l - 1].kink
                if cause == "flat_activation" and kink is not None:
                    at_kink = [numbers.z[s][l - 1][j - 1] == kink for s in samples]
                    if all(at_kink):
                        return "at_kink"  # not dead: a convention picked f'(kink) = 0
                    if any(at_kink):
                        return "dead_or_at_kink"  # dead in some samples, at the kink in others
                if cause == "flat_activation" and self.engine.df[l - 1] is not None:
                    # (a softmax's flat slope is a saturated class: it has no f'(z) to turn)
                    turning = [self._turns(l, numbers.z[s][l - 1][j - 1]) for s in samples]
                    if all(turning):
                        return "turning"  # not saturated: at a lowest point, such as GELU's
                    if any(turning):
                        return None  # flat for different reasons in different samples
                return cause
        return None

    def _turns(self, l: int, z: Expr) -> bool:
        """Whether the slope of layer l's activation changes sign within TURNING of ``z``:
        a flat slope there is a turning point (GELU's lowest, near z = -0.75), not a
        saturated tail."""
        df = self.engine.df[l - 1]
        below, above = (working_sign(evaluate(df, {Z: z + side})) for side in (-TURNING,
                                                                                  TURNING))
        return below * above < 0

    def matrices(self, parameters, numbers: _Pass) -> tuple[tuple[MatrixStep, ...], ...]:
        """The backward pass of every sample as matrices, last layer first."""
        layers = self.engine.unpack(parameters)
        steps = []
        for s in range(len(self.engine.samples)):
            sample_steps = []
            for l in range(len(layers), 0, -1):
                backprop = None
                if l < len(layers):
                    weights = layers[l][0]
                    transposed = _shown_matrix([[row[k] for row in weights]
                                                for k in range(len(weights[0]))])
                    backprop = MatMul(transposed, _column(numbers.delta[s][l]), evaluate=False)
                delta = numbers.delta[s][l - 1]
                inputs = numbers.a[s][l - 1]
                sample_steps.append(MatrixStep(
                    l, backprop, _column(numbers.upstream[s][l - 1]),
                    _column(numbers.slope[s][l - 1]), _column(delta), _shown_matrix([inputs]),
                    _shown_matrix([[d * a for a in inputs] for d in delta])))
            steps.append(tuple(sample_steps))
        return tuple(steps)


    def batch_matrices(self, parameters, numbers: _Pass, lesson: bool) -> tuple[BatchLayer, ...]:
        """Every layer over the whole batch as matrices, one row a sample, first layer
        first; a single neuron's weights and weight gradient as columns."""
        layers = self.engine.unpack(parameters)
        n = len(self.engine.samples)
        scale = self.engine.scale

        def rows(part, l):  # [sample][neuron] of layer l from a pass's [sample][layer][neuron]
            return [part[s][l] for s in range(n)]

        found = []
        for l, (weights, biases) in enumerate(layers, 1):
            delta = rows(numbers.delta, l - 1)
            inputs = rows(numbers.a, l - 1)
            gradient = [[scale * Add(*(delta[s][j] * inputs[s][k] for s in range(n)))
                         for k in range(len(weights[j]))] for j in range(len(weights))]
            backprop = None
            if l < len(layers):
                backprop = MatMul(_shown_matrix(rows(numbers.delta, l)),
                                  _shown_matrix(layers[l][0]), evaluate=False)
            found.append(BatchLayer(
                layer=l, inputs=_shown_matrix(inputs),
                weights=_shown_matrix(list(zip(*weights)) if lesson else weights),
                biases=None if biases is None else _shown_matrix([biases]),
                z=_shown_matrix(rows(numbers.z, l - 1)), a=_shown_matrix(rows(numbers.a, l)),
                upstream=_shown_matrix(rows(numbers.upstream, l - 1)), backprop=backprop,
                slope=_shown_matrix(rows(numbers.slope, l - 1)), delta=_shown_matrix(delta),
                scale=scale,
                weight_gradient=_shown_matrix(list(zip(*gradient)) if lesson else gradient),
                bias_gradient=None if biases is None else _shown_matrix([[
                    scale * Add(*(delta[s][j] for s in range(n)))
                    for j in range(len(weights))]])))
        return tuple(found)


def _shown_matrix(rows) -> Matrix:
    """A matrix of numbers kept visible (rounded for display, exact underneath)."""
    return Matrix([[Given(value) for value in row] for row in rows])


def _column(values) -> Matrix:
    return _shown_matrix([[v] for v in values])


def _is_tiny(value: Expr) -> bool:
    return bool(abs(approx(value)) < TINY)


def _below(value: Expr, bound: Rational) -> bool:
    return bool(approx(value, 40) < bound)


def step_inputs(samples, learning_rate) -> tuple[tuple[Sample, ...], Rational]:
    """Samples as a non-empty tuple and the learning rate as a positive exact number."""
    samples = (samples,) if isinstance(samples, Sample) else tuple(samples)
    if not samples:
        raise ShapeError("give at least one sample (x, y)")
    rate = exact(learning_rate, "learning rate")
    if rate <= 0:
        raise NumberError(f"the learning rate must be positive, not {rate}")
    return samples, rate


def _class_targets(sample: Sample, classes: int) -> Sample:
    """A sample whose one target is a class of a softmax layer (1 to ``classes``, counted
    from 1 as the outputs are), as one-hot targets; other samples as they are."""
    if len(sample.targets) != 1:
        return sample
    (label,) = sample.targets
    if not (label.is_Integer and 1 <= label <= classes):
        raise ShapeError(f"a single target y of a softmax output is a class from 1 to "
                         f"{classes}, not {label}; or give {classes} targets (one-hot)")
    return Sample(x=sample.x, y=[int(k == label) for k in range(1, classes + 1)])


def _as_network(model: Neuron | Network) -> Network:
    if isinstance(model, Network):
        return model
    if isinstance(model, Neuron):
        return model.as_network()
    raise ShapeError(f"derive needs a Neuron or a Network, not {type(model).__name__}")


def _finite_differences(loss_at, names: _Names, parameters, gradients,
                        parameter_names) -> tuple[FiniteDifference, ...]:
    """The central difference of the loss (``loss_at(parameters)``) for every parameter,
    worked exactly."""
    h = FINITE_DIFFERENCE_STEP
    checks = []
    for j, (name, gradient) in enumerate(zip(parameter_names, gradients)):
        up, down = list(parameters), list(parameters)
        up[j] += h
        down[j] -= h
        central = names.define("fd", (loss_at(up) - loss_at(down)) / (2 * h))
        checks.append(FiniteDifference(name, h, central, names.define("fd", gradient - central)))
    return tuple(checks)


def training_settings(optimizer: Optimizer | str, l2) -> tuple[Optimizer, Rational]:
    """The optimizer (from its name) and the L2 strength λ, exact; a negative λ, or λ with
    adamw (which decays the weights its own way), is refused.

    >>> training_settings("adam", "0.1")
    (Optimizer(name='adam', momentum=None, beta1=9/10, beta2=999/1000, eps=1/100000000, weight_decay=None), 1/10)
    """
    optimizer = optimizer if isinstance(optimizer, Optimizer) else Optimizer(optimizer)
    strength = exact(l2, "l2")
    if strength < 0:
        raise NumberError(f"the L2 strength λ must not be negative, not {strength}")
    if strength and optimizer.name == "adamw":
        raise NumberError("adamw already decays the weights (decoupled, --weight-decay); give "
                          "an L2 penalty with another optimizer, such as adam")
    return optimizer, strength


@collecting_rarely()
def derive(model: Neuron | Network | None = None, samples=None, *, learning_rate="0.1",
           steps: int = 1, tolerance=None, finite_differences: bool = False,
           matrix: bool = False, derive_steps: bool = False,
           optimizer: Optimizer | str = "sgd", l2=0, l2_biases: bool = False) -> Derivation:
    """Derive one worked gradient-descent step of a neuron or a network (and ``steps``
    training steps); ``finite_differences`` adds a check of every gradient against the
    central difference of the loss, ``matrix`` a network's backward pass as matrices,
    ``derive_steps`` the derivatives ``f'(z)`` and ``∂L/∂ŷ`` rule by rule.
    ``optimizer`` (a name or an :class:`Optimizer`) turns gradients into steps as
    ``torch.optim`` does; ``l2`` = λ adds ``(λ/2)·Σw²`` to the loss (the biases' squares
    too with ``l2_biases``), so each gradient gains ``λw``.

    >>> d = derive()  # the built-in example: w = 0.5, b = 0.1, x = 2, y = 1.5
    >>> d.loss.value, [g.value for g in d.gradients], d.updated
    (4/25, [-8/5, -4/5], (33/50, 9/50))
    >>> derive(optimizer="momentum", steps=2).iterations[1].state  # v = 0.9·(-1.6) + 0
    (('v', (-36/25, -18/25)),)
    """
    model = seed_neuron() if model is None else model
    samples, rate = step_inputs(seed_samples() if samples is None else samples, learning_rate)
    whole_number(steps, "steps", MAX_STEPS)
    tol = None if tolerance is None else exact(tolerance, "tolerance")
    if tol is not None and tol <= 0:
        raise NumberError(f"the tolerance must be positive, not {tol}")
    network = _as_network(model)
    lesson = isinstance(model, Neuron)
    engine = _Engine(network, samples)
    names = _Names.of(lesson)
    notation = _Notation(network, lesson, len(samples) > 1)
    writer = _Writer(engine, notation)
    parameters = network.parameters
    frozen = tuple(network.is_frozen(name) for name in network.parameter_names)
    optimizer, strength = training_settings(optimizer, l2)
    penalty = L2(strength, tuple(l2_biases or network.position(name)[2] is not None
                                 for name in network.parameter_names)) if strength else None
    if strength and matrix and isinstance(model, Neuron):
        # Its matrix form is the batch's ∂L/∂w = c Xᵀδ; the step works ∂J/∂w = ∂L/∂w + λw.
        raise SymgradError("the matrix form shows the loss's gradient, not that of the loss "
                           "with an L2 penalty; leave out --l2 or --matrix")
    updater = Updater(optimizer, rate, frozen, names.define)

    def objective(current, values: _Pass):  # the loss the step lowers, and its gradients
        if penalty is None:
            return values.loss, values.totals
        return (names.define("J", values.loss + penalty.penalty(current)),
                tuple(names.define("gJ", g) for g in penalty.gradients(current, values.totals)))

    first = engine.run(parameters, names)
    first_loss, first_gradients = objective(parameters, first)
    updated, first_steps = updater.step(parameters, first_gradients)
    # The gradients after the step are the loop's second step's: worked only for a loop
    # (and with finite differences, which name values after them, so that every name is
    # the same with or without them).
    after = engine.run(updated, names, "after the update",
                       backward=steps > 1 or finite_differences)
    after_loss, after_gradients = objective(updated, after)
    forward = writer.forward(parameters, first, backward=True)
    forward_after = writer.forward(updated, after, backward=False)

    iterations, current, converged = [], parameters, False
    loss, gradients_now = first_loss, first_gradients
    for step_number in range(1, steps + 1):
        if tol is not None and _below(loss, tol):
            converged = True
            break
        # The first step is taken above, for the worked example; the loop goes on from it.
        following = updated if step_number == 1 else updater.step(current, gradients_now)[0]
        iterations.append(Iteration(step_number, current, loss, gradients_now,
                                    tuple(updater.state.items()),
                                    tuple(updater.corrected.items())))
        current = following
        loss, gradients_now = (after_loss, after_gradients) if step_number == 1 else objective(
            current, engine.run(current, names, f"after step {step_number}"))
    if tol is not None and not converged and _below(loss, tol):
        converged = True

    parameter_names = model.parameter_names if lesson else network.parameter_names
    # The formulas of the lesson's neuron, for any sample i of a batch; a network states
    # them in the generic ŷ, y, z.
    z, a, y = (notation.z(1, 1, "i"), notation.a(1, 1, "i"), notation.y(1, "i")) if lesson else (
        Z, PREDICTION, TARGET)
    first_layer = network.layers[0]
    symbols = _parameter_symbols(network, notation)
    gradients = writer.gradients(parameter_names, parameters, updated, rate, first, frozen)
    if penalty is not None or optimizer.name != "sgd":
        gradients = tuple(
            _stepped(g, symbol, p, value, step, optimizer, rate, penalty, decayed)
            for g, symbol, p, value, step, decayed in zip(
                gradients, symbols, parameters, first_gradients, first_steps,
                penalty.decayed if penalty else frozen))
    reading = _reading(engine, first, after, gradients,
                       ((a, y), [(f.prediction_symbol, f.target_symbols[0]) for f in forward])
                       if lesson else None)
    moving = [g for g in gradients if not g.frozen and g.sign != 0]
    reading = replace(
        reading, loss_change=change(first_loss, after_loss),
        near_rate=optimizer.name == "adam" and bool(moving) and all(
            abs(approx(g.value)) >= NEAR_RATE * optimizer.eps for g in moving))

    def loss_at(current):  # the loss the finite differences nudge: J with a penalty
        return objective(current, engine.run(current, names,
                                             "in the finite-difference check"))[0]

    return Derivation(
        model=model, network=network, samples=engine.samples, learning_rate=rate,
        activations=engine.activations, loss_function=engine.loss,
        parameter_names=parameter_names,
        parameter_symbols=_parameter_symbols(network, notation), parameters=parameters,
        input_symbols=tuple(notation.source(1, k) for k in range(1, first_layer.inputs + 1)),
        target_symbols=tuple(notation.y(j) for j in range(1, network.layers[-1].width + 1)),
        linear=writer.linear(1, 1, first_layer.inputs, first_layer.biases is not None, "i"),
        activation_formula=None if engine.f[-1] is None else unevaluated(engine.f[-1], {Z: z}),
        activation_derivative=(None if engine.df[-1] is None
                               else unevaluated(engine.df[-1], {Z: z})),
        loss_formula=unevaluated(writer.ell, {PREDICTION: a, TARGET: y}),
        loss_derivative=unevaluated(writer.dell, {PREDICTION: a, TARGET: y}),
        z_symbol=z, prediction_symbol=a, loss_symbol=notation.loss("i"),
        constants=tuple(writer.constants.items()),
        forward=forward, loss=writer.total(first, forward),
        gradients=gradients,
        forward_after=forward_after, loss_after=writer.total(after, forward_after),
        iterations=tuple(iterations), final_parameters=current, final_loss=loss,
        tolerance=tol, converged=converged,
        matrices=writer.matrices(parameters, first) if matrix and not lesson else (),
        # A softmax layer's δ is not an entry-by-entry product (its batch has no G ⊙ f'(Z)),
        # and with an L2 penalty the gradients worked are ∂J, not the products' ∂L.
        batch_matrices=(writer.batch_matrices(parameters, first, lesson)
                        if matrix and penalty is None and not any(
                            act.jacobian for act in engine.activations) else ()),
        finite_differences=(_finite_differences(loss_at, names, parameters, first_gradients,
                                                parameter_names)
                            if finite_differences else ()),
        reading=reading,
        derivative_steps=_derivative_steps(engine, notation) if derive_steps else (),
        optimizer=optimizer, l2=strength, l2_biases=bool(l2_biases),
        objective=(penalty.objective(first.loss, symbols, parameters, first_loss)
                   if penalty else None),
        objective_after=(penalty.objective(after.loss, symbols, updated, after_loss)
                         if penalty else None))


def _stepped(g: Gradient, symbol, parameter, value, step, optimizer: Optimizer, rate,
             penalty: L2 | None, decayed: bool) -> Gradient:
    """A gradient's record with the L2 penalty's second term and the optimizer's working
    of the first step (``step``: the state before it and its values)."""
    changes = {}
    if penalty is not None and decayed:
        sign = working_sign(value)
        changes = dict(value=value, loss_value=g.value, sign=sign,
                       tiny=sign != 0 and _is_tiny(value), cause=None,
                       penalty=penalty.gradient(symbol, parameter, g.value, value))
    before, values = step
    if g.frozen:
        return replace(g, **changes)
    if optimizer.name == "sgd":
        changes["update"] = Formula(None, numbers_in(descent, (parameter, rate, value)),
                                    values["p"])
    else:
        changes["state"], changes["update"] = update_working(optimizer, rate, 1, symbol,
                                                             parameter, value, before, values)
    return replace(g, **changes)


# The first layer's largest weight gradient this many times smaller than the last layer's
# is called vanishing.
VANISHING = 10


class _OtherClasses(Function):
    """The sum of its term over the classes j other than k, printed ``Σ_{j ≠ k}``: the
    off-diagonal part of a softmax's backward step (a display formula, never evaluated)."""

    def _latex(self, printer):
        return r"\sum_{j \neq k} \left(%s\right)" % printer._print(self.args[0])


def cancellation(act, loss, delta=1) -> tuple[Expr, Expr] | None:
    """``∂L/∂ŷ · f'(z)``, with ``f'`` written through the prediction ŷ, and the short form
    it cancels to, when a fraction of ``∂L/∂ŷ`` cancels against ``f'`` down to at most a
    first-degree polynomial in ŷ; else None. For a softmax with a categorical loss:
    ``Σ_j ∂L/∂a_j · ∂a_j/∂z_k`` and ``a_k - y_k`` (the targets sum to 1).

    >>> from symgrad.maths.activations import activation
    >>> from symgrad.maths.losses import loss
    >>> cancellation(activation("sigmoid"), loss("bce"))[1]
    a - y
    >>> cancellation(activation("sigmoid"), loss("squared")) is None
    True
    >>> cancellation(activation("softmax"), loss("cross_entropy"))[1]
    a_k - y_k
    """
    if act.jacobian is not None:
        if not loss.categorical:
            return None
        # ∂a_j/∂z_k is a_k(1 - a_k) for j = k and -a_j a_k for the others.
        a, y = Symbol("a_j", real=True), Symbol("y_j", real=True)
        terms = Add(Mul(loss.derivative(CLASS_OUTPUT, CLASS_TARGET, delta),
                        Mul(CLASS_OUTPUT, Add(1, Mul(-1, CLASS_OUTPUT, evaluate=False),
                                              evaluate=False), evaluate=False),
                        evaluate=False),
                    _OtherClasses(Mul(loss.derivative(a, y, delta),
                                      Mul(-1, Mul(a, CLASS_OUTPUT, evaluate=False),
                                          evaluate=False), evaluate=False)), evaluate=False)
        return terms, Add(CLASS_OUTPUT, Mul(-1, CLASS_TARGET, evaluate=False), evaluate=False)
    if act.output_form is None:
        return None
    derivative = loss.derivative(PREDICTION, TARGET, delta)
    if not any(isinstance(node, Pow) and node.exp.is_negative and node.has(PREDICTION)
               for node in derivative.atoms(Pow) | {derivative}):
        return None  # nothing to cancel against
    product = Mul(derivative, act.output_form(PREDICTION), evaluate=False)
    short = cancel(product)
    if short.is_polynomial(PREDICTION) and degree(short, PREDICTION) <= 1:
        return product, short
    return None


def _size(value: Expr) -> Expr:
    """``|value|``, as ``value`` or ``-value`` by its sign: SymPy's ``Abs`` of an irrational
    value works out that sign by its own means, which takes milliseconds."""
    return -value if working_sign(value) < 0 else value


def _quotient(top: Expr, bottom: Expr) -> Expr:
    """``top / bottom``: a rational when the two are rational multiples of one value, else
    kept as written. SymPy's ``1/bottom`` of an irrational sum asks its assumptions (is it
    zero, infinite?) by evalf, which takes milliseconds, for a number shown rounded."""
    (top_rate, top_rest), (bottom_rate, bottom_rest) = top.as_coeff_Mul(), bottom.as_coeff_Mul()
    if top_rest == bottom_rest:  # rationals, or one value's multiples (dL/dw = x·dL/db)
        return top_rate / bottom_rate
    return Mul(top, Pow(bottom, -1, evaluate=False), evaluate=False)


def _reading(engine: _Engine, first: _Pass, after: _Pass, gradients, lesson) -> Reading:
    """What the numbers say (see :class:`Reading`); ``lesson`` is a neuron's (ŷ, y) for any
    sample and each sample's own (ŷ, y) symbols."""
    moving = [g for g in gradients if not g.frozen and g.sign != 0]
    largest = ratio = None
    if moving:
        sizes = {g: abs(approx(g.value)) for g in moving}
        top, bottom = max(sizes, key=sizes.get), min(sizes, key=sizes.get)
        if sizes[top] > sizes[bottom]:  # a largest one to speak of
            largest, ratio = top.parameter, _quotient(_size(top.value), _size(bottom.value))
    weights = {l: [] for l in range(1, len(engine.network.layers) + 1)}
    for g in gradients:  # one pass, not one per layer: a deep chain has thousands of layers
        if g.source is not None:
            weights[g.layer].append(_size(g.value))
    peaks = [max(sizes, key=approx) if sizes else Rational(0) for sizes in weights.values()]
    vanishing = None
    if len(peaks) > 1 and approx(peaks[0]) > 0 and approx(peaks[-1]) > VANISHING * approx(peaks[0]):
        vanishing = _quotient(peaks[-1], peaks[0])
    cancelled = short = None
    signals = ()
    found = cancellation(engine.activations[-1], engine.loss, engine.network.delta)
    if found is not None:
        cancelled, short = found
        if lesson is not None:
            (a, y), per_sample = lesson
            generic = short
            cancelled, short = (unevaluated(cancelled, {PREDICTION: a, TARGET: y}),
                                unevaluated(generic, {PREDICTION: a, TARGET: y}))
            signals = []
            for s, (sample, (a_s, y_s)) in enumerate(zip(engine.samples, per_sample)):
                mine = unevaluated(generic, {PREDICTION: a_s, TARGET: y_s})
                signals.append(Formula(mine, show(mine, {a_s: first.a[s][-1][0],
                                                         y_s: sample.targets[0]}),
                                       first.delta[s][0][0]))
            signals = tuple(signals)
    # A single neuron's gradients at a kink, had the convention there been f'(kink) = 1.
    at_kink = {}
    kink = engine.activations[0].kink
    if lesson is not None and kink is not None:
        for g in gradients:
            if g.cause == "at_kink":
                at_kink[g.parameter] = engine.scale * Add(*(
                    first.upstream[s][0][0]
                    * (1 if first.z[s][0][0] == kink else first.slope[s][0][0])
                    * (1 if g.source is None else first.a[s][0][g.source - 1])
                    for s in range(len(engine.samples))))
    return Reading(
        loss_change=change(first.loss, after.loss),
        sample_changes=tuple(change(a, b) for a, b in zip(first.losses, after.losses)),
        largest=largest, ratio=ratio, layer_peaks=tuple(peaks), vanishing=vanishing,
        cancelled=cancelled,
        cancellation=short, error_signals=signals, other_convention=at_kink)


def _derivative_steps(engine: _Engine, notation: _Notation) -> tuple[DerivativeSteps, ...]:
    """``f'(z)`` of each distinct activation (first layer first; a softmax's Jacobian
    ``∂a_j/∂z_k``), then ``∂L/∂ŷ`` (the Huber threshold as its symbol, as the lesson writes
    the loss), and with a softmax and cross-entropy how ``∂L/∂z_k`` cancels to ``a_k - y_k``."""
    found, seen = [], set()
    width = engine.network.layers[-1].width
    for activation, function in zip(engine.activations, engine.f):
        if activation.jacobian is not None:  # a softmax (the output layer's): no f(z)
            found.append(softmax_steps(width))
        elif function not in seen:
            seen.add(function)
            found.append(activation_steps(activation, Z, engine.network.slope))
    found.append(loss_steps(engine.loss, PREDICTION, TARGET, notation.threshold()))
    if engine.activations[-1].jacobian is not None and engine.loss.name == "cross_entropy":
        found.append(softmax_cross_entropy_steps(width))
    return tuple(found)


@dataclass(frozen=True, slots=True)
class StepNumbers:
    """The exact numbers of one worked step, without its working: a quick look for
    drawing problems. ``shown`` holds every number the worked solution displays."""

    predictions: tuple[Expr, ...]
    loss: Expr
    gradients: tuple[Expr, ...]
    loss_after: Expr
    shown: tuple[Expr, ...]


def step_numbers(model: Neuron | Network, samples, *, learning_rate) -> StepNumbers:
    """The numbers :func:`derive` would show for one step, computed by the same engine.

    >>> step_numbers(seed_neuron(), seed_samples(), learning_rate="0.1").loss_after
    0
    """
    network = _as_network(model)
    engine = _Engine(network, tuple(samples))
    names = _Names.of(isinstance(model, Neuron))
    rate = exact(learning_rate, "learning rate")
    first = engine.run(network.parameters, names)
    updated = tuple(p - rate * g for p, g in zip(network.parameters, first.totals))
    after = engine.run(updated, names, "after the update", backward=False)
    shown = [*network.parameters, rate, *updated]
    for values in (first, after):
        shown += [v for sample in values.z for layer in sample for v in layer]
        shown += [v for sample in values.a for layer in sample[1:] for v in layer]
        shown += [*values.losses, values.loss]
    for part in (first.upstream, first.slope):
        shown += [v for sample in part for layer in sample for v in layer]
    shown += [*first.totals, *(g for per_sample in first.gradients for g in per_sample)]
    predictions = tuple(sample[-1][0] for sample in first.a)
    return StepNumbers(predictions, first.loss, first.totals, after.loss, tuple(shown))


def composed_loss(model: Neuron | Network, samples) -> tuple[Expr, tuple[Symbol, ...]]:
    """The batch loss as one expression of the parameters, and those parameters' symbols,
    for checks with ``sympy.diff`` (small models only: it grows with depth).

    >>> L, (w, b) = composed_loss(seed_neuron(), seed_samples())
    >>> L
    (b + 2*w - 3/2)**2
    """
    network = _as_network(model)
    engine = _Engine(network, tuple(samples))
    symbols = _parameter_symbols(network, _Notation(network, isinstance(model, Neuron)))
    layers = engine.unpack(symbols)
    total = []
    for sample in engine.samples:
        inputs = list(sample.x)
        for l, (weights, biases) in enumerate(layers, 1):
            inputs = engine.layer_outputs(l, [Add(*(w * a for w, a in zip(row, inputs)))
                                              + (biases[j] if biases else 0)
                                              for j, row in enumerate(weights)])
        total.append(engine.output_scale * Add(*(
            evaluate(engine.ell, {PREDICTION: a, TARGET: y})
            for a, y in zip(inputs, sample.targets))))
    return engine.scale * Add(*total), symbols
