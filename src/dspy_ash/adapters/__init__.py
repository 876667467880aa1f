"""Adapters turn a signature, demos and inputs into LM messages and parse the replies back."""

from dspy_ash.adapters._base import Adapter
from dspy_ash.adapters._chat import ChatAdapter
from dspy_ash.adapters._json_adapter import JSONAdapter
from dspy_ash.adapters._two_step_adapter import TwoStepAdapter
from dspy_ash.adapters._xml_adapter import XMLAdapter
from dspy_ash.adapters.types import History

__all__ = ["Adapter", "ChatAdapter", "History", "JSONAdapter", "TwoStepAdapter", "XMLAdapter"]
