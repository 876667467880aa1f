"""Adapters turn a signature, demos and inputs into LM messages and parse the replies back."""

from dspy_ash.adapters.base import Adapter
from dspy_ash.adapters.chat import ChatAdapter
from dspy_ash.adapters.json_adapter import JSONAdapter
from dspy_ash.adapters.two_step_adapter import TwoStepAdapter
from dspy_ash.adapters.types import History
from dspy_ash.adapters.xml_adapter import XMLAdapter

__all__ = ["Adapter", "ChatAdapter", "History", "JSONAdapter", "TwoStepAdapter", "XMLAdapter"]
