"""`BAMLAdapter`: `JSONAdapter` with output types shown as compact BAML-style schemas instead of JSON schema.

The rendering follows BAML's (https://github.com/BoundaryML/baml) and DSPy 3.4.1's byte for byte: a
pydantic model becomes an indented `{ name: type, }` block with field descriptions as `#` comments.
"""

from __future__ import annotations

import inspect
import types
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from dspy_ash.adapters._formatting import format_field_value
from dspy_ash.adapters._json_adapter import JSONAdapter
from dspy_ash.errors import SignatureError

COMMENT_SYMBOL = "#"  # Python's comment marker reads better to models than `//` (DSPy's finding)
INDENTATION = "  "
_UNIONS = (types.UnionType, Union)


def _is_model(annotation: Any) -> bool:
    return inspect.isclass(annotation) and issubclass(annotation, BaseModel)


def _render_literal_member(member: Any) -> str:
    """A Literal member as the JSON value the model is expected to write."""
    if isinstance(member, str):
        return f'"{member}"'
    if isinstance(member, bool):
        return "true" if member else "false"
    if member is None:
        return "null"
    return str(member)


def render_type(annotation: Any, indent: int = 0, seen: set[type] | None = None) -> str:
    """A type annotation in BAML's notation: `string`, `int or null`, `"a" or "b"`, `T[]`, a model's block."""
    simple = {str: "string", int: "int", float: "float", bool: "boolean"}
    if annotation in simple:
        return simple[annotation]
    if _is_model(annotation):
        return _render_model(annotation, indent, seen)
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in _UNIONS:
        present = [arg for arg in args if arg is not type(None)]
        rendered = " or ".join(render_type(arg, indent, seen) for arg in present)
        return f"{rendered} or null" if len(present) < len(args) else rendered
    if origin is Literal:
        return " or ".join(_render_literal_member(arg) for arg in args)
    if origin is list:
        inner = args[0]
        if _is_model(inner):  # a list of models is drawn as the model's block inside brackets
            return f"[\n{_render_model(inner, indent + 1, seen)}\n{INDENTATION * indent}]"
        return f"{render_type(inner, indent, seen)}[]"
    if origin is dict:
        return f"dict[{render_type(args[0], indent, seen)}, {render_type(args[1], indent, seen)}]"
    return getattr(annotation, "__name__", str(annotation))


def _doc_comments(model: type[BaseModel], indent: str) -> list[str]:
    doc = (model.__doc__ or "").strip()
    return [f"{indent}{COMMENT_SYMBOL} {line.strip()}" for line in doc.split("\n") if line.strip()]


def _render_model(model: type[BaseModel], indent: int = 0, seen: set[type] | None = None) -> str:
    """A model's fields as a `{ ... }` block; descriptions (or aliases) and nested models' docstrings as comments."""
    # `seen` holds the models being drawn around this one: meeting one again is a cycle. DSPy never
    # removes a model, so it also refuses a model used twice side by side; here that is drawn twice.
    seen = set() if seen is None else seen
    if model in seen:
        raise SignatureError(
            "BAMLAdapter cannot handle recursive pydantic models, please use a different adapter."
        )
    seen.add(model)
    try:
        return _render_fields(model, indent, seen)
    finally:
        seen.discard(model)


def _render_fields(model: type[BaseModel], indent: int, seen: set[type]) -> str:
    here, inner = INDENTATION * indent, INDENTATION * (indent + 1)
    # Only the top-level model's docstring goes above the block; a nested one's goes above its field.
    lines = _doc_comments(model, here) if indent == 0 else []
    lines.append(f"{here}{{")
    if not model.model_fields:
        lines.append(f"{inner}{COMMENT_SYMBOL} No fields defined")
    for name, field in model.model_fields.items():
        if field.description:
            lines.append(f"{inner}{COMMENT_SYMBOL} {field.description}")
        elif field.alias and field.alias != name:
            lines.append(f"{inner}{COMMENT_SYMBOL} alias: {field.alias}")
        annotation = field.annotation
        if get_origin(annotation) in _UNIONS:
            present = [arg for arg in get_args(annotation) if arg is not type(None)]
            annotation = present[0] if len(present) == 1 else annotation
        if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
            lines.extend(_doc_comments(annotation, inner))
        lines.append(f"{inner}{name}: {render_type(field.annotation, indent + 1, seen)},")
    lines.append(f"{here}}}")
    return "\n".join(lines)


class BAMLAdapter(JSONAdapter):
    """A `JSONAdapter` whose system message shows each output type as a compact, commented BAML-style
    schema (fewer tokens than JSON schema, easier for small models), and whose user messages show
    pydantic inputs as indented JSON. Replies are parsed as `JSONAdapter` parses them."""

    def format_field_structure(self, signature: Any) -> str:
        sections = [
            "All interactions will be structured in the following way, with the appropriate values filled in.\n"
        ]
        for name in signature.input_fields:
            sections.extend([f"[[ ## {name} ## ]]", f"{{{name}}}", ""])
        for name, field in signature.output_fields.items():
            sections.append(f"[[ ## {name} ## ]]")
            sections.append(f"Output field `{name}` should be of type: {render_type(field.annotation)}\n")
        sections.append("[[ ## completed ## ]]")
        return "\n".join(sections)

    def format_user_message_content(
        self,
        signature: Any,
        inputs: dict[str, Any],
        prefix: str = "",
        suffix: str = "",
        main_request: bool = False,
    ) -> str:
        # DSPy's BAMLAdapter drops empty pieces before joining; ChatAdapter keeps them.
        parts = self._user_message_parts(signature, inputs, prefix, suffix, main_request)
        return "\n\n".join(part for part in parts if part).strip()

    def _format_input_value(self, field: FieldInfo, value: Any) -> str:
        if isinstance(value, BaseModel):
            return value.model_dump_json(indent=2, by_alias=True)
        return format_field_value(field, value)
