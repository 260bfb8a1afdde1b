"""The version of symgrad, read by the package and its modules without importing it."""

__version__ = "0.1.0"
