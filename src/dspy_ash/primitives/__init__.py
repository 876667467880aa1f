"""Examples, predictions and the Module base."""

from dspy_ash.primitives._example import Example
from dspy_ash.primitives._module import BaseModule, Module, Parameter
from dspy_ash.primitives._prediction import Completions, Prediction

__all__ = ["BaseModule", "Completions", "Example", "Module", "Parameter", "Prediction"]
