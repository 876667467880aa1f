"""DSPy's `dspy.utils.magicattr`: getattr/setattr/delattr along a path such as `friends[0].settings["style"]`.

The path is parsed with `ast` and walked step by step; only names, attributes and constant subscripts
(numbers, strings, negative numbers) are allowed, so a path can never call anything or compute an index.
"""

from __future__ import annotations

import ast
from typing import Any

_MISSING = object()


def get(obj: Any, attr: str, default: Any = _MISSING) -> Any:
    """`obj` followed along `attr`; `default` (when given) instead of an error from a missing step."""
    steps = _parse(attr)
    try:
        for step in steps:
            obj = _follow(obj, step)
    except Exception:
        if default is _MISSING:
            raise
        return default
    return obj


def set(obj: Any, attr: str, val: Any) -> None:
    target, key, is_subscript = lookup(obj, attr)
    if is_subscript:
        target[key] = val
    else:
        setattr(target, key, val)


def delete(obj: Any, attr: str) -> None:
    target, key, is_subscript = lookup(obj, attr)
    if is_subscript:
        del target[key]
    else:
        delattr(target, key)


def lookup(obj: Any, attr: str) -> tuple[Any, Any, bool]:
    """(the object holding the last step, the last attribute name or key, whether it is a subscript)."""
    steps = _parse(attr)
    for step in steps[:-1]:
        obj = _follow(obj, step)
    key, is_subscript = steps[-1]
    return obj, key, is_subscript


def _parse(attr: str) -> list[tuple[Any, bool]]:
    """The steps of `attr`, first to last: (attribute name, False) or (subscript key, True)."""
    if not isinstance(attr, str):  # pyright: ignore[reportUnnecessaryIsInstance] - user input
        raise TypeError("Attribute name must be a string")
    body = ast.parse(attr).body
    if len(body) != 1 or not isinstance(body[0], ast.Expr):
        raise ValueError(f"Invalid expression: {attr}")
    steps: list[tuple[Any, bool]] = []
    node = body[0].value
    while True:
        if isinstance(node, ast.Name):
            steps.append((node.id, False))
            return steps[::-1]
        if isinstance(node, ast.Attribute):
            steps.append((node.attr, False))
        elif isinstance(node, ast.Subscript):
            steps.append((_constant(node.slice), True))
        elif isinstance(node, ast.Call):
            raise ValueError("Function calls are not allowed.")
        else:
            raise NotImplementedError(f"Node is not supported: {ast.dump(node)}")
        node = node.value


def _constant(node: ast.expr) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
    ):
        value = node.operand.value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return -value
    raise NotImplementedError(f"Subscript node is not supported: {ast.dump(node)}")


def _follow(obj: Any, step: tuple[Any, bool]) -> Any:
    key, is_subscript = step
    return obj[key] if is_subscript else getattr(obj, key)
