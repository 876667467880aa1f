"""Python values stored through DSPy's `Cache.put(request, value)`, as tagged JSON instead of pickles.

DSPy pickles whatever it caches, so a cache directory written by someone else can run code when it is
read. Here a value is encoded as JSON: plain data as it is, and tuples, bytes, non-string-keyed dicts,
dataclasses and pydantic models as `{"$t": ...}` objects. A dataclass or model is rebuilt only from a
class that is already imported (`sys.modules`; decoding never imports) and that `allow` accepts, by
calling the class's own constructor (a model validates its fields), so no stored bytes choose code to run.
"""

from __future__ import annotations

import base64
import dataclasses
import sys
from collections.abc import Callable
from typing import Any

import pydantic

from dspy_ash.errors import InvalidInputTypeError, SavedStateError

TAG = "$t"


class UnencodableValueError(InvalidInputTypeError):
    """The value holds something that has no JSON form here (a function, a socket, an arbitrary object)."""


class RejectedValueError(SavedStateError):
    """A stored value names a class that is not imported, not a dataclass or model, or not allowed."""


def class_path(cls: type[Any]) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def encode(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [encode(v) for v in value]  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, dict):
        items: list[tuple[Any, Any]] = list(value.items())  # pyright: ignore[reportUnknownArgumentType]
        if all(isinstance(k, str) for k, _ in items) and TAG not in value:
            return {k: encode(v) for k, v in items}
        return {TAG: "dict", "items": [[encode(k), encode(v)] for k, v in items]}
    if isinstance(value, tuple):
        return {TAG: "tuple", "items": [encode(v) for v in value]}  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, bytes):
        return {TAG: "bytes", "b64": base64.b64encode(value).decode()}
    if isinstance(value, pydantic.BaseModel):
        return {TAG: "model", "class": class_path(type(value)), "data": value.model_dump(mode="json")}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {TAG: "dataclass", "class": class_path(type(value)), "fields": fields}
    raise UnencodableValueError(f"cannot cache a value of type {type(value).__qualname__}")


def decode(data: Any, allow: Callable[[type[Any]], bool]) -> Any:
    if isinstance(data, list):
        return [decode(v, allow) for v in data]  # pyright: ignore[reportUnknownVariableType]
    if not isinstance(data, dict):
        return data
    obj: dict[str, Any] = data  # pyright: ignore[reportUnknownVariableType]
    tag = obj.get(TAG)
    if tag is None:
        return {k: decode(v, allow) for k, v in obj.items()}
    if tag == "dict":
        return {decode(k, allow): decode(v, allow) for k, v in obj["items"]}
    if tag == "tuple":
        return tuple(decode(v, allow) for v in obj["items"])
    if tag == "bytes":
        return base64.b64decode(obj["b64"])
    if tag == "model":
        cls = _resolve(obj["class"], allow, lambda c: issubclass(c, pydantic.BaseModel))
        try:
            return cls.model_validate(obj["data"])
        except pydantic.ValidationError as exc:
            raise RejectedValueError(f"stored {obj['class']} no longer validates: {exc}") from None
    if tag == "dataclass":
        cls = _resolve(obj["class"], allow, dataclasses.is_dataclass)
        fields = {k: decode(v, allow) for k, v in obj["fields"].items()}
        return _rebuild_dataclass(cls, fields)
    raise RejectedValueError(f"unknown stored value kind {tag!r}")


def _resolve(path: str, allow: Callable[[type[Any]], bool], kind: Callable[[type[Any]], bool]) -> Any:
    module_name, _, qualname = str(path).partition(":")
    target: Any = sys.modules.get(module_name)  # never imported here: reading a cache must not load code
    for part in qualname.split("."):
        target = getattr(target, part, None) if part and not part.startswith("<") else None
    if not isinstance(target, type) or not kind(target) or not allow(target):
        raise RejectedValueError(f"stored value names {path}, which is not an allowed, imported class")
    return target


def _rebuild_dataclass(cls: Any, fields: dict[str, Any]) -> Any:
    init = {f.name for f in dataclasses.fields(cls) if f.init}
    try:
        instance = cls(**{k: v for k, v in fields.items() if k in init})
    except TypeError as exc:  # the class changed since the value was stored
        raise RejectedValueError(f"stored {class_path(cls)} no longer fits its class: {exc}") from None
    for name, value in fields.items():
        if name not in init:
            object.__setattr__(instance, name, value)
    return instance
