"""Turning reply text into typed values: what DSPy's adapters accept, coerced to the field's type."""

from __future__ import annotations

import ast
import enum
import functools
import types
from typing import Any, Literal, Union, get_args, get_origin

import json_repair
import pydantic
from pydantic import TypeAdapter
from pydantic.fields import FieldInfo

from dspy_ash.adapters.types._base_type import Type
from dspy_ash.signatures._types import allows_none, is_subclass


@functools.lru_cache(maxsize=512)
def _adapter(tp: Any) -> TypeAdapter[Any]:
    return TypeAdapter(tp)


def _validate(tp: Any, value: Any) -> Any:
    try:
        adapter = _adapter(tp)
    except TypeError:  # unhashable annotation
        adapter = TypeAdapter(tp)
    return adapter.validate_python(value)


def find_enum_member(enum_type: type[enum.Enum], identifier: Any) -> enum.Enum:
    for member in enum_type:
        if member.value == identifier:
            return member
    if identifier in enum_type.__members__:
        return enum_type[identifier]
    raise ValueError(f"{identifier} is not a valid name or value for the enum {enum_type.__name__}")


def parse_value(value: Any, annotation: Any) -> Any:
    """Coerce one field's raw value (usually text) to `annotation`; raises ValueError when it cannot."""
    if annotation is str:
        return str(value)
    if isinstance(annotation, enum.EnumMeta):
        return find_enum_member(annotation, value.strip() if isinstance(value, str) else value)  # type: ignore[arg-type]
    origin = get_origin(annotation)
    if origin is Literal:
        allowed = get_args(annotation)
        if value in allowed:
            return value
        if isinstance(value, str):
            v = value.strip()
            if v.startswith(("Literal[", "str[")) and v.endswith("]"):
                v = v[v.find("[") + 1 : -1]
            if len(v) > 1 and v[0] == v[-1] and v[0] in "\"'":
                v = v[1:-1]
            if v in allowed:
                return v
            value = v
    if not isinstance(value, str):
        return _validate(annotation, value)
    if (
        origin in (Union, types.UnionType)
        and type(None) in get_args(annotation)
        and str in get_args(annotation)
    ):
        return _validate(annotation, value)
    candidate: Any = json_repair.loads(value)
    if candidate == "" and value != "":
        try:
            candidate = ast.literal_eval(value)
        except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
            candidate = value
    try:
        return _validate(annotation, candidate)
    except pydantic.ValidationError as error:
        if not is_subclass(annotation, Type):
            raise
        # A dspy.Type may read its own text (Code strips a markdown fence) where the JSON reading failed.
        try:
            return _validate(annotation, value)
        except pydantic.ValidationError:
            raise error from None


def apply_output_defaults(output_fields: dict[str, FieldInfo], parsed: dict[str, Any]) -> dict[str, Any]:
    """Fill missing optional outputs (default, default factory, or a type admitting None), in field order."""
    completed: dict[str, Any] = {}
    for name, field in output_fields.items():
        if name in parsed:
            completed[name] = parsed[name]
        elif not field.is_required():
            completed[name] = field.get_default(call_default_factory=True)
        elif allows_none(field.annotation):
            completed[name] = None
    return completed
