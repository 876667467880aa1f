"""`XMLAdapter`: DSPy's `<field>...</field>` prompt format, byte for byte, with nested XML for structured outputs."""

from __future__ import annotations

import types
import xml.etree.ElementTree as ET
from collections import defaultdict
from typing import Any, Union, get_args, get_origin
from xml.sax.saxutils import quoteattr

import pydantic
from pydantic import TypeAdapter
from pydantic.fields import FieldInfo
from typing_extensions import is_typeddict  # a pydantic dependency; also knows typing_extensions.TypedDict

from dspy_ash.adapters._chat import ChatAdapter, FieldInfoWithName
from dspy_ash.adapters._formatting import format_field_value, serialize_for_json, translate_field_type
from dspy_ash.adapters._parsing import apply_output_defaults, parse_value
from dspy_ash.errors import AdapterParseError
from dspy_ash.signatures._field import field_kind

Schema = dict[str, Any]


class XMLAdapter(ChatAdapter):
    """Fields as `<name>...</name>` blocks; list, dict, TypedDict and pydantic outputs as nested XML
    (`<item>` per list element, a child per key). Replies are parsed as XML; one it cannot parse falls
    back to `JSONAdapter`, as `ChatAdapter` does."""

    def format_field_with_value(self, fields_with_values: dict[FieldInfoWithName, Any]) -> str:
        output: list[str] = []
        for (name, field), value in fields_with_values.items():
            serialized = serialize_for_json(value)
            is_output = field_kind(field) == "output"
            if is_output and _uses_nested_xml(field.annotation) and isinstance(serialized, dict | list):
                output.append(_value_to_xml(serialized, name))
                continue
            formatted = format_field_value(field, value)
            if is_output and field.annotation is str:
                formatted = formatted.replace("&", "&amp;").replace("<", "&lt;")
            output.append(f"<{name}>\n{formatted}\n</{name}>")
        return "\n\n".join(output).strip()

    def format_field_structure(self, signature: Any) -> str:
        def format_field(name: str, field: FieldInfo) -> str:
            if field_kind(field) == "output" and _uses_nested_xml(field.annotation):
                return _xml_schema(name, field.annotation)
            return self.format_field_with_value(
                {FieldInfoWithName(name, field): translate_field_type(name, field)}
            )

        groups = (
            "\n\n".join(format_field(name, field) for name, field in group.items())
            for group in (signature.input_fields, signature.output_fields)
        )
        return "\n\n".join(
            (
                "All interactions will be structured in the following way, with the appropriate values filled in.",
                *groups,
            )
        )

    def format_user_message_content(
        self,
        signature: Any,
        inputs: dict[str, Any],
        prefix: str = "",
        suffix: str = "",
        main_request: bool = False,
    ) -> str:
        fields = {
            FieldInfoWithName(k, v): inputs[k] for k, v in signature.input_fields.items() if k in inputs
        }
        parts = [prefix, self.format_field_with_value(fields)]
        if main_request:
            parts.append(self.user_message_output_requirements(signature))
        return "\n\n".join((*parts, suffix)).strip()

    def format_assistant_message_content(
        self, signature: Any, outputs: dict[str, Any], missing_field_message: str | None = None
    ) -> str:
        fields = {
            FieldInfoWithName(k, v): outputs.get(k, missing_field_message)
            for k, v in signature.output_fields.items()
        }
        return self.format_field_with_value(fields)

    def user_message_output_requirements(self, signature: Any) -> str:
        names = ", then ".join(f"`<{name}>`" for name in signature.output_fields)
        schemas = [
            _xml_schema(name, field.annotation)
            for name, field in signature.output_fields.items()
            if _uses_nested_xml(field.annotation)
        ]
        return f"Respond with the corresponding output fields wrapped in XML tags {names}." + (
            f" Use this nested XML structure: {' '.join(schemas)}" if schemas else ""
        )

    def parse(self, signature: Any, completion: str) -> dict[str, Any]:
        """The reply is read as the children of one root element; the first of each output's tags is its
        value (all of them for a list), typed by walking the field's JSON schema."""
        try:
            root = ET.fromstring(f"<dspy_root>{completion}</dspy_root>")
        except ET.ParseError as exc:
            raise AdapterParseError(
                "XMLAdapter", signature, completion, message=f"Failed to parse XML: {exc}"
            ) from exc
        elements = _group_children(root)
        fields: dict[str, Any] = {}
        for name, field in signature.output_fields.items():
            if name not in elements:
                continue
            adapter = TypeAdapter(field.annotation)
            schema = adapter.json_schema(by_alias=False)
            value: Any = None
            error: ValueError | None = None
            # an Optional/Union field tries its whole schema, then each alternative, as DSPy does
            for candidate in [schema, *schema.get("anyOf", [])]:
                try:
                    value = _elements_to_value(elements[name], candidate, schema.get("$defs", {}))
                    try:
                        fields[name] = parse_value(value, field.annotation)
                    except pydantic.ValidationError:
                        fields[name] = adapter.validate_python(value, by_name=True)
                    break
                except ValueError as exc:
                    error = exc
            else:
                raise AdapterParseError(
                    "XMLAdapter",
                    signature,
                    completion,
                    message=f"Failed to parse field {field} with value {value}: {error}",
                ) from error
        fields = apply_output_defaults(signature.output_fields, fields)
        if fields.keys() != signature.output_fields.keys():
            raise AdapterParseError("XMLAdapter", signature, completion, parsed_result=fields)
        return fields


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;")


def _value_to_xml(value: Any, tag: str, key: str | None = None) -> str:
    """A JSON-like value as XML: a list's elements as `<item>`s, a dict's keys as child tags (or as
    `<entry key="...">` when a key is no valid tag name)."""
    attrs = f" key={quoteattr(key)}" if key is not None else ""
    if isinstance(value, list):
        children = "".join(_value_to_xml(item, "item") for item in value)
        return f"<{tag}{attrs}>{children}</{tag}>" if children else f"<{tag}{attrs} />"
    if isinstance(value, dict):
        parts: list[str] = []
        for raw_name, child in value.items():
            name = str(raw_name)
            valid_name = (name[:1] + name[1:].replace("-", "_").replace(".", "_")).isidentifier()
            parts.append(_value_to_xml(child, name) if valid_name else _value_to_xml(child, "entry", name))
        return f"<{tag}{attrs}>{''.join(parts)}</{tag}>"
    return f"<{tag}{attrs}>{_escape(str(value))}</{tag}>" if value is not None else f"<{tag}{attrs} />"


def _xml_schema(tag: str, annotation: Any) -> str:
    schema = TypeAdapter(annotation).json_schema(by_alias=False)
    return _schema_to_xml(tag, schema, schema.get("$defs", {}), frozenset())


def _schema_to_xml(tag: str, schema: Schema, definitions: dict[str, Schema], seen: frozenset[str]) -> str:
    """The XML skeleton of a JSON schema, `...` at the leaves; a recursive model is cut at its second visit."""
    if ref := schema.get("$ref"):
        name = ref.rsplit("/", 1)[-1]
        if name in seen:
            return f"<{tag}>...</{tag}>"
        return _schema_to_xml(tag, definitions[name], definitions, seen | {name})
    if choices := schema.get("anyOf"):
        chosen = next((s for s in choices if s.get("type") != "null"), choices[0])
        return _schema_to_xml(tag, chosen, definitions, seen)
    if schema.get("type") == "array":
        item = _schema_to_xml("item", schema.get("items", {}), definitions, seen)
        return f"<{tag}>{item}</{tag}>"
    children = "".join(
        _schema_to_xml(name, child, definitions, seen) for name, child in schema.get("properties", {}).items()
    )
    return f"<{tag}>{children}</{tag}>" if children else f"<{tag}>...</{tag}>"


def _elements_to_value(elements: list[ET.Element], schema: Schema, definitions: dict[str, Schema]) -> Any:
    """The JSON-like value that same-named elements hold, shaped by the schema they should satisfy."""
    schema = definitions.get(schema.get("$ref", "").rsplit("/", 1)[-1], schema)
    if choices := schema.get("anyOf"):
        if {"type": "null"} in choices and not list(elements[0]) and not (elements[0].text or "").strip():
            return None
        choices = [choice for choice in choices if choice.get("type") != "null"]
        schema = choices[0]
        if list(elements[0]):
            schema = next((choice for choice in choices if choice.get("type") != "string"), schema)
    if schema.get("type") == "array":
        if len(elements) == 1 and not list(elements[0]):
            text = (elements[0].text or "").strip()
            if not text or text.startswith("["):  # empty, or a JSON list written as text
                return text or []
        if len(elements) == 1 and (items := _group_children(elements[0]).get("item")):
            elements = items
        return [_elements_to_value([element], schema.get("items", {}), definitions) for element in elements]
    element = elements[0]
    if schema.get("type") == "string" and list(element):  # markup inside a text field is kept as text
        return (element.text or "") + "".join(ET.tostring(child, encoding="unicode") for child in element)
    children = _group_children(element)
    if not children:
        if schema.get("type") == "object" and not (element.text or "").strip():
            return {}
        values = [(e.text or "").strip() for e in elements]
        return values[0] if len(values) == 1 else values
    properties: dict[str, Schema] = schema.get("properties", {})
    child_schema = schema.get("additionalProperties", {})
    if not isinstance(child_schema, dict):
        child_schema = {}
    return {
        name: _elements_to_value(items, properties.get(name, child_schema), definitions)
        for name, items in children.items()
    }


def _group_children(element: ET.Element) -> dict[str, list[ET.Element]]:
    """Children by tag, in document order; `<entry key="k">` counts as tag `k`."""
    children: defaultdict[str, list[ET.Element]] = defaultdict(list)
    for child in element:
        children[child.attrib.get("key", child.tag) if child.tag == "entry" else child.tag].append(child)
    return children


def _uses_nested_xml(annotation: Any) -> bool:
    """Lists, dicts, TypedDicts and pydantic models (Optional or not) are written as nested XML; the
    library's own types (Tool, ToolCalls, History...) are not."""
    args = [arg for arg in get_args(annotation) if arg is not type(None)]
    if len(args) == 1 and get_origin(annotation) in (Union, types.UnionType):
        annotation = args[0]
    origin = get_origin(annotation)
    item = get_args(annotation)[0] if origin is list and get_args(annotation) else annotation
    is_library_model = (
        isinstance(item, type)
        and issubclass(item, pydantic.BaseModel)
        and item.__module__.startswith(("dspy.", "dspy_ash."))
    )
    return not is_library_model and (
        origin in (list, dict)
        or is_typeddict(annotation)
        or (isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel))
    )


__all__ = ["XMLAdapter"]
