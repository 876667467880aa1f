"""Signature strings against dspy 3.4.1: the same annotations where DSPy accepts, DSPy's exception classes
where it refuses, DSPy's names for derived classes, and a short list of deliberate differences."""

from __future__ import annotations

import enum
from typing import Any

import pydantic
import pytest

import dspy_ash
from dspy_ash.errors import SignatureError

dspy = pytest.importorskip("dspy")

pytestmark = pytest.mark.oracle


class Person(pydantic.BaseModel):
    name: str


class Mood(enum.Enum):
    HAPPY = "happy"


class Outer:
    class Inner(pydantic.BaseModel):
        x: int


def _build(lib: Any, text: str) -> Any:
    try:
        return lib.Signature(text)
    except Exception as exc:
        return exc


# Output types both accept, with the same annotation.
SAME = [
    "str",
    "int",
    "bytes",
    "NoneType",
    "None",  # DSPy: None means the default type, str
    "list[str]",
    "set[int]",
    "frozenset[str]",
    "tuple[int, ...]",
    "Tuple[int, ...]",
    "typing.Tuple[int, ...]",
    "tuple[()]",
    "Callable[..., int]",
    "typing.List[int]",
    "List[int]",
    "Optional[int]",
    "typing.Optional[int]",
    "Union[int, str]",
    "Union[int]",
    "Union[int, None, str]",
    "Optional[None]",
    "int | None",
    "None | int",
    "int|None",
    "int | str | None",
    "None | None",
    "int | list[str]",
    "dict[str, list[int]]",
    "dict[str, None]",
    "list[None]",
    "dict[str, Any]",
    "Any | None",
    "Literal['a', 'b']",
    "Literal[1, 2]",
    "Literal[1.5]",
    "Literal[True, 1, b'x']",
    "Literal[None]",
    "Literal['x'] | None",
    "Literal['a'] | Literal['b']",
    "Optional[Literal['a']]",
    "list['int']",
    "list['list[int]']",
    "Union['int', 'str']",
    "Text",
    "Sequence[str]",
    "Mapping[str, int]",
    "Deque[int]",
    "DefaultDict[str, int]",
    "Counter[str]",
    "OrderedDict[str, int]",
    "Generator[int, None, None]",
    "Pattern[str]",
    "collections.OrderedDict",
    "datetime.datetime",
    "pathlib.Path",
    "decimal.Decimal",
    "uuid.UUID",
    "enum.Enum",
    "pydantic.BaseModel",
    "Person",
    "Person | None",
    "Mood",
    "Outer.Inner",
]


@pytest.mark.parametrize("type_text", SAME)
def test_types_both_accept_resolve_alike(type_text):
    text = f"question -> answer: {type_text}"
    theirs, ours = _build(dspy, text), _build(dspy_ash, text)
    assert not isinstance(theirs, Exception), theirs
    assert not isinstance(ours, Exception), ours
    assert ours.output_fields["answer"].annotation == theirs.output_fields["answer"].annotation


# Strings both refuse. DSPy's class is what an `except` written for DSPy catches, so ours must be one too.
BOTH_REFUSE = [
    "1x -> y",
    "a -> b:",
    "a: -> b",
    "a b -> c",
    "a -> b c",
    "a.b -> c",
    ",a -> b",
    "a -> (b)",
    "class -> b",
    "a -> def",
    "a -> b: int)",
    "a -> b: list[",
    "a\x00 -> b",
    "a -> b # c",
    "a -> b\n c",
    "a -> b; import os",
    "a -> 1",
    "None -> b",
    "a -> b: int\x0b",
    "a, b",
    "a -> b -> c",
    "",
    "a -> a",
    "q -> a: 5",
    "q -> a: 'x'",
    "q -> a: True",
    "q -> a: 1.5",
    "q -> a: b'x'",
    "q -> a: ...",
    "q -> a: (int, str)",
    "q -> a: [int]",
    "q -> a: Field(description='x')",
    "q -> a: Unknown",
    "q -> a: x.y",
    "q -> a: os.path",
    "q -> a: json",
    "q -> a: str.upper",
    "q -> a: Person.name",
    "q -> a: type",
    "q -> a: object",
    "q -> a: print",
    "q -> a: AnyStr",
    "q -> a: TYPE_CHECKING",
    "q -> a: NamedTuple",
    "q -> a: Optional[int, str]",
    "q -> a: -1",
    "q -> a: f(x)",
    "q -> a: int()",
    "q -> a: lambda: 1",
    "q -> a: list[int][str]",
    "q -> a: Union[()]",
    "q -> a: ClassVar[int]",
    "q -> a: Final[int]",
    "q -> a: Required[int]",
    "q -> a: tuple[...]",
    # DSPy raises these from pydantic (a RuntimeError); dspy-ash refuses them while parsing.
    "q -> a: list[5]",
    "q -> a: int | 5",
    "q -> a: list[...]",
    "q -> a: tuple[int, ..., str]",
    "q -> a: list['5']",
    "q -> a: list['in t']",
    "q -> a: Optional",
    "q -> a: Literal",
    "q -> a: NoReturn",
]


@pytest.mark.parametrize("text", BOTH_REFUSE)
def test_strings_both_refuse_raise_dspys_exception_class(text):
    theirs, ours = _build(dspy, text), _build(dspy_ash, text)
    assert isinstance(theirs, Exception), f"dspy accepted {text!r}"
    assert isinstance(ours, SignatureError), ours
    for cls in (SyntaxError, ValueError, TypeError):
        if isinstance(theirs, cls):
            assert isinstance(ours, cls), (type(theirs), type(ours))
    if not isinstance(theirs, SyntaxError):
        assert not isinstance(ours, SyntaxError)
    if "q -> a:" in text and not isinstance(ours, SyntaxError):
        assert ours.field == "a"


# Deliberate differences, each checked on both sides so a change in DSPy shows here.
OURS_ONLY = [  # DSPy finds caller types only right after `:`; dspy-ash also inside brackets and unions
    "q -> a: list[Person]",
    "q -> a: Optional[Person]",
    "q -> a: dict[str, Person]",
    "q -> a: Literal[Mood.HAPPY]",
    "q -> a: Literal[-1]",  # DSPy cannot read a negative number
    "q -> a: Callable[[int], str]",
]
THEIRS_ONLY = [  # DSPy drops or merges fields silently, or builds a type no value can have
    "a, a -> b",
    "a=1 -> b",
    "a: int = 3 -> b",
    "*a -> b",
    "**k -> b",
    "a, /, b -> c",
    "a -> b, *, c",
    "a -> b): pass\ndef g(",  # DSPy reads only the first `def` of the text it builds
    "q -> a: Literal[int]",
    "q -> a: list[int, 5]",
    "q -> a: Self",
]


@pytest.mark.parametrize("text", OURS_ONLY)
def test_strings_only_dspy_ash_accepts(text):
    assert isinstance(_build(dspy, text), Exception)
    assert not isinstance(_build(dspy_ash, text), Exception)


@pytest.mark.parametrize("text", THEIRS_ONLY)
def test_strings_only_dspy_accepts(text):
    assert not isinstance(_build(dspy, text), Exception)
    assert isinstance(_build(dspy_ash, text), SignatureError)


def _derived(lib: Any) -> dict[str, Any]:
    class QA(lib.Signature):
        """Answer."""

        question: str = lib.InputField()
        answer: str = lib.OutputField(desc="short")

    return {
        "with_instructions": QA.with_instructions("New."),
        "append_instructions": QA.append_instructions("More."),
        "with_updated_fields": QA.with_updated_fields("answer", desc="d"),
        "prepend": QA.prepend("ctx", lib.InputField()),
        "append": QA.append("ctx", lib.InputField()),
        "insert": QA.insert(0, "note", lib.OutputField()),
        "delete": QA.delete("question"),
        "delete_missing": QA.delete("nope"),
        "load_state": QA.load_state(QA.dump_state()),
        "chain_of_thought": lib.ChainOfThought(QA).predict.signature,
        "predict": lib.Predict(QA).signature,
    }


def test_derived_signature_names_and_reprs_match_dspy():
    theirs, ours = _derived(dspy), _derived(dspy_ash)
    for how in theirs:
        assert (ours[how].__name__, ours[how].__qualname__) == (
            theirs[how].__name__,
            theirs[how].__qualname__,
        ), how
        assert repr(ours[how]) == repr(theirs[how]), how
