"""Turning call parameters into JSON (pydantic `response_format` classes become JSON schemas), and message
content into the plain text providers without content parts take."""

from __future__ import annotations

from typing import Any


def _is_pydantic_class(value: Any) -> bool:
    return isinstance(value, type) and hasattr(value, "model_json_schema")


def response_format_json(value: Any) -> Any:
    """OpenAI's `{"type": "json_schema", ...}` for a pydantic class; anything else unchanged."""
    if _is_pydantic_class(value):
        return {
            "type": "json_schema",
            "json_schema": {"name": value.__name__, "schema": value.model_json_schema(), "strict": True},
        }
    return value


def jsonable_params(params: dict[str, Any]) -> dict[str, Any]:
    if "response_format" not in params:
        return params
    return {**params, "response_format": response_format_json(params["response_format"])}


def json_default(value: Any) -> Any:
    """`json.dumps(default=...)` for cache keys: schemas for pydantic classes, dumps for instances."""
    if _is_pydantic_class(value):
        return value.model_json_schema()
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    if callable(value):
        return f"<callable:{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', repr(value))}>"
    return repr(value)


def text_parts(content: Any) -> str:
    """A message's content as plain text: a string as it is, a list of content parts as its `text` parts
    joined by newlines (other parts dropped), None as empty."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return "" if content is None else str(content)
