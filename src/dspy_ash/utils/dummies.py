"""`dspy.utils.dummies` path for DSPy code: the scripted LM lives in `dspy_ash.testing`."""

from dspy_ash.testing.dummy import DummyLM

__all__ = ["DummyLM"]
