"""Turning values and field types into prompt text, exactly as DSPy's adapters do."""

from __future__ import annotations

import enum
import functools
import json
import math
from collections.abc import Mapping
from typing import Any, Literal, get_origin

from pydantic import TypeAdapter
from pydantic.fields import FieldInfo

from dspy_ash.adapters.types._base_type import Type
from dspy_ash.adapters.types._code import Code
from dspy_ash.signatures._field import extra_of, field_kind
from dspy_ash.signatures._types import annotation_name, is_subclass

_PLAIN = (str, int, bool, type(None))


@functools.lru_cache(maxsize=512)
def _type_adapter(tp: Any) -> TypeAdapter[Any]:
    return TypeAdapter(tp)


def serialize_for_json(value: Any) -> Any:
    """A JSON-compatible form of `value` (pydantic's `mode="json"` dump), with fast paths for plain data."""
    if isinstance(value, _PLAIN) or (isinstance(value, float) and math.isfinite(value)):
        return value
    if type(value) is list and all(isinstance(v, _PLAIN) for v in value):
        return list(value)
    if type(value) is dict and all(type(k) is str and isinstance(v, _PLAIN) for k, v in value.items()):
        return dict(value)
    try:
        return _type_adapter(type(value)).dump_python(value, mode="json", fallback=str)
    except Exception:
        return str(value)


def _format_blob(blob: str) -> str:
    if "\n" not in blob and "«" not in blob and "»" not in blob:
        return f"«{blob}»"
    return "«««\n    " + blob.replace("\n", "\n    ") + "\n»»»"


def _format_list_for_text(value: list[Any]) -> str:
    if not value:
        return "N/A"
    if len(value) == 1:
        return _format_blob(value[0])
    return "\n".join(f"[{i + 1}] {_format_blob(txt)}" for i, txt in enumerate(value))


def format_field_value(field: FieldInfo, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and field.annotation is str:
        return _format_list_for_text(value)  # a list given to a text field reads as numbered passages
    plain = serialize_for_json(value)
    if isinstance(plain, dict | list):
        return json.dumps(plain, ensure_ascii=False)
    return str(plain)


def _type_first(d: Any) -> Any:
    if isinstance(d, Mapping):
        return {k: _type_first(v) for k, v in sorted(d.items(), key=lambda kv: (kv[0] != "type", kv[0]))}
    if isinstance(d, list):
        return [_type_first(v) for v in d]
    return d


def json_schema_text(annotation: Any) -> str:
    try:
        return _schema_text_cached(annotation)
    except TypeError:  # unhashable annotation
        return json.dumps(_type_first(TypeAdapter(annotation).json_schema()), ensure_ascii=False)


@functools.lru_cache(maxsize=512)
def _schema_text_cached(annotation: Any) -> str:
    return json.dumps(_type_first(_type_adapter(annotation).json_schema()), ensure_ascii=False)


def translate_field_type(name: str, field: FieldInfo) -> str:
    """`{answer}` plus the type note an output field carries in the system message."""
    tp = field.annotation
    if field_kind(field) == "input" or tp is str or getattr(tp, "__dspy_reasoning__", False):
        note = ""
    elif tp is bool:
        note = "must be True or False"
    elif tp is int or tp is float:
        note = f"must be a single {tp.__name__} value"
    elif is_subclass(tp, enum.Enum):
        note = "must be one of: " + "; ".join(str(m.value) for m in tp)  # type: ignore[union-attr]
    elif get_origin(tp) is Literal:
        note = "must exactly match (no extra characters) one of: " + "; ".join(str(x) for x in tp.__args__)  # type: ignore[union-attr]
    elif is_subclass(tp, Code) and tp.description():  # type: ignore[union-attr]
        note = ""  # Code's description already says how to write it; its schema would only repeat that
    else:
        note = f"must adhere to the JSON schema: {json_schema_text(tp)}"
    return f"{{{name}}}" + ((" " * 8) + f"# note: the value you produce {note}" if note else "")


def field_descriptions(fields: dict[str, FieldInfo]) -> str:
    lines: list[str] = []
    for i, (name, field) in enumerate(fields.items()):
        extra = extra_of(field)
        desc = extra.get("desc", "")
        desc = "" if desc == f"${{{name}}}" else desc
        desc += _custom_type_descriptions(field)
        line = f"{i + 1}. `{name}` ({annotation_name(field.annotation)}): {desc}"
        if extra.get("constraints"):
            line += f"\nConstraints: {extra['constraints']}"
        lines.append(line)
    return "\n".join(lines).strip()


def _custom_type_descriptions(field: FieldInfo) -> str:
    """A line per `dspy.Type` in the field's annotation (at any depth) that describes itself."""
    text = ""
    for custom in Type.extract_custom_type_from_annotation(field.rebuild_annotation()):
        described = custom.description()
        if described:
            text += f"\n    Type description of {annotation_name(custom)}: {described}"
    return text
