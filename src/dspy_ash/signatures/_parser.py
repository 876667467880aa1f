"""Parse `"question, context: list[str] -> answer: int"` into named, typed fields.

Nothing in the string is evaluated. Each side is read with `ast` as a function's argument list, and
each annotation is built from the names it may use: builtin types, `typing`'s names (and `typing.X`
without the caller importing typing), types the caller passes in `custom_types`, and types or modules
visible in the calling frames (as DSPy finds them, but also inside `list[...]` and unions). A dotted
name may also start at a module Python has already imported (DSPy imports it; nothing is imported
here). Attributes are read statically, so no `__getattr__` runs, and no call is made except
`Field(...)` with literal arguments inside `Annotated[...]`.

What DSPy accepts resolves to the same annotation; a value where a type belongs (`a: 5`, `list[5]`)
is refused by field name. Errors are `SignatureError`s of DSPy's classes: `SignatureSyntaxError` (also
`SyntaxError`) for a string Python cannot read as field lists, `SignatureTypeError` (also `TypeError`)
for a subscript typing refuses, plain `SignatureError` (a `ValueError`) for the rest.
"""

from __future__ import annotations

import ast
import collections.abc
import enum
import inspect
import re
import sys
import types
import typing
from types import FrameType
from typing import Any, NoReturn

import pydantic

from dspy_ash.errors import SignatureError, SignatureSyntaxError, SignatureTypeError

_BUILTINS: dict[str, Any] = {
    t.__name__: t
    for t in (int, str, float, bool, list, tuple, dict, set, frozenset, complex, bytes, bytearray)
}
_BUILTINS["NoneType"] = type(None)
# typing's public names (Optional, List, Text, Deque, ...), found before the caller's own names as in DSPy:
# frames far up the stack hold all sorts of globals (`Counter`, `Generator`), and must not shadow these.
_TYPING: dict[str, Any] = {
    name: value
    for name, value in vars(typing).items()
    if not name.startswith("_") and not isinstance(value, types.ModuleType)
}
_TUPLES = (tuple, typing.Tuple)  # noqa: UP006 - the typing form the text may name
_CALLABLES = (typing.Callable, collections.abc.Callable)
# Subscripted, these describe attributes of a class, not the type of a value (typing refuses them in DSPy).
_QUALIFIERS = (typing.ClassVar, typing.Final, typing.Required, typing.NotRequired)

ParsedField = tuple[str, Any, bool]  # name, annotation, annotation was omitted


def parse_signature_string(
    text: str, custom_types: dict[str, Any] | None = None, frame: FrameType | None = None
) -> tuple[list[ParsedField], list[ParsedField]]:
    if text.count("->") != 1:
        raise SignatureError(f"Invalid signature format: '{text}', must contain exactly one '->'.")
    inputs_text, outputs_text = text.split("->")
    resolver = _Resolver(custom_types or {}, frame)
    try:
        inputs = _parse_side(inputs_text, resolver, "input")
        outputs = _parse_side(outputs_text, resolver, "output")
    except (RecursionError, MemoryError):
        raise _too_deep() from None
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
        return _Resolver(custom_types or {}, None).annotation(_parse_expression(text))
    except (RecursionError, MemoryError):
        raise _too_deep() from None


def _parse_side(text: str, resolver: _Resolver, side: str) -> list[ParsedField]:
    fn = _field_list(text, side)
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
        annotation_node = arg.annotation
        if annotation_node is None:
            fields.append((arg.arg, str, True))
            continue
        try:
            annotation = resolver.annotation(annotation_node)
        except SignatureError as exc:
            raise type(exc)(f"Field {arg.arg!r}: {exc}", field=arg.arg) from None
        fields.append((arg.arg, annotation, False))
    return fields


def _field_list(text: str, side: str) -> ast.FunctionDef:
    source = f"def f({text}): pass"
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError) as exc:  # ValueError: null bytes on older Pythons
        message = exc.msg if isinstance(exc, SyntaxError) else str(exc)
        raise SignatureSyntaxError(
            f"Invalid {side} fields in signature: {text.strip()!r} ({message})."
        ) from None
    # The text must be exactly an argument list: the `pass` that closes it is the one written above,
    # not one the text brought along (`b): pass #`, `b): pass\ndef g(`).
    lines = re.split(r"\r\n|\r|\n", source)  # the line breaks Python's tokenizer counts
    fn = tree.body[0] if len(tree.body) == 1 else None
    if (
        not isinstance(fn, ast.FunctionDef)
        or fn.decorator_list
        or fn.returns is not None
        or len(fn.body) != 1
        or not isinstance(fn.body[0], ast.Pass)
        or fn.body[0].lineno != len(lines)
        or fn.body[0].col_offset != len(lines[-1].encode()) - len("pass")  # a byte offset
    ):
        raise SignatureSyntaxError(
            f"Invalid {side} fields in signature: {text.strip()!r} is not a field list."
        )
    return fn


def _parse_expression(text: str) -> ast.expr:
    try:
        return ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError) as exc:
        message = exc.msg if isinstance(exc, SyntaxError) else str(exc)
        raise SignatureSyntaxError(f"Invalid type annotation {text!r}: {message}.") from None


def _too_deep() -> SignatureError:
    # Python's own parser and this resolver both recurse; a pathological string must not crash the caller.
    return SignatureError("The signature is nested too deeply to read.")


class _Resolver:
    def __init__(self, custom_types: dict[str, Any], frame: FrameType | None) -> None:
        self.custom = custom_types
        self.frame = frame

    # --- positions -------------------------------------------------------------------------------

    def annotation(self, node: ast.expr) -> Any:
        """A field's whole annotation: a type. `None` there means the default type, as in DSPy."""
        if isinstance(node, ast.Constant) and node.value is None:
            return str
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            _not_a_type(repr(node.value), "a string", " Write the type without quotes.")
        return self._checked(self.build(node), node)

    def type_argument(self, node: ast.expr) -> Any:
        """A type inside another (`list[...]`, a union): None is NoneType, and a quoted type is read."""
        if isinstance(node, ast.Constant) and node.value is None:
            return None
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return self.type_argument(_parse_expression(node.value))
        return self._checked(self.build(node), node)

    def _checked(self, value: Any, node: ast.expr) -> Any:
        # On Python 3.11 and 3.12 `typing.Annotated` is a class (typeshed says otherwise).
        if isinstance(value, type | types.UnionType) and value is not typing.Annotated:  # pyright: ignore[reportUnnecessaryComparison]
            return value
        if value is typing.Annotated or isinstance(value, typing._SpecialForm):  # pyright: ignore[reportPrivateUsage]
            raise SignatureError(
                f"{ast.unparse(node)!r} is not a type on its own: typing forms need type arguments "
                "(for example Optional[int])."
            )
        if hasattr(value, "__origin__"):
            if typing.get_origin(value) in _QUALIFIERS:
                raise SignatureTypeError(
                    f"{ast.unparse(node)!r} describes a class attribute, not the type of a field."
                )
            return value
        what = "a module" if isinstance(value, types.ModuleType) else f"a {type(value).__name__}"
        _not_a_type(repr(ast.unparse(node)), what)

    # --- building --------------------------------------------------------------------------------

    def build(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Name):
            return self.name(node.id)
        if isinstance(node, ast.Attribute):
            return self.attribute(node)
        if isinstance(node, ast.Subscript):
            return self.subscript(node)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return typing.Union[self.type_argument(node.left), self.type_argument(node.right)]  # noqa: UP007
        if isinstance(node, ast.Constant):
            _not_a_type(ast.unparse(node), "a value")
        if isinstance(node, ast.Tuple | ast.List):
            _not_a_type(ast.unparse(node), f"a {type(node).__name__.lower()}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Field":
            raise SignatureError(
                "Field(...) in a signature string belongs inside Annotated[type, Field(...)]."
            )
        raise SignatureError(
            f"Unsupported syntax in a type annotation: {ast.unparse(node)!r}. Use a class-based signature instead."
        )

    def subscript(self, node: ast.Subscript) -> Any:
        base: Any = self.build(node.value)
        elts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        args: tuple[Any, ...]
        if base is typing.Literal:
            args = tuple(self.literal_value(e) for e in elts)
        elif base is typing.Annotated:
            if len(elts) < 2:
                raise SignatureError("Annotated needs a type and at least one piece of metadata.")
            args = (self.type_argument(elts[0]), *(self.metadata(e) for e in elts[1:]))
        elif _one_of(base, _TUPLES) and len(elts) == 2 and _is_ellipsis(elts[1]):
            args = (self.type_argument(elts[0]), ...)
        elif _one_of(base, _CALLABLES) and len(elts) == 2:
            first = elts[0]
            params: Any = (
                ...
                if _is_ellipsis(first)
                else [self.type_argument(e) for e in first.elts]
                if isinstance(first, ast.List)
                else self.type_argument(first)
            )
            args = (params, self.type_argument(elts[1]))
        else:
            args = tuple(self.type_argument(e) for e in elts)
        if base is typing.Optional and len(args) != 1:
            raise SignatureError("Optional must have exactly one type argument")
        try:
            if isinstance(node.slice, ast.Tuple):
                return base[args]
            return base[args[0]]
        except TypeError as exc:
            raise SignatureTypeError(f"Invalid type annotation {ast.unparse(node)!r}: {exc}") from None
        except Exception as exc:
            raise SignatureError(f"Invalid type annotation {ast.unparse(node)!r}: {exc}") from None

    def literal_value(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant) and node.value is not Ellipsis:
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            value = node.operand.value if isinstance(node.operand, ast.Constant) else None
            if isinstance(value, int | float) and not isinstance(value, bool):  # Literal[-1]
                return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.Attribute):
            member = self.attribute(node)
            if isinstance(member, enum.Enum):
                return member
        if isinstance(node, ast.Subscript):
            nested = self.subscript(node)
            if typing.get_origin(nested) is typing.Literal:
                return nested
        raise SignatureError(
            f"Literal[...] takes values (strings, numbers, True/False, None, Enum members), not {ast.unparse(node)!r}."
        )

    def metadata(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Field":
            if node.args or any(
                not isinstance(kw.value, ast.Constant) or kw.arg is None for kw in node.keywords
            ):
                raise SignatureError("Field(...) in a signature string takes literal keyword arguments only.")
            options: dict[str, Any] = {
                kw.arg: kw.value.value
                for kw in node.keywords
                if kw.arg is not None and isinstance(kw.value, ast.Constant)
            }
            return pydantic.Field(**options)
        return self.literal_value(node)

    # --- names -----------------------------------------------------------------------------------

    def name(self, name: str) -> Any:
        for scope in (self.custom, _BUILTINS, _TYPING):
            if name in scope:
                return scope[name]
        found = self._from_frames(name)
        if found is not _MISSING:
            return found
        module = self._imported_module(name)
        if module is not None:
            return module
        raise SignatureError(
            f"Unknown name {name!r} in a type annotation; pass it with custom_types={{{name!r}: ...}}."
        )

    def attribute(self, node: ast.Attribute) -> Any:
        base = self.build(node.value)
        try:
            # Static lookup: a module's or class's own dict, never a `__getattr__` or property.
            return inspect.getattr_static(base, node.attr)
        except AttributeError:
            pass
        found = _lazy_export(base, node.attr)
        if found is _MISSING:
            raise SignatureError(f"Unknown attribute {node.attr!r} in {ast.unparse(node)!r}.")
        return found

    def _from_frames(self, name: str) -> Any:
        frame = self.frame
        depth = 0
        while frame is not None and depth < 100:
            for scope in (frame.f_locals, frame.f_globals):
                if name in scope and _is_type_like(scope[name]):
                    return scope[name]
            frame = frame.f_back
            depth += 1
        return _MISSING

    def _imported_module(self, name: str) -> types.ModuleType | None:
        # DSPy imports a module a dotted name starts with; here it must already be imported, and only
        # code (a calling frame) may reach modules: data such as the JSON form or a stored program may not.
        if name == "typing":
            return typing
        if self.frame is None:
            return None
        module = sys.modules.get(name)
        return module if isinstance(module, types.ModuleType) else None


_MISSING = object()


def _lazy_export(module: Any, name: str) -> Any:
    """A name dspy-ash (or its `dspy` alias) loads on first use (`dspy.Image`): the one dynamic lookup
    allowed, since the module's `__getattr__` is dspy-ash's own."""
    if not isinstance(module, types.ModuleType) or module.__name__.split(".")[0] not in ("dspy_ash", "dspy"):
        return _MISSING
    try:
        value = getattr(module, name)
    except AttributeError:
        return _MISSING
    return value if _is_type_like(value) else _MISSING


def _one_of(value: Any, options: tuple[Any, ...]) -> bool:
    return any(value is option for option in options)


def _is_ellipsis(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is Ellipsis


def _not_a_type(text: str, what: str, hint: str = "") -> NoReturn:
    raise SignatureError(f"{text} is {what}, not a type.{hint}")


def _is_type_like(value: Any) -> bool:
    if isinstance(value, type | types.ModuleType):
        return True
    module = getattr(type(value), "__module__", "")
    return module in ("typing", "typing_extensions", "types")


def caller_frame(skip: int) -> FrameType | None:
    """The first frame outside dspy-ash, at least `skip` levels up: where names in a signature are looked up."""
    try:
        frame: FrameType | None = sys._getframe(skip + 1)
    except ValueError:
        return None
    while frame is not None and str(frame.f_globals.get("__name__", "")).startswith("dspy_ash."):
        frame = frame.f_back
    return frame
