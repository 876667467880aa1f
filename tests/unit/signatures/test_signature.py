from __future__ import annotations

import enum
from typing import Any, Literal, Optional, Union

import pydantic
import pytest
from pydantic.fields import FieldInfo

import dspy_ash as dspy
from dspy_ash.errors import SignatureError


def extra(field: FieldInfo) -> dict[str, Any]:
    """A field's DSPy extras: `json_schema_extra`, which pydantic types as a dict, a callable or None."""
    assert isinstance(field.json_schema_extra, dict)
    return field.json_schema_extra


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Item(pydantic.BaseModel):
    name: str
    qty: int


def test_string_signature_fields_types_and_default_instructions():
    sig = dspy.Signature("question, context: list[str] -> answer: int")
    assert list(sig.input_fields) == ["question", "context"]
    assert list(sig.output_fields) == ["answer"]
    assert sig.fields["context"].annotation == list[str]
    assert sig.fields["answer"].annotation is int
    assert sig.instructions == "Given the fields `question`, `context`, produce the fields `answer`."
    assert sig.signature == "question, context -> answer"
    assert sig.__name__ == "StringSignature"
    assert extra(sig.fields["question"])["prefix"] == "Question:"
    assert extra(sig.fields["question"])["desc"] == "${question}"


def test_string_signature_with_instructions():
    sig = dspy.Signature("a -> b", "Do the thing.")
    assert sig.instructions == "Do the thing."


@pytest.mark.parametrize(
    ("text", "field", "expected"),
    [
        ("a: Optional[int] -> b", "a", Optional[int]),  # noqa: UP045
        ("a: int | None -> b", "a", Optional[int]),  # noqa: UP045
        ("a: Union[int, str] -> b", "a", Union[int, str]),  # noqa: UP007
        ("a -> b: Literal['x', 'y']", "b", Literal["x", "y"]),
        ("a -> b: dict[str, Any]", "b", dict[str, Any]),
        ("a -> b: tuple[int, str]", "b", tuple[int, str]),
        ("a -> b: bool", "b", bool),
        ("a -> b: float", "b", float),
    ],
)
def test_string_types(text, field, expected):
    assert dspy.Signature(text).fields[field].annotation == expected


def test_custom_types_from_argument_and_from_caller_frame():
    sig = dspy.Signature("text -> items: list[Item]", custom_types={"Item": Item})
    assert sig.fields["items"].annotation == list[Item]
    local_color = Color  # found by name in this frame, as DSPy finds caller types
    sig2 = dspy.Signature("text -> color: local_color")
    assert sig2.fields["color"].annotation is local_color is Color


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a, b", "exactly one '->'"),
        ("a -> b -> c", "exactly one '->'"),
        ("a -> a", "distinct names"),
        ("a, a -> b", "Duplicate input field"),
        ("a: NotAType -> b", "Unknown name 'NotAType'"),
        ("a: __import__('os').system('x') -> b", "Unsupported syntax"),
        ("1a -> b", "Invalid input fields"),
        ("a=1 -> b", "name: type"),
    ],
)
def test_bad_strings_raise_typed_errors(text, message):
    with pytest.raises(SignatureError, match=message):
        dspy.Signature(text)


def test_bad_string_error_names_the_field():
    with pytest.raises(SignatureError) as info:
        dspy.Signature("question, ctx: Nope -> answer")
    assert info.value.field == "ctx"
    assert isinstance(info.value, ValueError)


def test_parser_never_calls_or_imports(monkeypatch):
    import importlib

    def forbidden(*a, **k):
        raise AssertionError("imported during parse")

    monkeypatch.setattr(importlib, "import_module", forbidden)
    with pytest.raises(SignatureError, match="not a type"):
        dspy.Signature("a: os.path -> b")
    with pytest.raises(SignatureError, match="Unknown name"):
        dspy.Signature("a: not_an_imported_module.Popen -> b")


class QA(dspy.Signature):
    """Answer questions with short factoid answers."""

    question: str = dspy.InputField()
    context: list[str] = dspy.InputField(desc="may contain relevant facts")
    answer: int = dspy.OutputField(desc="a number", gt=0, le=10)


def test_class_signature():
    assert QA.instructions == "Answer questions with short factoid answers."
    assert list(QA.fields) == ["question", "context", "answer"]
    answer = extra(QA.fields["answer"])
    assert answer["desc"] == "a number"
    assert answer["constraints"] == "greater than: 0, less than or equal to: 10"
    assert extra(QA.fields["context"])["desc"] == "may contain relevant facts"


def test_class_signature_order_is_inputs_then_outputs_in_declaration_order():
    class Mixed(dspy.Signature):
        out1: str = dspy.OutputField()
        in1: str = dspy.InputField()
        out2: int = dspy.OutputField()
        in2: str = dspy.InputField()

    assert list(Mixed.fields) == ["in1", "in2", "out1", "out2"]
    assert Mixed.instructions == "Given the fields `in1`, `in2`, produce the fields `out1`, `out2`."


def test_field_without_input_or_output_declaration_is_an_error():
    def declare() -> type[dspy.Signature]:
        class Bad(dspy.Signature):
            question: str = dspy.InputField()
            answer: str

        return Bad

    with pytest.raises(SignatureError, match="must be declared with InputField or OutputField"):
        declare()


def test_untyped_class_field_defaults_to_str():
    class Loose(dspy.Signature):
        question = dspy.InputField()
        answer = dspy.OutputField()

    assert Loose.fields["question"].annotation is str
    assert extra(Loose.fields["question"])["IS_TYPE_UNDEFINED"] is True


def test_signatures_are_not_instantiated():
    with pytest.raises(TypeError):
        QA()


def test_prefix_inference():
    assert dspy.infer_prefix("camelCaseText") == "Camel Case Text"
    assert dspy.infer_prefix("snake_case_text") == "Snake Case Text"
    assert dspy.infer_prefix("text2number") == "Text 2 Number"
    assert dspy.infer_prefix("HTMLParser") == "HTML Parser"


def test_class_api_returns_new_classes_and_never_mutates():
    before = QA.dump_state()
    a = QA.with_instructions("New.")
    b = QA.append_instructions("More.")
    c = QA.with_updated_fields("answer", desc="updated", type_=float)
    d = QA.prepend("reasoning", dspy.OutputField(), str)
    e = QA.append("extra", dspy.InputField(), str)
    f = QA.insert(1, "mid", dspy.InputField(), int)
    g = QA.delete("context")
    assert QA.dump_state() == before
    assert a.instructions == "New."
    assert b.instructions == "Answer questions with short factoid answers.\n\nMore."
    assert extra(c.fields["answer"])["desc"] == "updated" and c.fields["answer"].annotation is float
    assert list(d.output_fields) == ["reasoning", "answer"]
    assert list(e.input_fields) == ["question", "context", "extra"]
    assert list(f.input_fields) == ["question", "mid", "context"]
    assert list(g.fields) == ["question", "answer"]
    assert g.delete("nope").fields.keys() == g.fields.keys()
    with pytest.raises(ValueError, match="Invalid index"):
        QA.insert(5, "x", dspy.InputField())


def test_derived_classes_are_named_string_signature_as_in_dspy():
    derived = {
        "with_instructions": QA.with_instructions("New."),
        "append_instructions": QA.append_instructions("More."),
        "with_updated_fields": QA.with_updated_fields("answer", desc="updated"),
        "prepend": QA.prepend("reasoning", dspy.OutputField()),
        "append": QA.append("extra", dspy.InputField()),
        "insert": QA.insert(0, "mid", dspy.InputField()),
        "delete": QA.delete("context"),
        "load_state": QA.load_state(QA.dump_state()),
        "chain_of_thought": dspy.ChainOfThought(QA).predict.signature,
    }
    for how, sig in derived.items():
        assert (sig.__name__, sig.__qualname__) == ("StringSignature", "StringSignature"), how
        assert repr(sig).startswith("StringSignature("), how
    assert QA.__name__ == "QA" and dspy.Predict(QA).signature is QA


def test_equals_compares_instructions_and_field_extras():
    assert QA.equals(QA.with_instructions(QA.instructions))
    assert not QA.equals(QA.with_instructions("other"))
    assert not QA.equals(QA.with_updated_fields("answer", desc="x"))
    assert not QA.equals("not a signature")


def test_dump_and_load_state_by_position():
    state = QA.dump_state()
    assert state == {
        "instructions": "Answer questions with short factoid answers.",
        "fields": [
            {"prefix": "Question:", "description": "${question}"},
            {"prefix": "Context:", "description": "may contain relevant facts"},
            {"prefix": "Answer:", "description": "a number"},
        ],
    }
    state["instructions"] = "Changed."
    state["fields"][2]["description"] = "changed"
    loaded = QA.load_state(state)
    assert loaded.instructions == "Changed."
    assert extra(loaded.fields["answer"])["desc"] == "changed"
    assert extra(QA.fields["answer"])["desc"] == "a number"


def test_json_form_round_trips_types_descriptions_and_constraints():
    class Rich(dspy.Signature):
        """Rich."""

        q: str = dspy.InputField(desc="question")
        k: int = dspy.InputField(default=3)
        maybe: Optional[str] = dspy.InputField()  # noqa: UP045
        label: Literal["a", "b"] = dspy.OutputField()
        score: float = dspy.OutputField(ge=0, le=1)
        tags: list[str] = dspy.OutputField(default=[])

    data = Rich.to_json()
    rebuilt = dspy.Signature.from_json(data)
    assert rebuilt.equals(Rich)
    assert {n: f.annotation for n, f in rebuilt.fields.items()} == {
        n: f.annotation for n, f in Rich.fields.items()
    }
    assert rebuilt.fields["k"].default == 3
    assert rebuilt.to_json() == data
    import json

    assert json.loads(json.dumps(data)) == data


def test_json_form_with_unknown_type_names_the_field():
    data = dspy.Signature("a -> items: list[Item]", custom_types={"Item": Item}).to_json()
    with pytest.raises(SignatureError) as info:
        dspy.Signature.from_json(data)
    assert info.value.field == "items"
    assert (
        dspy.Signature.from_json(data, custom_types={"Item": Item}).fields["items"].annotation == list[Item]
    )


def test_make_signature_from_dict_and_bad_values():
    sig = dspy.make_signature({"q": (str, dspy.InputField()), "a": dspy.OutputField()})
    assert list(sig.fields) == ["q", "a"]
    with pytest.raises(SignatureError, match="must be a type"):
        dspy.make_signature({"q": (3, dspy.InputField()), "a": dspy.OutputField()})
    with pytest.raises(SignatureError):
        dspy.make_signature({"q": "nope"})


def test_ensure_signature():
    assert dspy.ensure_signature(None) is None
    assert dspy.ensure_signature(QA) is QA
    assert dspy.ensure_signature("a -> b").signature == "a -> b"
    with pytest.raises(ValueError):
        dspy.ensure_signature(QA, "instructions")


def test_postponed_annotations_resolve():
    namespace: dict[str, Any] = {}
    exec(
        "from __future__ import annotations\nimport dspy_ash as dspy\n"
        "class S(dspy.Signature):\n    x: list[int] = dspy.InputField()\n    y: bool = dspy.OutputField()\n",
        namespace,
    )
    assert namespace["S"].fields["x"].annotation == list[int]


def test_deprecated_field_arguments_warn_on_every_use_at_the_callers_line():
    for _ in range(2):  # fields are built from cached prototypes; the warning must not be cached away
        with pytest.warns(DeprecationWarning, match="'prefix' argument") as record:
            dspy.InputField(prefix="X:")
        assert record[0].filename == __file__


def test_fields_built_from_the_same_arguments_are_independent():
    a, b = dspy.InputField(desc="d"), dspy.InputField(desc="d")
    a.json_schema_extra["desc"] = "changed"
    assert b.json_schema_extra["desc"] == "d"
    s1 = dspy.Signature("q -> a")
    s2 = dspy.Signature("q -> a")
    assert s1.fields["q"] is not s2.fields["q"]
