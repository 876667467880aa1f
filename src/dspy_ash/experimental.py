"""DSPy's `dspy.experimental`: the types for citing sources (Anthropic's Citations API)."""

from dspy_ash.adapters.types._citation import Citations
from dspy_ash.adapters.types._document import Document

__all__ = ["Citations", "Document"]
