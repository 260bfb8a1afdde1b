"""The names the command line offers, without the maths behind them.

``symgrad --help``, ``--version`` and a mistyped flag must answer at once, without importing
SymPy (most of a run's time): the parser lists and checks choices from these plain tuples,
and the registries they name (ACTIVATIONS, LOSSES, FORMATS, ...) are imported only by a
command that works a problem. tests/test_names.py keeps each in step with its registry.

>>> "sigmoid" in ACTIVATION_NAMES and FORMAT_SUFFIXES["tex"]
'.tex'
"""

__all__ = ["ACTIVATION_NAMES", "LOSS_NAMES", "OPTIMIZER_NAMES", "FORMAT_SUFFIXES",
           "LANGUAGES", "MAX_SHOWN", "FUNCTION_NAMES", "ASKABLE_NAMES", "DEFAULT_ASK",
           "DEFAULT_NETWORK_ASK", "DIFFICULTY_NAMES", "SHEET_FORMAT_NAMES", "MAX_COUNT"]

# maths.activations.ACTIVATIONS and maths.losses.LOSSES, in their order.
ACTIVATION_NAMES = ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "softplus", "gelu",
                    "silu", "elu", "softsign")
LOSS_NAMES = ("squared", "half_squared", "mse", "mae", "bce", "huber")
# maths.model.OPTIMIZERS
OPTIMIZER_NAMES = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw")
# views.render: each of FORMATS with the suffix of its files; LANGUAGES; MAX_SHOWN.
FORMAT_SUFFIXES = {"md": ".md", "tex": ".tex", "py": ".py", "json": ".json",
                   "html": ".html", "dot": ".dot", "ipynb": ".ipynb", "numpy": ".py",
                   "torch": ".py"}
LANGUAGES = {"en": "English", "de": "Deutsch"}
MAX_SHOWN = 12
# assess.checks.FUNCTIONS: the functions a formula may call.
FUNCTION_NAMES = ("exp", "log", "sqrt", "sigmoid", "tanh", "erf", "relu", "Heaviside", "abs",
                  "max", "min")
# assess.sheets: ASKABLE, DEFAULT_ASK, DEFAULT_NETWORK_ASK, DIFFICULTIES, SHEET_FORMATS,
# MAX_COUNT.
ASKABLE_NAMES = ("prediction", "loss", "w", "b", "update", "loss_after", "delta", "J", "dJ",
                 "state")
DEFAULT_ASK = ("loss", "w", "b", "update")
DEFAULT_NETWORK_ASK = ("loss", "delta", "w")
DIFFICULTY_NAMES = ("easy", "medium", "hard")
SHEET_FORMAT_NAMES = ("md", "tex", "json", "moodle", "moodle-numerical", "qti")
MAX_COUNT = 500
