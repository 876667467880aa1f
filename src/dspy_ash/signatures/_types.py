"""Naming annotations the way DSPy's prompts do, and telling which ones admit None."""

from __future__ import annotations

import enum
import inspect
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin


def allows_none(annotation: Any) -> bool:
    if annotation is None or annotation is type(None):
        return True
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Annotated:
        return bool(args) and allows_none(args[0])
    if origin is Union or origin is types.UnionType:
        return any(allows_none(a) for a in args)
    return False


def _quote_literal(s: str) -> str:
    single, double = "'" in s, '"' in s
    if single and not double:
        return f'"{s}"'
    if single and double:
        return "'" + s.replace("'", "\\'") + "'"
    return f"'{s}'"


def annotation_name(annotation: Any) -> str:
    """`list[str]`, `Literal['a', 'b']`, `Union[int, NoneType]` (PEP 604 unions named like `typing.Union`)."""
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is types.UnionType:
        origin = Union
    if origin is None:
        if getattr(annotation, "__dspy_reasoning__", False):
            return "str"
        name = getattr(annotation, "__name__", None)
        return name if name is not None else str(annotation)
    if origin is Literal:
        inner = ", ".join(_quote_literal(a) if isinstance(a, str) else annotation_name(a) for a in args)
    else:
        inner = ", ".join(annotation_name(a) for a in args)
    return f"{annotation_name(origin)}[{inner}]"


def is_subclass(annotation: Any, base: type) -> bool:
    try:
        return inspect.isclass(annotation) and issubclass(annotation, base)
    except TypeError:
        return False


def is_enum(annotation: Any) -> bool:
    return is_subclass(annotation, enum.Enum)
