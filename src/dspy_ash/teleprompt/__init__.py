"""DSPy's `dspy.teleprompt` path: the optimizers live in `dspy_ash.optimizers`."""

from dspy_ash.optimizers import *  # noqa: F403 - a path alias re-exports the whole public surface
from dspy_ash.optimizers import __all__ as __all__
