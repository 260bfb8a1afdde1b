"""Narrow exceptions: every message is one line a learner can act on."""

__all__ = ["SymgradError", "NumberError", "UnknownNameError", "ShapeError",
           "DomainError", "ParseError", "TemplateError", "StepsError", "StepMismatch", "choose"]


class SymgradError(ValueError):
    """Bad input to symgrad; the message names the problem and the valid choices."""


class NumberError(SymgradError):
    """A value that is not a finite number symgrad can keep exact."""


class UnknownNameError(SymgradError):
    """An activation, loss or format name that is not in its registry."""


class ShapeError(SymgradError):
    """Mismatched numbers of inputs, weights or samples."""


class DomainError(SymgradError):
    """A value outside the domain of a function, such as log(0) in cross-entropy."""


class ParseError(SymgradError):
    """Text that is not a safe, simple formula (symgrad never evaluates text)."""


class TemplateError(SymgradError):
    """A template that cannot be found or read."""


class StepsError(SymgradError):
    """Derivative steps that cannot be checked (a formula real at too few points)."""


class StepMismatch(AssertionError):
    """A derivative step that does not equal ``sympy.diff``: a bug in symgrad, never shown."""


def choose(registry: dict, name, kind: str):
    """``registry[name]``, or an UnknownNameError listing the valid names.

    >>> choose({"relu": 1}, "relu", "activation")
    1
    """
    try:
        return registry[name]
    except (KeyError, TypeError):
        raise UnknownNameError(
            f"unknown {kind} {name!r}; choose one of: {', '.join(registry)}") from None
