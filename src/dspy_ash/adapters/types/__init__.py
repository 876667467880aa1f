"""Special field types the adapters understand."""

from dspy_ash.adapters.types.history import History

__all__ = ["History"]
