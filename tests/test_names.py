"""Tests of symgrad.names: the command line's plain lists agree with the registries."""

from symgrad import names
from symgrad.assess import checks, sheets
from symgrad.maths.activations import ACTIVATIONS
from symgrad.maths.losses import LOSSES
from symgrad.maths.model import OPTIMIZERS
from symgrad.views import render


def test_names_match_the_maths_registries():
    """The activation, loss and optimizer names are the registries' keys, in their order."""
    assert names.ACTIVATION_NAMES == tuple(ACTIVATIONS)
    assert names.LOSS_NAMES == tuple(LOSSES)
    assert names.OPTIMIZER_NAMES == tuple(OPTIMIZERS)


def test_names_match_the_formats_and_languages():
    """Each format has the suffix of its files; languages and MAX_SHOWN are render's."""
    assert names.FORMAT_SUFFIXES == {name: suffix for name, (*_, suffix)
                                     in render.FORMATS.items()}
    assert names.LANGUAGES == render.LANGUAGES
    assert names.MAX_SHOWN == render.MAX_SHOWN


def test_names_match_the_checks_and_sheets():
    """A formula's functions, the askable quantities, defaults, difficulties, sheet formats
    and the largest count are those the parser and the sheets use."""
    assert names.FUNCTION_NAMES == tuple(checks.FUNCTIONS)
    assert names.ASKABLE_NAMES == tuple(sheets.ASKABLE)
    assert names.DEFAULT_ASK == sheets.DEFAULT_ASK
    assert names.DEFAULT_NETWORK_ASK == sheets.DEFAULT_NETWORK_ASK
    assert names.DIFFICULTY_NAMES == tuple(sheets.DIFFICULTIES)
    assert names.SHEET_FORMAT_NAMES == tuple(sheets.SHEET_FORMATS)
    assert names.MAX_COUNT == sheets.MAX_COUNT
