"""Signatures: the typed inputs and outputs of one LM task, and its instructions.

A signature is a class (never instantiated), written as a class with `InputField`/`OutputField`
attributes or built from a string: `Signature("question, context: list[str] -> answer: int")`.
Every operation returns a new class; the original is never changed (except through the
`instructions` setter, as in DSPy).
"""

from __future__ import annotations

import copy
import functools
import re
import sys
import types
import typing
from typing import Any, cast

import annotated_types
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from dspy_ash.errors import SignatureError, SignatureTypeError
from dspy_ash.signatures._field import IS_TYPE_UNDEFINED, InputField, OutputField, extra_of, field_kind
from dspy_ash.signatures._parser import caller_frame, parse_signature_string, parse_type_string
from dspy_ash.signatures._types import allows_none, annotation_name


@functools.lru_cache(maxsize=4096)
def infer_prefix(name: str) -> str:
    """`camelCaseText` -> `Camel Case Text`, `text2number` -> `Text 2 Number`, `HTMLParser` -> `HTML Parser`."""
    s = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    s = re.sub("([a-z0-9])([A-Z])", r"\1_\2", s)
    s = re.sub(r"([a-zA-Z])(\d)", r"\1_\2", s)
    s = re.sub(r"(\d)([a-zA-Z])", r"\1_\2", s)
    return " ".join(w if w.isupper() else w.capitalize() for w in s.split("_"))


def _default_instructions(inputs: typing.Iterable[str], outputs: typing.Iterable[str]) -> str:
    ins = ", ".join(f"`{n}`" for n in inputs)
    outs = ", ".join(f"`{n}`" for n in outputs)
    return f"Given the fields {ins}, produce the fields {outs}."


_TYPE_FORMS = (type, typing._GenericAlias, types.GenericAlias, typing._SpecialForm, types.UnionType)  # type: ignore[attr-defined]


def _check_type(name: str, annotation: Any) -> None:
    if not isinstance(annotation, _TYPE_FORMS) and not hasattr(annotation, "__origin__"):
        raise SignatureError(
            f"Field {name!r}: the type must be a type, but received {annotation!r} of type {type(annotation).__name__}.",
            field=name,
        )


def _finish_field(name: str, field: FieldInfo, annotation: Any) -> FieldInfo:
    extra = extra_of(field)
    if field_kind(field) not in ("input", "output"):
        raise SignatureTypeError(
            f"Field `{name}` must be declared with InputField or OutputField, but field `{name}` has "
            f"`field.json_schema_extra={field.json_schema_extra}`",
            field=name,
        )
    if not name.isidentifier():
        raise SignatureError(f"Field name {name!r} is not a valid identifier.", field=name)
    field.annotation = annotation
    extra.setdefault("prefix", infer_prefix(name) + ":")
    extra.setdefault("desc", f"${{{name}}}")
    return field


class SignatureMeta(type):
    """The metaclass of signatures: builds the fields and instructions of each signature class and lets
    `Signature("a -> b")` make a new class from a string."""

    _fields: dict[str, FieldInfo]
    _input_fields: dict[str, FieldInfo]
    _output_fields: dict[str, FieldInfo]

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if cls is Signature:  # `Signature("a -> b")` makes a class
            if args and isinstance(args[0], str) and "custom_types" not in kwargs:
                kwargs["_frame"] = caller_frame(1)
            return make_signature(*args, **kwargs)
        # A subclass called with field values makes an instance holding them, as DSPy's pydantic one does.
        missing = [name for name, info in cls._fields.items() if name not in kwargs and info.is_required()]
        if args or missing:
            raise SignatureTypeError(
                f"{cls.__name__}(...) takes its field values by keyword; missing: {', '.join(missing) or 'none'}."
            )
        instance: Any = object.__new__(cls)
        vars(instance).update(kwargs)
        return instance

    def __new__(
        mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kwargs: Any
    ) -> SignatureMeta:
        raw_annotations: dict[str, Any] = dict(namespace.get("__annotations__", {}))
        declared = [(k, v) for k, v in namespace.items() if isinstance(v, FieldInfo)]
        for key, _ in declared:
            namespace.pop(key)
        for key in raw_annotations:
            if (
                not key.startswith("_")
                and key not in dict(declared)
                and not any(key in getattr(b, "_fields", {}) for b in bases)
            ):
                raise SignatureTypeError(
                    f"Field `{key}` in `{name}` must be declared with InputField or OutputField, but field `{key}` "
                    "has `field.json_schema_extra=None`",
                    field=key,
                )
        cls = cast(SignatureMeta, super().__new__(mcs, name, bases, namespace, **kwargs))
        fields: dict[str, FieldInfo] = {}
        for base in reversed(bases):
            for key, field in getattr(base, "_fields", {}).items():
                fields[key] = _copy_field(field)
        module_globals = (
            vars(sys.modules[namespace["__module__"]]) if namespace.get("__module__") in sys.modules else {}
        )
        for key, field in declared:
            if key in raw_annotations:
                annotation = raw_annotations[key]
                if isinstance(annotation, str):
                    annotation = _resolve_string_annotation(annotation, module_globals, namespace, key)
            else:
                annotation = str
                extra_of(field)[IS_TYPE_UNDEFINED] = True
            fields[key] = _finish_field(key, field, annotation)
        _install_fields(cls, fields)
        if namespace.get("__doc__") is None:
            inherited = next((b.__doc__ for b in bases if isinstance(b, SignatureMeta) and b.__doc__), None)
            cls.__doc__ = inherited or _default_instructions(cls._input_fields, cls._output_fields)
        return cls

    @property
    def instructions(cls) -> str:
        import inspect

        return inspect.cleandoc(cls.__doc__ or "")

    @instructions.setter
    def instructions(cls, value: str) -> None:
        cls.__doc__ = value

    @property
    def input_fields(cls) -> dict[str, FieldInfo]:
        return cls._input_fields

    @property
    def output_fields(cls) -> dict[str, FieldInfo]:
        return cls._output_fields

    @property
    def fields(cls) -> dict[str, FieldInfo]:
        return cls._fields

    @property
    def model_fields(cls) -> dict[str, FieldInfo]:
        return cls._fields

    @property
    def signature(cls) -> str:
        return f"{', '.join(cls._input_fields)} -> {', '.join(cls._output_fields)}"

    def __repr__(cls) -> str:
        lines = [f"{name} = Field({field})" for name, field in cls._fields.items()]
        body = "\n    ".join(lines)
        return f"{cls.__name__}({cls.signature}\n    instructions={cls.instructions!r}\n    {body}\n)"


def _resolve_string_annotation(
    text: str, module_globals: dict[str, Any], namespace: dict[str, Any], key: str
) -> Any:
    # Postponed annotations (`from __future__ import annotations`) in the user's own class body:
    # resolved like typing.get_type_hints does, against the defining module.
    try:
        return eval(
            text, dict(module_globals), dict(namespace)
        )  # the user's own source code, not a signature string
    except Exception as exc:
        raise SignatureError(f"Field {key!r}: cannot resolve annotation {text!r}: {exc}", field=key) from None


def _copy_field(field: FieldInfo) -> FieldInfo:
    new = copy.copy(field)
    new.json_schema_extra = dict(extra_of(field))
    return new


def _install_fields(cls: SignatureMeta, fields: dict[str, FieldInfo]) -> None:
    inputs = {k: f for k, f in fields.items() if field_kind(f) == "input"}
    outputs = {k: f for k, f in fields.items() if field_kind(f) == "output"}
    cls._input_fields = inputs
    cls._output_fields = outputs
    cls._fields = {**inputs, **outputs}


class Signature(metaclass=SignatureMeta):
    """"""

    # The declared inputs and outputs of a task: `Signature("question -> answer")`, a string with optional
    # types ("context: list[str], question -> answer: int"), or a subclass with InputField/OutputField
    # attributes whose docstring is the instructions. No docstring here on purpose: a signature's
    # docstring IS its instructions, and subclasses inherit this empty one (so they get the default).

    # Every class these methods derive is named `StringSignature`, whatever the original's name: DSPy builds
    # them with `Signature(fields, instructions)`, and the name shows in reprs that reach prompts (MIPROv2).

    @classmethod
    def with_instructions(cls, instructions: str) -> type[Signature]:
        return make_signature(dict(cls.fields), instructions)

    @classmethod
    def append_instructions(cls, instructions: str) -> type[Signature]:
        return make_signature(dict(cls.fields), f"{cls.instructions}\n\n{instructions}")

    @classmethod
    def with_updated_fields(cls, name: str, type_: Any = None, **kwargs: Any) -> type[Signature]:
        fields = {k: _copy_field(f) for k, f in cls.fields.items()}
        if name not in fields:
            raise SignatureError(f"No field named {name!r} in {cls.__name__}.", field=name)
        fields[name].json_schema_extra = {**extra_of(fields[name]), **kwargs}
        if type_ is not None:
            fields[name].annotation = type_
        return make_signature(fields, cls.instructions)

    @classmethod
    def prepend(cls, name: str, field: FieldInfo, type_: Any = None) -> type[Signature]:
        return cls.insert(0, name, field, type_)

    @classmethod
    def append(cls, name: str, field: FieldInfo, type_: Any = None) -> type[Signature]:
        return cls.insert(-1, name, field, type_)

    @classmethod
    def insert(cls, index: int, name: str, field: FieldInfo, type_: Any = None) -> type[Signature]:
        if type_ is None:
            type_ = field.annotation if field.annotation is not None else str
        kind = field_kind(field)
        inputs = list(cls.input_fields.items())
        outputs = list(cls.output_fields.items())
        target = inputs if kind == "input" else outputs
        if index < 0:
            index += len(target) + 1
        if index < 0 or index > len(target):
            raise SignatureError(
                f"Invalid index to insert: {index}, index must be in the range of [{len(target) - 1}, {len(target)}] "
                f"for {kind} fields, but received: {index}."
            )
        target.insert(index, (name, _with_annotation(field, type_)))
        return make_signature(dict(inputs + outputs), cls.instructions)

    @classmethod
    def delete(cls, name: str) -> type[Signature]:
        fields = dict(cls.fields)
        fields.pop(name, None)
        return make_signature(fields, cls.instructions)

    @classmethod
    def equals(cls, other: Any) -> bool:
        """Same instructions and the same DSPy extras per field (types are not compared, as in DSPy)."""
        if not isinstance(other, SignatureMeta):
            return False
        if cls.instructions != other.instructions:
            return False
        if cls.fields.keys() != other.fields.keys():
            return False
        return all(extra_of(cls.fields[n]) == extra_of(other.fields[n]) for n in cls.fields)

    @classmethod
    def dump_state(cls) -> dict[str, Any]:
        return {
            "instructions": cls.instructions,
            "fields": [
                {"prefix": extra_of(f)["prefix"], "description": extra_of(f)["desc"]}
                for f in cls.fields.values()
            ],
        }

    @classmethod
    def load_state(cls, state: dict[str, Any]) -> type[Signature]:
        """A new class with the saved instructions, and prefix/description applied by position (as DSPy)."""
        fields = {k: _copy_field(f) for k, f in cls.fields.items()}
        for field, saved in zip(fields.values(), state.get("fields", []), strict=False):
            extra = extra_of(field)
            extra["prefix"] = saved["prefix"]
            extra["desc"] = saved["description"]
        return make_signature(fields, state.get("instructions", cls.instructions))

    @classmethod
    def to_json(cls) -> dict[str, Any]:
        """A JSON form that round-trips through `Signature.from_json` (types as annotation strings)."""
        out: list[dict[str, Any]] = []
        for name, field in cls.fields.items():
            extra = extra_of(field)
            item: dict[str, Any] = {
                "name": name,
                "kind": field_kind(field),
                "type": annotation_name(field.annotation),
                "desc": None if extra.get("desc") == f"${{{name}}}" else extra.get("desc"),
                "prefix": extra.get("prefix"),
                "optional": (not field.is_required()) or allows_none(field.annotation),
            }
            if field.default is not PydanticUndefined:
                item["default"] = field.default
            if IS_TYPE_UNDEFINED in extra:  # whether the type was written out (DSPy keeps the marker)
                item["type_undefined"] = extra[IS_TYPE_UNDEFINED]
            constraints = _constraints_of(field)
            if constraints:
                item["constraints"] = constraints
            out.append(item)
        return {"name": cls.__name__, "instructions": cls.instructions, "fields": out}

    @classmethod
    def from_json(cls, data: dict[str, Any], custom_types: dict[str, Any] | None = None) -> type[Signature]:
        fields: dict[str, tuple[Any, FieldInfo]] = {}
        for item in data["fields"]:
            name = item["name"]
            try:
                annotation = parse_type_string(item.get("type") or "str", custom_types)
            except SignatureError as exc:
                raise type(exc)(f"Field {name!r}: {exc}", field=name) from None
            kwargs: dict[str, Any] = dict(item.get("constraints") or {})
            if "type_undefined" in item:
                kwargs[IS_TYPE_UNDEFINED] = item["type_undefined"]
            if item.get("desc") is not None:
                kwargs["desc"] = item["desc"]
            if "default" in item:
                kwargs["default"] = item["default"]
            make = InputField if item.get("kind") == "input" else OutputField
            field = make(**kwargs)
            if item.get("prefix"):
                extra_of(field)["prefix"] = item["prefix"]
            fields[name] = (annotation, field)
        return make_signature(fields, data.get("instructions"), data.get("name") or "StringSignature")


def _constraints_of(field: FieldInfo) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for meta in field.metadata:
        for key in ("gt", "ge", "lt", "le", "min_length", "max_length", "multiple_of"):
            value = getattr(meta, key, None)
            if value is not None and isinstance(meta, annotated_types.BaseMetadata):
                found[key] = value
    return found


def _with_annotation(field: FieldInfo, annotation: Any) -> FieldInfo:
    new = _copy_field(field)
    new.annotation = annotation
    return new


def make_signature(
    signature: str | dict[str, Any],
    instructions: str | None = None,
    signature_name: str = "StringSignature",
    custom_types: dict[str, Any] | None = None,
    _frame: Any = None,
) -> type[Signature]:
    """Build a signature class from a string or from `{name: (type, FieldInfo) | FieldInfo}`."""
    fields: dict[str, FieldInfo] = {}
    if isinstance(signature, str):
        frame = _frame if _frame is not None else caller_frame(1)
        inputs, outputs = parse_signature_string(signature, custom_types, frame)
        for name, annotation, undefined in inputs:
            fields[name] = _finish_field(name, InputField(**{IS_TYPE_UNDEFINED: undefined}), annotation)
        for name, annotation, _ in outputs:
            fields[name] = _finish_field(name, OutputField(), annotation)
    # Callers without a type checker pass anything: the two checks stay.
    elif isinstance(signature, dict):  # pyright: ignore[reportUnnecessaryIsInstance]
        for name, spec in signature.items():
            if not isinstance(name, str):  # pyright: ignore[reportUnnecessaryIsInstance]
                raise SignatureError(f"Field names must be strings, but received: {name!r}.")
            if isinstance(spec, FieldInfo):
                annotation, field = spec.annotation, spec
            elif isinstance(spec, tuple) and len(spec) == 2:
                annotation, field = spec
            else:
                raise SignatureError(
                    f"Field {name!r}: values must be (type, Field) tuples or Fields, got {spec!r}.",
                    field=name,
                )
            if not isinstance(field, FieldInfo):
                raise SignatureError(
                    f"Field {name!r}: values must be Field instances, but received: {field!r}.", field=name
                )
            annotation = str if annotation is None else annotation
            _check_type(name, annotation)
            fields[name] = _finish_field(name, _copy_field(field), annotation)
    else:
        raise SignatureError(f"A signature is a string or a dict of fields, not {type(signature).__name__}.")
    cls = cast(
        type[Signature],
        SignatureMeta.__new__(
            SignatureMeta, signature_name, (Signature,), {"__module__": __name__, "__doc__": ""}
        ),
    )
    _install_fields(cast(SignatureMeta, cls), fields)
    cls.__doc__ = (
        instructions
        if instructions is not None
        else _default_instructions(cls.input_fields, cls.output_fields)
    )
    return cls


def ensure_signature(signature: str | type[Signature] | None, instructions: str | None = None) -> Any:
    if signature is None:
        return None
    if isinstance(signature, str):
        return make_signature(signature, instructions, _frame=caller_frame(1))
    if instructions is not None:
        raise SignatureError("Don't specify instructions when initializing with a Signature")
    return signature
