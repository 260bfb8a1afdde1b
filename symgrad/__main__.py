"""``python -m symgrad`` runs the command line."""

from .cli import run

run()
