"""Cross-check scripts: the worked example rebuilt with NumPy or PyTorch, asserting its numbers.

``--format numpy`` writes a script with a hand-written, vectorised forward and backward
pass in matrix form; ``--format torch`` builds the same model from PyTorch's own functions
and takes its gradients from autograd (``loss.backward()``). Both run the recorded training
steps and assert that the loss, every gradient and every updated parameter equal the
record's exact values (printed to 20 significant digits) to a relative 1e-9 in float64.

Each registry activation and loss is one entry of :data:`ACTIVATION_CODE` and
:data:`LOSS_CODE`, written here by hand so that the libraries check SymPy rather than
SymPy's own formulas printed back; a custom activation (``--activation-expr``) is printed
by SymPy's NumPy and PyTorch printers, and refused when it uses something they cannot
print as the same function.
"""

from __future__ import annotations

from dataclasses import dataclass

from sympy import (Abs, Add, Expr, Heaviside, Max, Min, Mul, Number, NumberSymbol, Pow,
                   Symbol, exp, log, sign, tanh)
from sympy.printing.numpy import NumPyPrinter

from ..errors import SymgradError
from ..maths.records import Z, Derivation

__all__ = ["Code", "ACTIVATION_CODE", "LOSS_CODE", "LIBRARIES", "script_code"]

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
    """

    numpy: str
    numpy_slope: str
    torch: str


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
    """The library code of each layer's activation and of the loss, for the ``fmt``
    (``numpy`` or ``torch``) script's template: ``activations`` (one
    ``{"function", "slope"}`` per layer), ``loss`` (``{"function", "slope"}``) and
    ``imports``, the modules a custom activation's printed code names.

    >>> from symgrad.maths.derive import derive
    >>> script_code(derive(), "torch")["activations"][0]["function"]
    'z'
    """
    if d.optimizer.name != "sgd" or d.l2:
        raise SymgradError(f"--format {fmt} checks plain gradient descent so far, not "
                           f"{d.optimizer.name}{' with an L2 penalty' if d.l2 else ''}; use "
                           "--format py, which follows the optimizer and the penalty")
    activations, imports = [], set()
    for act in d.activations:
        if act.name == "custom":
            printed = _print_custom(act.function(Z, d.network.slope),
                                    act.derivative(Z, d.network.slope), fmt)
            imports.update(printed.imports)
            activations.append({"function": printed.function, "slope": printed.slope,
                                "title": "custom"})
            continue
        code = ACTIVATION_CODE.get(act.name)
        if code is None:
            raise SymgradError(f"--format {fmt} has no code for the activation {act.name!r} "
                               "yet; use --format py")
        activations.append({"function": code.numpy if fmt == "numpy" else code.torch,
                            "slope": code.numpy_slope if fmt == "numpy" else None,
                            "title": act.name})
    code = LOSS_CODE.get(d.loss_function.name)
    if code is None:
        raise SymgradError(f"--format {fmt} has no code for the loss "
                           f"{d.loss_function.name!r} yet; use --format py")
    loss = {"function": code.numpy if fmt == "numpy" else code.torch,
            "slope": code.numpy_slope if fmt == "numpy" else None}
    imports.discard("torch")  # the torch script imports it; the numpy one imports np
    return {"activations": activations, "loss": loss, "imports": sorted(imports)}
