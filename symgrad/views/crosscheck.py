"""Cross-check scripts: the worked example rebuilt with NumPy or PyTorch, asserting its numbers.

``--format numpy`` writes a script with a hand-written, vectorised forward and backward
pass in matrix form and the optimizer's update rule by hand; ``--format torch`` builds the
same model from PyTorch's own functions, takes its gradients from autograd
(``loss.backward()``) and its steps from ``torch.optim``. Both run the recorded training
steps and assert that the loss (and ``J`` with an L2 penalty), every gradient, every updated
parameter and the optimizer's state equal the record's exact values (printed to 20
significant digits) to a relative 1e-9 in float64.

Each registry activation, loss and optimizer is one entry of :data:`ACTIVATION_CODE`,
:data:`LOSS_CODE` and :data:`OPTIMIZER_CODE`, written here by hand so that the libraries
check SymPy rather than SymPy's own formulas printed back; a custom activation
(``--activation-expr``) is printed by SymPy's NumPy and PyTorch printers, and refused when
it uses something they cannot print as the same function.
"""

from __future__ import annotations

from dataclasses import dataclass

from sympy import (Abs, Add, Expr, Heaviside, Max, Min, Mul, Number, NumberSymbol, Pow,
                   Symbol, exp, log, sign, tanh)
from sympy.printing.numpy import NumPyPrinter

from ..errors import SymgradError
from ..maths.records import Z, Derivation

__all__ = ["Code", "OptimizerCode", "ACTIVATION_CODE", "LOSS_CODE", "OPTIMIZER_CODE",
           "LIBRARIES", "script_code"]

# format -> the library its script imports (a script file of that name would import itself)
LIBRARIES = {"numpy": "numpy", "torch": "torch"}


@dataclass(frozen=True, slots=True)
class Code:
    """One function in both libraries, as Python source.

    An activation's ``numpy`` is ``f`` of the array ``z``, ``numpy_slope`` is ``f'`` of
    ``z`` and ``a = f(z)`` (the backward pass is written by hand), ``torch`` is ``f`` of
    the tensor ``z`` (autograd derives it). A loss's are ``ℓ`` of the outputs ``a`` and
    targets ``y`` elementwise and ``∂ℓ/∂a``; the leaky slope is ``slope`` and Huber's
    threshold ``delta``.

    A layer-wide activation (``layer``: softmax) takes the rows of ``z`` (one a sample)
    whole, and its ``numpy_slope`` is then ``∂L/∂z`` itself, of ``upstream`` (``∂L/∂a``),
    ``z`` and ``a``: each sample's Jacobian product, since no slope of one ``z`` exists.
    """

    numpy: str
    numpy_slope: str
    torch: str
    layer: bool = False


# One entry per activation of the registry (test_crosscheck fails on a missing one). The
# kinks follow symgrad's convention: ReLU's f'(0) = 0, as torch.relu's backward gives;
# leaky ReLU's f'(0) is its slope, as F.leaky_relu's backward gives.
ACTIVATION_CODE: dict[str, Code] = {
    "identity": Code("z", "np.ones_like(z)", "z"),
    "sigmoid": Code("1 / (1 + np.exp(-z))", "a * (1 - a)", "torch.sigmoid(z)"),
    "tanh": Code("np.tanh(z)", "1 - a**2", "torch.tanh(z)"),
    "relu": Code("np.maximum(z, 0)", "np.where(z > 0, 1.0, 0.0)", "torch.relu(z)"),
    "leaky_relu": Code("np.where(z > 0, z, slope * z)", "np.where(z > 0, 1.0, slope)",
                       "F.leaky_relu(z, slope)"),
    # threshold=40: PyTorch's default 20 returns z itself above 20, where 1 - σ(20) ≈ 2e-9
    # would still show at 1e-9; above 40 the difference is below float64's precision.
    "softplus": Code("np.logaddexp(0, z)", "1 / (1 + np.exp(-z))",
                     "F.softplus(z, threshold=40)"),
    # GELU exactly, z·Φ(z) with erf (F.gelu's default, approximate='none'); NumPy has no
    # erf, so the script takes math.erf entry by entry.
    "gelu": Code("z * (1 + np.vectorize(math.erf)(z / math.sqrt(2))) / 2",
                 "(1 + np.vectorize(math.erf)(z / math.sqrt(2))) / 2 "
                 "+ z * np.exp(-z**2 / 2) / math.sqrt(2 * math.pi)", "F.gelu(z)"),
    "silu": Code("z / (1 + np.exp(-z))",
                 "(1 + z * (1 - 1 / (1 + np.exp(-z)))) / (1 + np.exp(-z))", "F.silu(z)"),
    # ELU with α = 1 (F.elu's default): f'(0) = 1 from both sides, as its backward gives.
    "elu": Code("np.where(z > 0, z, np.expm1(z))", "np.where(z > 0, 1.0, np.exp(z))",
                "F.elu(z)"),
    "softsign": Code("z / (1 + np.abs(z))", "1 / (1 + np.abs(z))**2", "F.softsign(z)"),
    # Softmax over each row (the outputs' z are small, so e^z needs no shift by the row's
    # max). Backwards through the Jacobian J_jk = a_j(δ_jk - a_k), for any loss:
    # δ_k = Σ_j upstream_j J_jk = a_k (upstream_k - Σ_j upstream_j a_j), which with
    # cross-entropy's upstream -y/a is a - y (the script does not take that shortcut).
    "softmax": Code("np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)",
                    "a * (upstream - (upstream * a).sum(axis=1, keepdims=True))",
                    "torch.softmax(z, dim=1)", layer=True),
}

# One entry per loss of the registry. MAE's slope at a = y is sign(0) = 0, as F.l1_loss's
# backward gives; Huber is quadratic while |a - y| <= delta, as F.huber_loss is.
LOSS_CODE: dict[str, Code] = {
    "squared": Code("(a - y) ** 2", "2 * (a - y)", "F.mse_loss(a, y, reduction='none')"),
    "half_squared": Code("(a - y) ** 2 / 2", "a - y",
                         "F.mse_loss(a, y, reduction='none') / 2"),
    "mse": Code("(a - y) ** 2", "2 * (a - y)", "F.mse_loss(a, y, reduction='none')"),
    "mae": Code("np.abs(a - y)", "np.sign(a - y)", "F.l1_loss(a, y, reduction='none')"),
    "bce": Code("-(y * np.log(a) + (1 - y) * np.log(1 - a))", "(a - y) / (a * (1 - a))",
                "F.binary_cross_entropy(a, y, reduction='none')"),
    "huber": Code("np.where(np.abs(a - y) <= delta, (a - y) ** 2 / 2, "
                  "delta * (np.abs(a - y) - delta / 2))",
                  "np.where(np.abs(a - y) <= delta, a - y, delta * np.sign(a - y))",
                  "F.huber_loss(a, y, reduction='none', delta=delta)"),
    # Categorical cross-entropy -Σ_k y_k log a_k over a softmax's probabilities, one term a
    # class (the targets one-hot or a distribution), the sum over the classes as symgrad's.
    "cross_entropy": Code("-(y * np.log(a))", "-y / a", "-(y * torch.log(a))"),
}


@dataclass(frozen=True, slots=True)
class OptimizerCode:
    """One optimizer in both libraries: ``numpy`` is the body of the NumPy script's
    ``rule(self, theta, g)``, the update rule by hand (its state in ``self.state``, the
    step number in ``self.t``; settings by their names: ``momentum``, ``beta1``, ...);
    ``torch`` builds the ``torch.optim`` optimizer of ``parameters``; ``torch_state`` maps
    each state variable of the record (``v``, ``m``) to torch's name for it."""

    numpy: str
    torch: str
    torch_state: dict[str, str]


_ADAM_MOMENTS = """\
m = self.state["m"] = beta1 * self.state["m"] + (1 - beta1) * g  # m ← β1 m + (1 - β1) g
v = self.state["v"] = beta2 * self.state["v"] + (1 - beta2) * g**2  # v ← β2 v + (1 - β2) g²
m_hat = self.state["m_hat"] = m / (1 - beta1**self.t)  # bias correction: m, v start at 0
v_hat = self.state["v_hat"] = v / (1 - beta2**self.t)  # (kept to check against symgrad's)
"""

# One entry per optimizer of model.OPTIMIZERS (test_crosscheck fails on a missing one), the
# rules of torch.optim's documentation (https://docs.pytorch.org/docs/stable/optim.html).
OPTIMIZER_CODE: dict[str, OptimizerCode] = {
    "sgd": OptimizerCode("return theta - learning_rate * g  # p ← p - α g",
                         "torch.optim.SGD(parameters, lr=learning_rate)", {}),
    "momentum": OptimizerCode(
        'v = self.state["v"] = momentum * self.state["v"] + g  # v ← μ v + g: the first v is g\n'
        "return theta - learning_rate * v  # p ← p - α v",
        "torch.optim.SGD(parameters, lr=learning_rate, momentum=momentum)",
        {"v": "momentum_buffer"}),
    "nesterov": OptimizerCode(
        'v = self.state["v"] = momentum * self.state["v"] + g  # v ← μ v + g, as momentum\n'
        "return theta - learning_rate * (g + momentum * v)  # p ← p - α (g + μ v): a look ahead",
        "torch.optim.SGD(parameters, lr=learning_rate, momentum=momentum, nesterov=True)",
        {"v": "momentum_buffer"}),
    "rmsprop": OptimizerCode(
        'v = self.state["v"] = beta2 * self.state["v"] + (1 - beta2) * g**2  # mean of g²\n'
        "return theta - learning_rate * g / (np.sqrt(v) + eps)  # p ← p - α g / (√v + ε)",
        # torch calls β2 alpha (α is symgrad's learning rate)
        "torch.optim.RMSprop(parameters, lr=learning_rate, alpha=beta2, eps=eps)",
        {"v": "square_avg"}),
    "adam": OptimizerCode(
        _ADAM_MOMENTS + "return theta - learning_rate * m_hat / (np.sqrt(v_hat) + eps)",
        "torch.optim.Adam(parameters, lr=learning_rate, betas=(beta1, beta2), eps=eps)",
        {"m": "exp_avg", "v": "exp_avg_sq"}),
    "adamw": OptimizerCode(
        "theta = theta - learning_rate * weight_decay * theta  # decoupled: never in m or v\n"
        + _ADAM_MOMENTS + "return theta - learning_rate * m_hat / (np.sqrt(v_hat) + eps)",
        "torch.optim.AdamW(parameters, lr=learning_rate, betas=(beta1, beta2), eps=eps, "
        "weight_decay=weight_decay)",
        {"m": "exp_avg", "v": "exp_avg_sq"}),
}

# What a custom activation and its derivative may be built from: SymPy's printers print
# these as the same functions in NumPy and PyTorch. Max and Min become maximum and minimum,
# whose slope at a tie is 1/2 in PyTorch, as SymPy's Heaviside(0) = 1/2 in f'.
_PRINTABLE = (Symbol, Number, NumberSymbol, Add, Mul, Pow, exp, log, tanh, Abs, sign, Max,
              Min, Heaviside)


@dataclass(frozen=True, slots=True)
class _Printed:
    """A custom activation printed for one library, and the modules its code names."""

    function: str
    slope: str | None
    imports: tuple[str, ...]


def _check_printable(formula: Expr, what: str, fmt: str) -> None:
    for node in _nodes(formula):
        if not isinstance(node, _PRINTABLE):
            raise SymgradError(f"--format {fmt} cannot print a custom activation whose {what} "
                               f"uses {type(node).__name__}; use exp, log, tanh, abs, max, "
                               "min, sqrt and powers, or --format py")


def _nodes(formula: Expr):
    """Every sub-expression of ``formula``."""
    todo = [formula]
    while todo:
        node = todo.pop()
        yield node
        todo.extend(node.args)


def _print_custom(function: Expr, derivative: Expr, fmt: str) -> _Printed:
    """A custom activation printed by SymPy's printer for ``fmt`` (numpy: f and f'; torch:
    f alone, autograd derives it)."""
    _check_printable(function, "formula", fmt)
    _check_printable(derivative, "derivative", fmt)
    if fmt == "numpy":
        printer = NumPyPrinter({"strict": True, "fully_qualified_modules": True})
        function_code, slope_code = printer.doprint(function), printer.doprint(derivative)
    else:
        printer = _torch_printer()
        function_code, slope_code = printer.doprint(function), None
    return _Printed(function_code, slope_code, tuple(sorted(printer.module_imports)))


def _torch_printer():
    """SymPy's PyTorch printer, with max and min that take numbers: its own prints
    ``torch.max(0, z)``, which PyTorch refuses. Imported here: SymPy's module imports torch."""
    from sympy.printing.pytorch import TorchPrinter

    class Printer(TorchPrinter):
        def _fold(self, name: str, args) -> str:
            printed = [self._print(arg) if not arg.is_number else
                       f"{self._module_format('torch.tensor')}({self._print(arg)}, "
                       f"dtype={self._module_format('torch.float64')})" for arg in args]
            text = printed[0]
            for other in printed[1:]:
                text = f"{self._module_format(name)}({text}, {other})"
            return text

        def _print_Max(self, expr):
            return self._fold("torch.maximum", expr.args)

        def _print_Min(self, expr):
            return self._fold("torch.minimum", expr.args)

    return Printer({"strict": True, "fully_qualified_modules": True})


def script_code(d: Derivation, fmt: str) -> dict:
    """The library code of each layer's activation, of the loss and of the optimizer, for
    the ``fmt`` (``numpy`` or ``torch``) script's template: ``activations`` (one
    ``{"function", "slope", "title", "layer"}`` per layer), ``loss`` (``{"function",
    "slope"}``), ``optimizer`` (an :class:`OptimizerCode`) and ``imports``, the modules a
    custom activation's printed code names.

    >>> from symgrad.maths.derive import derive
    >>> script_code(derive(), "torch")["activations"][0]["function"]
    'z'
    """
    activations, imports = [], set()
    for act in d.activations:
        if act.name == "custom":
            printed = _print_custom(act.function(Z, d.network.slope),
                                    act.derivative(Z, d.network.slope), fmt)
            imports.update(printed.imports)
            activations.append({"function": printed.function, "slope": printed.slope,
                                "title": "custom", "layer": False})
            continue
        code = ACTIVATION_CODE.get(act.name)
        if code is None:
            raise SymgradError(f"--format {fmt} has no code for the activation {act.name!r} "
                               "yet; use --format py")
        activations.append({"function": code.numpy if fmt == "numpy" else code.torch,
                            "slope": code.numpy_slope if fmt == "numpy" else None,
                            "title": act.name, "layer": code.layer})
    code = LOSS_CODE.get(d.loss_function.name)
    if code is None:
        raise SymgradError(f"--format {fmt} has no code for the loss "
                           f"{d.loss_function.name!r} yet; use --format py")
    loss = {"function": code.numpy if fmt == "numpy" else code.torch,
            "slope": code.numpy_slope if fmt == "numpy" else None}
    imports.discard("torch")  # the torch script imports it; the numpy one imports np
    return {"activations": activations, "loss": loss, "imports": sorted(imports),
            "optimizer": OPTIMIZER_CODE[d.optimizer.name]}
