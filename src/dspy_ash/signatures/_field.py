"""`InputField` / `OutputField`: pydantic `FieldInfo`s carrying DSPy's extras in `json_schema_extra`."""

from __future__ import annotations

import copy
import warnings
from typing import Any

import pydantic
from pydantic.fields import FieldInfo

IS_TYPE_UNDEFINED = "IS_TYPE_UNDEFINED"
FIELD_TYPE_KEY = "__dspy_field_type"
_DSPY_ARGS = ("desc", "prefix", "format", "parser", FIELD_TYPE_KEY, IS_TYPE_UNDEFINED)
_DEPRECATED = ("prefix", "format", "parser")
_CONSTRAINTS = {
    "gt": "greater than: ",
    "ge": "greater than or equal to: ",
    "lt": "less than: ",
    "le": "less than or equal to: ",
    "min_length": "minimum length: ",
    "max_length": "maximum length: ",
    "multiple_of": "a multiple of the given number: ",
    "allow_inf_nan": "allow 'inf', '-inf', 'nan' values: ",
}


# Building a FieldInfo through pydantic.Field costs several microseconds; signatures made from strings
# build the same few fields over and over, so each distinct (kind, arguments) is built once and copied.
_PROTOTYPES: dict[tuple[Any, ...], FieldInfo] = {}


def _make(kind: str, kwargs: dict[str, Any]) -> FieldInfo:
    try:
        key: tuple[Any, ...] | None = (kind, *kwargs.items())
        hash(key)
    except TypeError:  # an unhashable argument (a list default): build it fresh
        key = None
    proto = _PROTOTYPES.get(key) if key is not None else None
    if proto is None:
        proto = _build(kind, kwargs)
        if key is not None and len(_PROTOTYPES) < 4096:
            _PROTOTYPES[key] = proto
    elif any(arg in kwargs for arg in _DEPRECATED):
        _build(kind, kwargs)  # for its deprecation warning, raised on every use as before
    field = copy.copy(proto)
    field.json_schema_extra = dict(proto.json_schema_extra)  # type: ignore[arg-type]
    field.metadata = list(proto.metadata)
    return field


def _build(kind: str, kwargs: dict[str, Any]) -> FieldInfo:
    for arg in _DEPRECATED:
        if arg in kwargs:
            warnings.warn(
                f"The '{arg}' argument in InputField/OutputField is deprecated and has no effect in DSPy. "
                "It will be removed in a future version.",
                DeprecationWarning,
                stacklevel=4,  # the caller of InputField/OutputField
            )
    # Key order matches DSPy's (the caller's DSPy arguments, the field type, then description and constraints):
    # it shows in signature reprs, which MIPROv2's program-aware proposer puts in its prompts.
    extra: dict[str, Any] = {}
    pydantic_kwargs: dict[str, Any] = {}
    for key, value in {**kwargs, FIELD_TYPE_KEY: kind}.items():
        (extra if key in _DSPY_ARGS else pydantic_kwargs)[key] = value
    if "description" in kwargs and "desc" not in extra:
        extra["desc"] = kwargs["description"]
    constraints = ", ".join(f"{_CONSTRAINTS[k]}{v}" for k, v in kwargs.items() if k in _CONSTRAINTS)
    if constraints:
        extra["constraints"] = constraints
    return pydantic.Field(**pydantic_kwargs, json_schema_extra=extra)


def InputField(**kwargs: Any) -> Any:
    return _make("input", kwargs)


def OutputField(**kwargs: Any) -> Any:
    return _make("output", kwargs)


def field_kind(field: FieldInfo) -> str | None:
    extra = field.json_schema_extra
    return extra.get(FIELD_TYPE_KEY) if isinstance(extra, dict) else None  # type: ignore[return-value]


def extra_of(field: FieldInfo) -> dict[str, Any]:
    extra = field.json_schema_extra
    if not isinstance(extra, dict):
        extra = {}
        field.json_schema_extra = extra
    return extra  # type: ignore[return-value]
