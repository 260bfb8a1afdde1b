"""The derivation record: every line of working of a gradient-descent step, frozen.

One record serves a single neuron and a network alike (a neuron is a network of one
layer of width one); every view (Markdown, LaTeX, JSON, graph, plots, checks, sheets)
reads it and recomputes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sympy import Expr, Matrix, Rational, Symbol

from .activations import Activation
from .losses import Loss
from .model import Network, Neuron, Optimizer, Sample
from .steps import DerivativeSteps
from .working import Formula

__all__ = ["Unit", "Jacobian", "Forward", "Factor", "Gradient", "StateLine", "Iteration",
           "MatrixStep", "BatchLayer",
           "FiniteDifference", "Derivation",
           "Z", "PREDICTION", "TARGET", "HUBER_DELTA"]

# The lesson's symbols, real so that sympy.diff of |ŷ - y| is sign(ŷ - y), not a complex form.
Z = Symbol("z", real=True)
PREDICTION = Symbol("a", real=True)  # the neuron's output a = ŷ
TARGET = Symbol("y", real=True)
# The Huber loss's threshold δ, a symbol in the formulas; its value is put in with the numbers.
HUBER_DELTA = Symbol("delta", positive=True)


@dataclass(frozen=True, slots=True)
class Unit:
    """One neuron of one layer for one sample: ``z = Σ w a + b``, ``a = f(z)``, and, in
    a pass that goes backwards, its error signal ``δ = ∂L/∂z = upstream · f'(z)``.

    ``upstream`` is ``∂L/∂a``: the loss's derivative at an output, ``Σ_k w_kj δ_k``
    in a hidden layer.

    In a layer-wide activation (softmax), output j depends on every ``z_k``:
    ``jacobian`` holds this neuron's column ``∂a_j/∂z_k`` (j = 1, 2, ...; k this
    neuron), ``slope`` its diagonal entry ``∂a_k/∂z_k``, and ``δ_k = Σ_j ∂L/∂a_j ·
    ∂a_j/∂z_k``. ``cancelled`` is an output's δ written as the short form its factors
    cancel to (``a - y`` for softmax with cross-entropy, sigmoid with bce), worked
    on its own numbers.
    """

    layer: int
    neuron: int
    z_symbol: Symbol
    a_symbol: Symbol
    z: Formula
    a: Formula
    upstream: Formula | None = None
    slope: Formula | None = None
    delta: Formula | None = None
    jacobian: tuple[Formula, ...] | None = None
    cancelled: Formula | None = None


@dataclass(frozen=True, slots=True)
class Jacobian:
    """The backward step through a layer-wide activation (softmax) for one sample, as
    matrices with their numbers shown: ``δ = Jᵀ ∇_a L`` with ``J_jk = ∂a_j/∂z_k``."""

    layer: int
    symbolic: Matrix    # J written through the outputs: a_j(1 - a_j), -a_j a_k
    values: Matrix      # J's numbers
    upstream: Matrix    # ∇_a L, a column
    delta: Matrix       # Jᵀ ∇_a L, a column


@dataclass(frozen=True, slots=True)
class Forward:
    """The forward pass of one sample: its units layer by layer, the loss term of each
    output (``terms``) and the sample's loss (their sum or mean)."""

    sample: int
    sample_data: Sample
    units: tuple[Unit, ...]
    terms: tuple[Formula, ...]
    loss: Formula
    input_symbols: tuple[Symbol, ...]   # this sample's x: x^{(2)}_1 in a lesson's batch
    target_symbols: tuple[Symbol, ...]  # this sample's y
    loss_symbol: Symbol                 # L, or L^{(2)} for sample 2 of a batch
    jacobian: Jacobian | None = None    # through a softmax output layer, in a backward pass

    @property
    def z_symbol(self) -> Symbol:
        """The last unit's ``z`` symbol: ``z``, or ``z^{(2)}`` in a lesson's batch."""
        return self.units[-1].z_symbol

    @property
    def prediction_symbol(self) -> Symbol:
        """The last unit's output symbol: ``\\hat{y}``, or ``\\hat{y}^{(2)}``."""
        return self.units[-1].a_symbol

    @property
    def z(self) -> Formula:
        """The last unit's ``z`` (a single neuron's only one)."""
        return self.units[-1].z

    @property
    def prediction(self) -> Formula:
        """The last unit's output ŷ (a single neuron's prediction)."""
        return self.units[-1].a

    def outputs(self) -> tuple[Unit, ...]:
        """The units of the last layer."""
        last = self.units[-1].layer
        return tuple(unit for unit in self.units if unit.layer == last)


@dataclass(frozen=True, slots=True)
class Factor:
    """One chain-rule factor ``d(numerator)/d(denominator)`` of a single neuron for one
    sample (``dL/da``, ``da/dz``, ``dz/dw``, ``dz/db``)."""

    name: str
    numerator: Symbol
    denominator: Symbol
    sample: int
    formula: Formula


@dataclass(frozen=True, slots=True)
class StateLine:
    """One line of an optimizer's working for one parameter: a state variable it keeps
    (``v``, ``m``) or a bias-corrected moment (``m_hat``, ``v_hat``) at step t."""

    name: str
    symbol: Symbol      # m_{w,t}
    formula: Formula


@dataclass(frozen=True, slots=True)
class Gradient:
    """``dL/dp`` for one parameter: the chain product per sample, its reduction over the
    batch and the update.

    ``sign`` is -1, 0 or 1; ``cause`` says why a zero or tiny gradient is so:
    ``"at_target"``, ``"near_target"`` (∂L/∂ŷ tiny but not 0), ``"no_signal"`` (nothing flows back into a hidden neuron),
    ``"flat_activation"`` (saturated, or a dead ReLU), ``"turning"`` (the activation's
    slope changes sign close by, as at GELU's lowest point), ``"at_kink"`` (a ReLU exactly
    at z = 0, where the convention f'(0) = 0 decides), ``"dead_or_at_kink"`` (z < 0 in
    some samples, z = 0 in the others), ``"zero_input"`` (the input the weight multiplies
    is 0), ``"small_input"`` (it is tiny, but not 0) or ``"saturated_output"`` (a softmax
    output almost 0 or 1, whose slope a_j(1 - a_j) is almost 0). ``layer``, ``neuron`` and
    ``source`` (the input a weight multiplies; None for a bias) place the parameter in the
    network. With an L2 penalty, ``value`` is ``∂J/∂p``, the gradient the update uses,
    ``loss_value`` is ``∂L/∂p`` of the loss alone and ``penalty`` the line ``∂L/∂p + λp``.
    ``state`` holds the optimizer's lines of the first step; ``update`` is the new value
    (its ``symbolic`` the optimizer's rule, None for plain gradient descent).
    """

    parameter: str
    symbol: Symbol
    chain: tuple[str, ...]
    per_sample: tuple[Formula, ...]
    total: Formula | None
    value: Expr
    sign: int
    tiny: bool
    cause: str | None
    update: Formula
    frozen: bool = False
    layer: int = 1
    neuron: int = 1
    source: int | None = None
    state: tuple[StateLine, ...] = ()
    penalty: Formula | None = None
    loss_value: Expr | None = None


@dataclass(frozen=True, slots=True)
class Iteration:
    """One row of the training loop: parameters before the step, loss, gradients, and
    the optimizer's state after the step (``(name, value per parameter)``, such as
    ``("m", (...))``), and for Adam and AdamW the bias-corrected moments the step used
    (``corrected``: ``("m_hat", (...))``, ``("v_hat", (...))``; 0 for a frozen parameter,
    whose moments stay 0). With an L2 penalty the loss is ``J`` and the gradients ``∂J/∂p``."""

    step: int
    parameters: tuple[Expr, ...]
    loss: Expr
    gradients: tuple[Expr, ...]
    state: tuple[tuple[str, tuple[Expr, ...]], ...] = ()
    corrected: tuple[tuple[str, tuple[Expr, ...]], ...] = ()


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
class BatchLayer:
    """One layer over the whole batch in matrix form, one row a sample (as NumPy and
    PyTorch hold a batch): ``Z = A Wᵀ + 1 bᵀ``, ``A' = f(Z)``; backwards ``Δ = G ⊙ f'(Z)``
    with ``G`` the loss's derivative at the outputs, ``Δ_next W_next`` in a hidden layer;
    then ``∂L/∂W = c Δᵀ A`` and ``∂L/∂b = c Δᵀ 1`` (``c = 1/n`` for a mean over the batch,
    else 1). For a single neuron, ``weights`` is the column ``w`` and ``weight_gradient``
    the column ``c Xᵀ δ``. Every entry is the exact number of the worked step."""

    layer: int
    inputs: Matrix                  # A^{(l-1)}: n × d (X for the first layer)
    weights: Matrix                 # W^{(l)}: m × d (a neuron: the column w, d × 1)
    biases: Matrix | None           # b^{(l)}ᵀ: 1 × m
    z: Matrix                       # n × m
    a: Matrix                       # n × m
    upstream: Matrix                # G^{(l)} = ∂L/∂A^{(l)} of each sample's loss: n × m
    backprop: Matrix | None         # the product Δ^{(l+1)} W^{(l+1)} that gives G; None at the outputs
    slope: Matrix                   # f'(Z): n × m
    delta: Matrix                   # Δ^{(l)}: n × m
    scale: Rational                 # c
    weight_gradient: Matrix         # c Δᵀ A: m × d (a neuron: c Xᵀ δ, d × 1)
    bias_gradient: Matrix | None    # (c Δᵀ 1)ᵀ: 1 × m


@dataclass(frozen=True, slots=True)
class FiniteDifference:
    """An independent check of one gradient: the central difference
    ``(L(p + h) - L(p - h)) / 2h`` of the loss itself, and how far the chain rule's
    gradient is from it (``O(h²)`` for a smooth loss)."""

    parameter: str
    step: Rational
    central: Expr
    difference: Expr


@dataclass(frozen=True, slots=True)
class Reading:
    """What the numbers of the worked step say, decided once in exact arithmetic so that a
    sentence about them is true of them.

    ``loss_change`` and ``sample_changes`` are the signs (-1, 0, 1) of the loss's change
    over the step, in total and per sample. ``largest`` is the parameter whose gradient is
    largest in size among those that move, ``ratio`` how many times larger it is than the
    smallest nonzero one (both None when all are the same size). ``layer_peaks`` holds, per
    layer, the largest size of a weight's gradient; ``vanishing`` is the last layer's peak
    over the first's when that is large (the first layer learns much more slowly). ``cancelled`` is ``∂L/∂ŷ · f'(z)`` written through ŷ and ``cancellation``
    the short form it cancels to (``ŷ - y`` for the sigmoid with cross-entropy; for a
    softmax with categorical cross-entropy, ``Σ_j ∂L/∂a_j · ∂a_j/∂z_k`` and ``a_k - y_k``), with
    ``error_signals`` its value per sample (a single neuron); both None when nothing
    cancels. ``near_rate`` says that Adam's first step moves every parameter whose
    gradient is not zero by about α (see derive.NEAR_RATE). ``other_convention`` gives a single neuron's gradients that are zero only by
    the convention at a kink (``f'(0) = 0``) as they would be with ``f'(0) = 1``.
    """

    loss_change: int
    sample_changes: tuple[int, ...]
    largest: str | None
    ratio: Expr | None
    layer_peaks: tuple[Expr, ...]
    vanishing: Expr | None = None
    cancelled: Expr | None = None
    cancellation: Expr | None = None
    error_signals: tuple[Formula, ...] = ()
    other_convention: dict[str, Expr] | None = None
    # Adam only: every gradient that is not zero is at least NEAR_RATE·ε in size, so the
    # first step moves each such parameter by α·|g|/(|g| + ε), α to within 0.1%
    near_rate: bool = False


@dataclass(frozen=True, slots=True)
class Derivation:
    """The whole worked example: the first step in full, the loss after it, and the
    training loop. ``model`` is what was given (a Neuron or a Network); ``network`` is
    the same as a network. A single neuron is written in the lessons' notation (``w``,
    ``b``, ``ŷ``), a network with layer superscripts (``w^{(l)}_{jk}``)."""

    model: Neuron | Network
    network: Network
    samples: tuple[Sample, ...]
    learning_rate: Rational
    activations: tuple[Activation, ...]
    loss_function: Loss
    parameter_names: tuple[str, ...]
    parameter_symbols: tuple[Symbol, ...]
    parameters: tuple[Expr, ...]
    input_symbols: tuple[Symbol, ...]
    target_symbols: tuple[Symbol, ...]
    linear: Expr
    activation_formula: Expr | None     # None for a softmax output: no formula of one z
    activation_derivative: Expr | None
    loss_formula: Expr
    loss_derivative: Expr
    z_symbol: Symbol            # z, or z^{(i)} for any sample i of a lesson's batch
    prediction_symbol: Symbol   # ŷ, or ŷ^{(i)}
    loss_symbol: Symbol         # L, or L^{(i)}: one sample's loss in a batch
    constants: tuple[tuple[Symbol, Expr], ...]  # symbols of the formulas with given values (δ)
    forward: tuple[Forward, ...]
    loss: Formula
    gradients: tuple[Gradient, ...]
    forward_after: tuple[Forward, ...]
    loss_after: Formula
    iterations: tuple[Iteration, ...]
    final_parameters: tuple[Expr, ...]
    final_loss: Expr
    tolerance: Rational | None
    converged: bool
    matrices: tuple[tuple[MatrixStep, ...], ...]  # [sample][layer, last first]; when asked
    batch_matrices: tuple[BatchLayer, ...]         # [layer], first first; when asked (not
                                                   # for a softmax layer)
    finite_differences: tuple[FiniteDifference, ...] = ()  # when asked for
    reading: Reading | None = None
    # f'(z) of each distinct activation, then ∂L/∂ŷ, rule by rule; when asked for
    derivative_steps: tuple[DerivativeSteps, ...] = ()
    optimizer: Optimizer = Optimizer()
    # An L2 penalty (λ/2)·Σw² (biases too with l2_biases): J = L + penalty before and
    # after the first step; None without one (l2 = 0)
    l2: Rational = Rational(0)
    l2_biases: bool = False
    objective: Formula | None = None
    objective_after: Formula | None = None

    @property
    def is_network(self) -> bool:
        """Whether this is a network's derivation (else a single neuron's)."""
        return isinstance(self.model, Network)

    @property
    def neuron(self) -> Neuron | None:
        """The single neuron, or None for a network."""
        return None if self.is_network else self.model

    @property
    def activation(self) -> Activation:
        """The activation of the output layer (a single neuron's only one)."""
        return self.activations[-1]

    @property
    def updated(self) -> tuple[Expr, ...]:
        """The parameters after the first step."""
        return tuple(g.update.value for g in self.gradients)

    @property
    def backward(self) -> tuple[tuple[Unit, ...], ...]:
        """Each sample's units in the order backpropagation visits them: the last layer
        first, the neurons of a layer in order."""
        return tuple(tuple(sorted(f.units, key=lambda u: (-u.layer, u.neuron)))
                     for f in self.forward)

    @property
    def factors(self) -> tuple[Factor, ...]:
        """A single neuron's chain-rule factors, sample by sample: ``dL/da``, ``da/dz``
        and ``dz/dp`` for each parameter (read from the record's units)."""
        found = []
        for f in self.forward:
            unit = f.units[0]
            a, z = unit.a_symbol, unit.z_symbol
            found.append(Factor("dL/da", f.loss_symbol, a, f.sample, unit.upstream))
            found.append(Factor("da/dz", a, z, f.sample, unit.slope))
            for name, symbol, x_symbol, x in zip(self.parameter_names, self.parameter_symbols,
                                                 f.input_symbols, f.sample_data.x):
                found.append(Factor(f"dz/d{name}", z, symbol, f.sample,
                                    Formula(x_symbol, None, x)))
            if len(self.parameter_names) > len(self.input_symbols):
                found.append(Factor("dz/db", z, self.parameter_symbols[-1], f.sample,
                                    Formula(Rational(1), None, Rational(1))))
        return tuple(found)
