"""symgrad: exactly computed, typeset chain-rule derivations of a neuron's gradients.

>>> from symgrad import worked_example
>>> worked_example().to_data()["gradients"]["w"]["exact"]
'-8/5'
"""

from ._version import __version__

from .maths.activations import ACTIVATIONS
from .maths.derive import composed_loss, derive
from .maths.records import Derivation
from .errors import SymgradError
from .maths.losses import LOSSES
from .maths.model import Neuron, Optimizer, Sample
from .views.render import FORMATS, WorkedExample, worked_example
from .assess.sheets import Sheet, sheet
from .assess.checks import check, diagnose, gradcheck, parse
from .assess.mark import Marking, PartMark, mark
from .maths.steps import DerivativeSteps, derivative_steps

__all__ = ["ACTIVATIONS", "LOSSES", "FORMATS", "Neuron", "Sample", "Optimizer", "Derivation",
           "WorkedExample", "Sheet", "SymgradError", "derive", "worked_example", "sheet",
           "composed_loss", "parse", "check", "diagnose", "gradcheck",
           "derivative_steps", "DerivativeSteps", "mark", "Marking", "PartMark",
           "__version__"]
