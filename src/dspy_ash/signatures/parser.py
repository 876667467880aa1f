"""Parse `"question, context: list[str] -> answer: int"` into named, typed fields.

Nothing in the string is evaluated. Each side is read with `ast` as a function's argument list, and
every name in an annotation must be one the parser knows: builtin types, `typing`'s forms, types the
caller passes in `custom_types`, or types visible in the calling frames (as DSPy finds them). Nothing
is imported and no call is made except `Field(...)` with literal arguments.
"""

from __future__ import annotations

import ast
import sys
import typing
from types import FrameType
from typing import Any

import pydantic

from dspy_ash.errors import SignatureError

_BUILTINS: dict[str, Any] = {
    t.__name__: t
    for t in (int, str, float, bool, list, tuple, dict, set, frozenset, complex, bytes, bytearray)
}
_BUILTINS["NoneType"] = type(None)
_BUILTINS["None"] = type(None)
_TYPING: dict[str, Any] = {
    name: getattr(typing, name)
    for name in (
        "Any",
        "Optional",
        "Union",
        "Literal",
        "List",
        "Dict",
        "Tuple",
        "Set",
        "FrozenSet",
        "Annotated",
        "Sequence",
        "Mapping",
        "Iterable",
        "Callable",
        "Type",
    )
}

ParsedField = tuple[str, Any, bool]  # name, annotation, annotation was omitted


def parse_signature_string(
    text: str, custom_types: dict[str, Any] | None = None, frame: FrameType | None = None
) -> tuple[list[ParsedField], list[ParsedField]]:
    if text.count("->") != 1:
        raise SignatureError(f"Invalid signature format: '{text}', must contain exactly one '->'.")
    inputs_text, outputs_text = text.split("->")
    resolver = _Resolver(custom_types or {}, frame)
    inputs = _parse_side(inputs_text, resolver, "input")
    outputs = _parse_side(outputs_text, resolver, "output")
    duplicates = sorted({n for n, _, _ in inputs} & {n for n, _, _ in outputs})
    if duplicates:
        raise SignatureError(
            "Input and output fields must have distinct names, but found duplicates: "
            f"'{', '.join(duplicates)}'.",
            field=duplicates[0],
        )
    return inputs, outputs


def parse_type_string(text: str, custom_types: dict[str, Any] | None = None) -> Any:
    """Parse one annotation such as `list[str]` or `Literal['a', 'b']` (used by the JSON form)."""
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise SignatureError(f"Invalid type annotation {text!r}: {exc.msg}") from None
    return _Resolver(custom_types or {}, None).resolve(node)


def _parse_side(text: str, resolver: _Resolver, side: str) -> list[ParsedField]:
    try:
        tree = ast.parse(f"def f({text}): pass")
    except SyntaxError as exc:
        raise SignatureError(f"Invalid {side} fields in signature: {text.strip()!r} ({exc.msg}).") from None
    fn = tree.body[0]
    assert isinstance(fn, ast.FunctionDef)
    args = fn.args
    if args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs or args.defaults:
        raise SignatureError(
            f"Invalid {side} fields in signature: {text.strip()!r}: use `name: type` items only."
        )
    fields: list[ParsedField] = []
    seen: set[str] = set()
    for arg in args.args:
        if arg.arg in seen:
            raise SignatureError(f"Duplicate {side} field name {arg.arg!r}.", field=arg.arg)
        seen.add(arg.arg)
        if arg.annotation is None:
            fields.append((arg.arg, str, True))
            continue
        try:
            fields.append((arg.arg, resolver.resolve(arg.annotation), False))
        except SignatureError as exc:
            raise SignatureError(f"Field {arg.arg!r}: {exc}", field=arg.arg) from None
    return fields


class _Resolver:
    def __init__(self, custom_types: dict[str, Any], frame: FrameType | None) -> None:
        self.custom = custom_types
        self.frame = frame

    def name(self, name: str) -> Any:
        if name in self.custom:
            return self.custom[name]
        if name in _BUILTINS:
            return _BUILTINS[name]
        if name in _TYPING:
            return _TYPING[name]
        found = self._from_frames(name)
        if found is not None:
            return found
        raise SignatureError(
            f"Unknown name {name!r} in a type annotation; pass it with custom_types={{{name!r}: ...}}."
        )

    def _from_frames(self, name: str) -> Any:
        frame = self.frame
        depth = 0
        while frame is not None and depth < 100:
            for scope in (frame.f_locals, frame.f_globals):
                if name in scope and _is_type_like(scope[name]):
                    return scope[name]
            frame = frame.f_back
            depth += 1
        return None

    def resolve(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Name):
            return self.name(node.id)
        if isinstance(node, ast.Constant):
            if node.value is None:
                return type(None)
            if isinstance(node.value, str | int | float | bool | bytes):
                return node.value
        if isinstance(node, ast.Attribute):
            base = self._attribute_base(node.value)
            value = getattr(base, node.attr, None)
            if value is None or not _is_type_like(value):
                raise SignatureError(f"{ast.unparse(node)!r} is not a type.")
            return value
        if isinstance(node, ast.Subscript):
            base = self.resolve(node.value)
            elts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            args: tuple[Any, ...] = tuple(self.resolve(e) for e in elts)
            try:
                if base is typing.Optional:
                    if len(args) != 1:
                        raise SignatureError("Optional must have exactly one type argument")
                    return typing.Optional[args[0]]  # noqa: UP045 - build the typing form the text names
                if len(args) == 1:
                    return base[args[0]]
                return base[args]
            except SignatureError:
                raise
            except Exception as exc:
                raise SignatureError(f"Invalid type annotation: {exc}") from None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            left, right = self.resolve(node.left), self.resolve(node.right)
            return typing.Union[left, right]  # noqa: UP007
        if isinstance(node, ast.Tuple):
            return tuple(self.resolve(e) for e in node.elts)
        if isinstance(node, ast.List):  # Callable[[int], str]
            return [self.resolve(e) for e in node.elts]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Field":
            if node.args or any(
                not isinstance(kw.value, ast.Constant) or kw.arg is None for kw in node.keywords
            ):
                raise SignatureError("Field(...) in a signature string takes literal keyword arguments only.")
            options: dict[str, Any] = {
                kw.arg: kw.value.value
                for kw in node.keywords
                if kw.arg and isinstance(kw.value, ast.Constant)
            }
            return pydantic.Field(**options)
        raise SignatureError(
            f"Unsupported syntax in a type annotation: {ast.unparse(node)!r}. Use a class-based signature instead."
        )

    def _attribute_base(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Name):
            if node.id in self.custom:
                return self.custom[node.id]
            found = self._from_frames_any(node.id)
            if found is not None:
                return found
            raise SignatureError(f"Unknown name {node.id!r} in a type annotation.")
        if isinstance(node, ast.Attribute):
            base = self._attribute_base(node.value)
            value = getattr(base, node.attr, None)
            if value is None:
                raise SignatureError(f"Unknown attribute {node.attr!r} in a type annotation.")
            return value
        raise SignatureError("Unsupported syntax in a type annotation.")

    def _from_frames_any(self, name: str) -> Any:
        frame = self.frame
        depth = 0
        while frame is not None and depth < 100:
            for scope in (frame.f_locals, frame.f_globals):
                if name in scope and (_is_namespace(scope[name]) or _is_type_like(scope[name])):
                    return scope[name]
            frame = frame.f_back
            depth += 1
        return None


def _is_type_like(value: Any) -> bool:
    if isinstance(value, type):
        return True
    module = getattr(type(value), "__module__", "")
    return module in ("typing", "typing_extensions", "types")


def _is_namespace(value: Any) -> bool:
    return type(value).__name__ == "module"


def caller_frame(skip: int) -> FrameType | None:
    """The first frame outside dspy-ash, at least `skip` levels up: where names in a signature are looked up."""
    try:
        frame: FrameType | None = sys._getframe(skip + 1)
    except ValueError:
        return None
    while frame is not None and str(frame.f_globals.get("__name__", "")).startswith("dspy_ash."):
        frame = frame.f_back
    return frame
