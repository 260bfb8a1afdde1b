"""symgrad: exactly computed, typeset chain-rule derivations of a neuron's gradients.

>>> from symgrad import worked_example
>>> worked_example().to_data()["gradients"]["w"]["exact"]
'-8/5'

The public names are imported when first used (PEP 562), so that ``symgrad --help`` and
``--version`` do not wait for SymPy.
"""

from importlib import import_module

from ._version import __version__

# public name -> the module that defines it
_HOMES = {
    "ACTIVATIONS": ".maths.activations",
    "composed_loss": ".maths.derive", "derive": ".maths.derive",
    "Derivation": ".maths.records",
    "SymgradError": ".errors",
    "LOSSES": ".maths.losses",
    "Neuron": ".maths.model", "Optimizer": ".maths.model", "Sample": ".maths.model",
    "FORMATS": ".views.render", "WorkedExample": ".views.render",
    "worked_example": ".views.render",
    "Sheet": ".assess.sheets", "sheet": ".assess.sheets",
    "check": ".assess.checks", "diagnose": ".assess.checks", "gradcheck": ".assess.checks",
    "parse": ".assess.checks",
    "Marking": ".assess.mark", "PartMark": ".assess.mark", "mark": ".assess.mark",
    "DerivativeSteps": ".maths.steps", "derivative_steps": ".maths.steps",
}

__all__ = ["ACTIVATIONS", "LOSSES", "FORMATS", "Neuron", "Sample", "Optimizer", "Derivation",
           "WorkedExample", "Sheet", "SymgradError", "derive", "worked_example", "sheet",
           "composed_loss", "parse", "check", "diagnose", "gradcheck",
           "derivative_steps", "DerivativeSteps", "mark", "Marking", "PartMark",
           "__version__"]


def __getattr__(name: str):
    """``symgrad.NAME`` for a public name: imported from its module on first use, then kept."""
    if name not in _HOMES:
        raise AttributeError(f"module 'symgrad' has no attribute {name!r}")
    value = getattr(import_module(_HOMES[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
