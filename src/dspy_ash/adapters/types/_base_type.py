"""`dspy.Type`: the base of field types that format themselves as message content parts (images, audio,
files, documents) or as text of their own (code, reasoning), as DSPy 3.4.1's `dspy.adapters.types.Type`.

A value whose `format()` returns a list of OpenAI-style content parts is written into the prompt text
between two markers (`serialize_model`); after the adapter has built a user message's text, the marked
spans are cut out and the message's content becomes a list of parts: the text around each value and the
value's own parts (`split_custom_type_content`). The markers survive nesting (a `list[Image]` field, a
pydantic model holding images) because the marked string is what JSON serialization writes.
"""

from __future__ import annotations

import json
import re
from typing import Any, get_args, get_origin

import json_repair
import pydantic

CUSTOM_TYPE_START_IDENTIFIER = "<<CUSTOM-TYPE-START-IDENTIFIER>>"
CUSTOM_TYPE_END_IDENTIFIER = "<<CUSTOM-TYPE-END-IDENTIFIER>>"
_MARKED = re.compile(rf"{CUSTOM_TYPE_START_IDENTIFIER}(.*?){CUSTOM_TYPE_END_IDENTIFIER}", re.DOTALL)


class Type(pydantic.BaseModel):
    """Base class for custom field types. A subclass implements `format()`, returning either a string
    (written into the prompt as is) or a list of content parts (the items of an OpenAI user message's
    `content` array), for example:

        class Event(dspy.Type):
            label: str

            def format(self) -> list[dict[str, Any]]:
                return [{"type": "text", "text": f"Event: {self.label}"}]

    `description()` is added to the field's line in the system message; the class methods below let a
    type use a native LM feature (reasoning, citations) instead of the prompt.
    """

    def format(self) -> list[dict[str, Any]] | str:
        raise NotImplementedError

    @classmethod
    def description(cls) -> str:
        """Text describing the type to the LM; empty for none."""
        return ""

    @classmethod
    def extract_custom_type_from_annotation(cls, annotation: Any) -> list[type[Type]]:
        """Every subclass of `cls` inside `annotation`, at any depth (`Tool` in `list[dict[str, Tool]]`)."""
        try:
            if isinstance(annotation, type) and issubclass(annotation, cls):
                return [annotation]
        except TypeError:  # a parameterized generic that passes isinstance(..., type) on some Pythons
            pass
        if get_origin(annotation) is None:
            return []
        return [
            found for arg in get_args(annotation) for found in cls.extract_custom_type_from_annotation(arg)
        ]

    @pydantic.model_serializer()
    def serialize_model(self) -> Any:
        formatted = self.format()
        if isinstance(formatted, list):
            payload = json.dumps(formatted, ensure_ascii=False)
            return f"{CUSTOM_TYPE_START_IDENTIFIER}{payload}{CUSTOM_TYPE_END_IDENTIFIER}"
        return formatted

    @classmethod
    def adapt_to_native_lm_feature(
        cls, signature: Any, field_name: str, lm: Any, lm_kwargs: dict[str, Any]
    ) -> Any:
        """The signature to format, when the LM can produce this output field natively (possibly updating
        `lm_kwargs` in place to ask for it); the signature unchanged when it cannot."""
        return signature

    @classmethod
    def is_streamable(cls) -> bool:
        return False

    @classmethod
    def parse_stream_chunk(cls, chunk: Any) -> Any:
        """The value carried by one streamed chunk, or None when the chunk is not for this type."""
        return None

    @classmethod
    def parse_lm_response(cls, response: str | dict[str, Any]) -> Any:
        """The value of this type carried natively by one LM output, or None."""
        return None


def split_custom_type_content(text: str) -> list[dict[str, Any]] | None:
    """The content parts of a user message's text, or None when the text holds no marked value."""
    if CUSTOM_TYPE_START_IDENTIFIER not in text:
        return None
    parts: list[dict[str, Any]] = []
    last_end = 0
    for match in _MARKED.finditer(text):
        start, end = match.span()
        if start > last_end:
            parts.append({"type": "text", "text": text[last_end:start]})
        parts.extend(_payload_parts(match.group(1).strip()))
        last_end = end
    if last_end < len(text):
        parts.append({"type": "text", "text": text[last_end:]})
    return parts


def expand_custom_types(message: dict[str, Any]) -> dict[str, Any]:
    """`message` with its marked values made into content parts (only user messages with text content)."""
    content = message.get("content")
    if message.get("role") != "user" or not isinstance(content, str):
        return message
    parts = split_custom_type_content(content)
    return message if parts is None else {**message, "content": parts}


def split_message_content_for_custom_types(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """DSPy's public helper: each user message's text content split into parts, in place."""
    for i, message in enumerate(messages):
        messages[i] = expand_custom_types(message)
    return messages


def _payload_parts(payload: str) -> list[dict[str, Any]]:
    parsed = _parse_payload(payload)
    if isinstance(parsed, list):
        return [
            p if isinstance(p, dict) else {"type": "text", "text": str(p)}  # pyright: ignore[reportUnknownArgumentType]
            for p in parsed  # pyright: ignore[reportUnknownVariableType]
        ]
    return [{"type": "text", "text": payload}]


def _parse_payload(payload: str) -> Any:
    # A value nested in a JSON field (`list[Image]`, a model holding an image) was JSON-encoded twice:
    # the marked string sits inside a JSON string, with its quotes escaped.
    for parse in (json.loads, _parse_doubly_quoted, json_repair.loads):
        try:
            return parse(payload)
        except Exception:
            continue
    return None


def _parse_doubly_quoted(payload: str) -> Any:
    return json.loads(json.loads(f'"{payload}"'))
