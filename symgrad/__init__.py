"""symgrad: exactly computed, typeset chain-rule derivations of a neuron's gradients.

>>> from symgrad import worked_example
>>> worked_example().to_data()["gradients"]["w"]["exact"]
'-8/5'
"""

__version__ = "0.1.0"

from .activations import ACTIVATIONS  # noqa: E402
from .derive import composed_loss, derive  # noqa: E402
from .records import Derivation  # noqa: E402
from .errors import SymgradError  # noqa: E402
from .losses import LOSSES  # noqa: E402
from .model import Neuron, Sample  # noqa: E402
from .render import FORMATS, WorkedExample, worked_example  # noqa: E402
from .sheets import Sheet, sheet  # noqa: E402
from .checks import check, diagnose, gradcheck, parse  # noqa: E402
from .steps import DerivativeSteps, derivative_steps  # noqa: E402

__all__ = ["ACTIVATIONS", "LOSSES", "FORMATS", "Neuron", "Sample", "Derivation",
           "WorkedExample", "Sheet", "SymgradError", "derive", "worked_example", "sheet",
           "composed_loss", "parse", "check", "diagnose", "gradcheck",
           "derivative_steps", "DerivativeSteps", "__version__"]
