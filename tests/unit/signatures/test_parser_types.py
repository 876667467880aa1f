"""Types in signature strings: what DSPy accepts resolves to the same annotation, values are refused by field,
malformed strings raise what DSPy raises, and nothing in the string is ever run or imported."""

from __future__ import annotations

import collections
import datetime
import enum
import subprocess
import sys
import types
from typing import Annotated, Any, Callable, Literal, Optional, Tuple, Union  # noqa: UP035

import pydantic
import pytest

import dspy_ash as dspy
from dspy_ash.errors import SignatureError, SignatureSyntaxError, SignatureTypeError
from dspy_ash.signatures._parser import parse_signature_string


class Person(pydantic.BaseModel):
    name: str


class Mood(enum.Enum):
    HAPPY = "happy"


class Outer:
    class Inner(pydantic.BaseModel):
        x: int


def _annotation(type_text: str) -> Any:
    return dspy.Signature(f"q -> a: {type_text}").output_fields["a"].annotation


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tuple[int, ...]", tuple[int, ...]),
        ("Tuple[int, ...]", Tuple[int, ...]),  # noqa: UP006
        ("typing.Tuple[int, ...]", Tuple[int, ...]),  # noqa: UP006
        ("Callable[..., int]", Callable[..., int]),
        ("Optional[int]", Optional[int]),  # noqa: UP045
        ("Union[int, str]", Union[int, str]),  # noqa: UP007
        ("int | None", Optional[int]),  # noqa: UP045
        ("None | int", Optional[int]),  # noqa: UP045
        ("dict[str, list[int]]", dict[str, list[int]]),
        ("dict[str, None]", dict[str, None]),
        ("Literal['a', 'b']", Literal["a", "b"]),
        ("Literal[None]", Literal[None]),
        ("Literal[True, 1, b'x']", Literal[True, 1, b"x"]),
        ("Literal[-1]", Literal[-1]),
        ("Literal[Mood.HAPPY]", Literal[Mood.HAPPY]),
        ("list['int']", list[int]),  # a quoted forward reference is read, never evaluated
        ("Union['int', 'str']", Union[int, str]),  # noqa: UP007
        ("Text", str),
        ("Deque[int]", __import__("typing").Deque[int]),
        ("collections.OrderedDict", collections.OrderedDict),
        ("datetime.datetime", datetime.datetime),
        ("Person", Person),
        ("list[Person]", list[Person]),
        ("Optional[Person]", Optional[Person]),  # noqa: UP045
        ("Person | None", Optional[Person]),  # noqa: UP045
        ("Outer.Inner", Outer.Inner),
        ("Annotated[int, Field(gt=0)]", Annotated[int, pydantic.Field(gt=0)]),
        ("None", str),  # DSPy's reading: an annotation of None means the default type
    ],
)
def test_types_dspy_accepts(text, expected):
    got = _annotation(text)
    if text.startswith("Annotated"):
        assert got.__origin__ is int and got.__metadata__[0].metadata == expected.__metadata__[0].metadata
    else:
        assert got == expected


def test_typing_needs_no_import_by_the_caller():
    code = (
        "import dspy_ash as dspy\n"
        "sig = dspy.Signature('q -> a: typing.List[int], b: typing.Optional[str]')\n"
        "print(sig.output_fields['a'].annotation, sig.output_fields['b'].annotation)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "typing.List[int] typing.Optional[str]"
    _, outputs = parse_signature_string("q -> a: typing.Dict[str, int]", frame=None)
    assert outputs[0][1] == __import__("typing").Dict[str, int]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("5", "not a type"),
        ("'x'", "not a type"),
        ("True", "not a type"),
        ("1.5", "not a type"),
        ("b'x'", "not a type"),
        ("...", "not a type"),
        ("list[5]", "not a type"),
        ("list[...]", "not a type"),
        ("tuple[..., int]", "not a type"),
        ("int | 5", "not a type"),
        ("dict[str, 'x']", "Unknown name 'x'"),
        ("list['5']", "not a type"),
        ("list['']", "annotation"),
        ("(int, str)", "not a type"),
        ("[int]", "not a type"),
        ("Field(description='x')", "Annotated"),
        ("Literal[int]", "Literal"),
        ("Literal[Person]", "Literal"),
        ("Optional", "type arguments"),
        ("Literal", "type arguments"),
        ("AnyStr", "not a type"),
        ("TYPE_CHECKING", "not a type"),
        ("NamedTuple", "not a type"),
        ("json", "module"),
        ("str.upper", "not a type"),
        ("Person.name", "Unknown attribute"),
        ("Unknown", "Unknown name 'Unknown'"),
        ("Optional[int, str]", "exactly one"),
        ("f(x)", "Unsupported syntax"),
        ("lambda: 1", "Unsupported syntax"),
    ],
)
def test_values_and_unknown_names_are_refused_naming_the_field(text, message):
    with pytest.raises(SignatureError, match=message) as info:
        dspy.Signature(f"q -> a: {text}")
    assert info.value.field == "a"
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("text", ["list[int][str]", "int[str]", "Union[()]", "ClassVar[int]", "Final[int]"])
def test_bad_subscripts_are_type_errors_as_in_dspy(text):
    with pytest.raises(SignatureTypeError) as info:
        dspy.Signature(f"q -> a: {text}")
    assert isinstance(info.value, TypeError) and isinstance(info.value, SignatureError)
    assert info.value.field == "a"


@pytest.mark.parametrize(
    "text",
    [
        "1x -> y",
        "a -> b:",
        "a: -> b",
        "a b -> c",
        "a.b -> c",
        ",a -> b",
        "class -> b",
        "a -> b: list[",
        "a -> b # c",
        "a -> b; import os",
        "a\x00 -> b",
        "a -> 1",
        "None -> b",
        "a -> b): pass\ndef g(",  # one field list, not code around it
        "a -> b): pass #",
        "q -> a: list['in t']",
    ],
)
def test_malformed_strings_raise_syntax_errors_as_in_dspy(text):
    with pytest.raises(SyntaxError) as info:
        dspy.Signature(text)
    exc = info.value
    assert isinstance(exc, SignatureSyntaxError) and isinstance(exc, SignatureError)
    assert isinstance(exc, ValueError)  # also what dspy-ash promised before
    assert str(exc) and str(exc) != "None"


@pytest.mark.parametrize(
    "text", ["a,\n b -> c", "a,\r b -> c", "a,\r\n b -> c", "a,\x0c b -> c", "é, ü -> c"]
)
def test_field_lists_over_lines_and_in_any_script_parse(text):
    assert (
        dspy.Signature(text).signature == ", ".join(text.split("->")[0].replace(",", " ").split()) + " -> c"
    )


def test_format_errors_stay_value_errors_as_in_dspy():
    for text in ("a, b", "a -> b -> c", "a -> a", ""):
        with pytest.raises(ValueError) as info:
            dspy.Signature(text)
        assert isinstance(info.value, SignatureError) and not isinstance(info.value, SyntaxError)


def test_very_deep_or_long_annotations_fail_cleanly():
    with pytest.raises(SignatureError):
        dspy.Signature("q -> a: " + "list[" * 300 + "int" + "]" * 300)
    long_union = " | ".join(["int"] * 20_000)
    try:
        sig = dspy.Signature(f"q -> a: {long_union}")
    except SignatureError:
        pass
    else:
        assert sig.output_fields["a"].annotation is int


def test_parser_never_imports_and_never_runs_attribute_code(monkeypatch):
    calls: list[str] = []
    lazy = types.ModuleType("lazy_mod_for_parser_test")

    def module_getattr(name: str) -> Any:
        calls.append(f"module:{name}")
        return int

    lazy.__getattr__ = module_getattr  # type: ignore[method-assign]
    monkeypatch.setitem(sys.modules, "lazy_mod_for_parser_test", lazy)

    class Meta(type):
        def __getattr__(cls, name: str) -> Any:
            calls.append(f"class:{name}")
            return int

    class Weird(metaclass=Meta):
        pass

    before = set(sys.modules)
    for text in (
        "q -> a: lazy_mod_for_parser_test.Thing",
        "q -> a: Weird.Thing",
        "q -> a: not_a_module_anywhere.Thing",
        "q -> a: list['__import__(\"os\")']",
    ):
        with pytest.raises(SignatureError):
            dspy.Signature(text, custom_types={"Weird": Weird})
    assert calls == []
    assert set(sys.modules) == before


def test_bare_field_declarations_are_type_errors_as_in_dspy():
    def declare() -> type[dspy.Signature]:
        class Bad(dspy.Signature):
            question: str = dspy.InputField()
            answer: str  # not declared as an OutputField

        return Bad

    with pytest.raises(TypeError):
        declare()

    with pytest.raises(SignatureTypeError):
        dspy.Signature({"a": (str, pydantic.Field())})
