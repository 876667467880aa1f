"""Test helpers for users of dspy-ash: a scripted LM and (in fake_servers) fake provider HTTP servers."""

from dspy_ash.testing.dummy import DummyLM

__all__ = ["DummyLM"]
