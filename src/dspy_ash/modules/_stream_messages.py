"""What `streamify` yields besides a program's result: `StreamResponse` pieces of listened fields, and
`StatusMessage`s that a `StatusMessageProvider` writes for tool, module and LM calls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dspy_ash.events import BaseCallback
from dspy_ash.settings import read


@dataclass
class StreamResponse:
    """A piece of one output field's value, as it streams: `chunk` is text, or a custom type's parsed chunk."""

    predict_name: str | None
    signature_field_name: str
    chunk: Any
    is_last_chunk: bool


@dataclass
class StatusMessage:
    """A progress message of a streamed program (from its `StatusMessageProvider`)."""

    message: str


def sync_send_to_stream(stream: Any, message: Any) -> None:
    """Send `message` to a streamed program's sink from sync code, on any thread."""
    stream.send_sync(message)


class StatusMessageProvider:
    """Override any method to stream your own status messages; one returning None sends nothing.

    `streamify(program, status_message_provider=MyProvider())`."""

    def tool_start_status_message(self, instance: Any, inputs: dict[str, Any]) -> str | None:
        """Status message before a `dspy.Tool` is called."""
        return f"Calling tool {instance.name}..."

    def tool_end_status_message(self, outputs: Any) -> str | None:
        """Status message after a `dspy.Tool` is called."""
        return "Tool calling finished! Querying the LLM with tool calling results..."

    def module_start_status_message(self, instance: Any, inputs: dict[str, Any]) -> str | None:
        """Status message before a `dspy.Module` or `dspy.Predict` is called."""
        return None

    def module_end_status_message(self, outputs: Any) -> str | None:
        """Status message after a `dspy.Module` or `dspy.Predict` is called."""
        return None

    def lm_start_status_message(self, instance: Any, inputs: dict[str, Any]) -> str | None:
        """Status message before a `dspy.LM` is called."""
        return None

    def lm_end_status_message(self, outputs: Any) -> str | None:
        """Status message after a `dspy.LM` is called."""
        return None


class StatusStreamingCallback(BaseCallback):
    """The callback `streamify` adds: sends the provider's messages to the running stream, if any."""

    def __init__(self, status_message_provider: StatusMessageProvider | None = None) -> None:
        self.status_message_provider = status_message_provider or StatusMessageProvider()

    # Each hook asks the provider only while a stream runs (DSPy's order: no stream, no provider call).
    def on_tool_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        if _streaming() and instance.name != "finish":
            _send(self.status_message_provider.tool_start_status_message(instance, inputs))

    def on_tool_end(self, call_id: str, outputs: Any, exception: BaseException | None = None) -> None:
        if _streaming() and outputs != "Completed.":
            _send(self.status_message_provider.tool_end_status_message(outputs))

    def on_lm_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        if _streaming():
            _send(self.status_message_provider.lm_start_status_message(instance, inputs))

    def on_lm_end(self, call_id: str, outputs: Any, exception: BaseException | None = None) -> None:
        if _streaming():
            _send(self.status_message_provider.lm_end_status_message(outputs))

    def on_module_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        if _streaming():
            _send(self.status_message_provider.module_start_status_message(instance, inputs))

    def on_module_end(self, call_id: str, outputs: Any, exception: BaseException | None = None) -> None:
        if _streaming():
            _send(self.status_message_provider.module_end_status_message(outputs))


def _streaming() -> bool:
    return read("send_stream") is not None


def _send(message: str | None) -> None:
    if message:
        sync_send_to_stream(read("send_stream"), StatusMessage(message))
