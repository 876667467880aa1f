"""Examples, predictions and the Module base."""

from dspy_ash.primitives.example import Example
from dspy_ash.primitives.module import BaseModule, Module, Parameter
from dspy_ash.primitives.prediction import Completions, Prediction

__all__ = ["BaseModule", "Completions", "Example", "Module", "Parameter", "Prediction"]
