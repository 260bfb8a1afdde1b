"""Words that live in Python but are printed in a lesson's language.

Titles of activations, losses and plots are data of their registries; templates print them
through gettext (``_(act.title)``). ``N_`` marks them, so that Babel's extractor
(``pybabel extract -k N_``, see README "Languages") puts them in the catalogs.
"""

from __future__ import annotations

__all__ = ["N_"]


def N_(message: str) -> str:
    """Mark ``message`` for translation where it is printed, and return it unchanged.

    >>> N_("sigmoid")
    'sigmoid'
    """
    return message
