"""Signature text from a caller, read without running it: field lists and types from a fixed whitelist.

The engine's parser (`dspy_ash.signatures`) resolves names also from the calling frames and from
modules already imported, which suits a program's own source but not text sent over the network. Here
a type is built from its `ast` with nothing but the names below; anything else (attributes, calls,
names outside the whitelist, a quoted type) is refused before any object is looked up.

    parse_fields("question, context: list[str] -> answer: int")
    # ([("question", "str"), ("context", "list[str]")], [("answer", "int")])
"""

from __future__ import annotations

import ast
import keyword
import typing
from typing import Any

from dspy_ash.actions._errors import ActionError

# Leaves and generics a field may use, by the names the text may write them with.
_LEAVES: dict[str, Any] = {"str": str, "int": int, "float": float, "bool": bool, "Any": typing.Any}
_GENERICS: dict[str, Any] = {
    "list": list,
    "List": list,
    "dict": dict,
    "Dict": dict,
    "tuple": tuple,
    "Tuple": tuple,
    "set": set,
    "Set": set,
    "Optional": typing.Optional,
    "Union": typing.Union,
    "Literal": typing.Literal,
}
_MAX_DEPTH = 8
_MAX_LITERALS = 100
_MAX_TYPE_TEXT = 1_000


class UnsafeTypeError(ActionError, ValueError):
    """Text that is not a field list or a whitelisted type; the message says what was refused."""


def resolve_type(text: str) -> Any:
    """The annotation `text` names (`list[str]`, `Optional[int]`, `Literal['a', 'b']`, `int | None`)."""
    if len(text) > _MAX_TYPE_TEXT:
        raise UnsafeTypeError(f"a type is at most {_MAX_TYPE_TEXT} characters")
    try:
        return _build(ast.parse(text.strip(), mode="eval").body, 0)
    except (SyntaxError, ValueError) as exc:  # ValueError: null bytes
        if isinstance(exc, UnsafeTypeError):
            raise
        raise UnsafeTypeError(f"{text[:80]!r} is not a type: {exc}") from None
    except (RecursionError, MemoryError):  # Python's parser (and unparse) recurse on hostile nesting
        raise UnsafeTypeError("the type is nested too deeply to read") from None


def _build(node: ast.expr, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise UnsafeTypeError(f"types nest at most {_MAX_DEPTH} deep")
    if isinstance(node, ast.Constant) and node.value is None:
        return type(None)
    if isinstance(node, ast.Name) and node.id in _LEAVES:
        return _LEAVES[node.id]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return typing.Union[_build(node.left, depth + 1), _build(node.right, depth + 1)]  # noqa: UP007
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id in _GENERICS:
        return _subscript(_GENERICS[node.value.id], node, depth)
    shown = ast.unparse(node)[:80]
    allowed = ", ".join([*_LEAVES, *_GENERICS, "None"])
    raise UnsafeTypeError(f"{shown!r} is not an allowed type (allowed: {allowed}; no attributes or calls)")


def _subscript(base: Any, node: ast.Subscript, depth: int) -> Any:
    elts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
    if base is typing.Literal:
        if len(elts) > _MAX_LITERALS:
            raise UnsafeTypeError(f"Literal takes at most {_MAX_LITERALS} values")
        return typing.Literal[tuple(_literal(e) for e in elts)]  # pyright: ignore[reportInvalidTypeArguments]
    if base is tuple and len(elts) == 2 and isinstance(elts[1], ast.Constant) and elts[1].value is Ellipsis:
        return _apply(tuple, (_build(elts[0], depth + 1), ...))
    args: list[Any] = [_build(e, depth + 1) for e in elts]
    arity: dict[Any, int] = {list: 1, set: 1, dict: 2, typing.Optional: 1}
    expected = arity.get(base)
    if expected is not None and len(args) != expected:
        raise UnsafeTypeError(f"{ast.unparse(node)[:80]!r} takes {expected} type argument(s)")
    try:
        return _apply(base, tuple(args) if len(args) > 1 else args[0])
    except TypeError as exc:
        raise UnsafeTypeError(f"{ast.unparse(node)[:80]!r}: {exc}") from None


def _apply(generic: Any, args: Any) -> Any:
    return generic[args]


def _literal(node: ast.expr) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, str | int | float | bool | None):
        return node.value
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
        and isinstance(node.operand.value, int | float)
        and not isinstance(node.operand.value, bool)
    ):
        return -node.operand.value
    raise UnsafeTypeError(
        f"Literal takes strings, numbers, True/False or None, not {ast.unparse(node)[:80]!r}"
    )


def _split_top(text: str) -> list[str]:
    """`text` cut at the commas outside brackets (and outside quotes, for Literal values)."""
    parts: list[str] = []
    depth, start, quote = 0, 0, ""
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote and text[i - 1] != "\\" else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _side(text: str, side: str) -> list[tuple[str, str]]:
    fields: list[tuple[str, str]] = []
    for part in _split_top(text):
        name, colon, annotation = part.partition(":")
        name = name.strip()
        if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
            raise UnsafeTypeError(f"{side} field {name!r} is not a valid field name")
        type_text = annotation.strip() if colon else "str"
        resolve_type(type_text)  # refused here, before the engine ever sees it
        fields.append((name, type_text))
    return fields


def parse_fields(text: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The (name, type text) pairs of each side of `"inputs -> outputs"`, every type checked."""
    if text.count("->") != 1:
        raise UnsafeTypeError("a signature has exactly one '->' between its inputs and its outputs")
    inputs, outputs = text.split("->")
    return _side(inputs, "input"), _side(outputs, "output")
