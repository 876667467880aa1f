"""XMLAdapter against the real dspy 3.4.1 (the oracle, test extra): the same signatures, demos and history give
the same message lists byte for byte, and the same replies parse to the same values or the same error."""

from __future__ import annotations

import enum
from typing import Any

import dspy as _dspy  # the oracle, a test dependency: absent must fail, not skip
import pydantic
import pytest
from dspy.utils.dummies import DummyLM as _OracleDummyLM
from typing_extensions import TypedDict

import dspy_ash
from dspy_ash.testing import DummyLM

# DSPy's own annotations are not ours to hold to strict typing: the oracle is used untyped.
dspy: Any = _dspy
OracleDummyLM: Any = _OracleDummyLM

pytestmark = pytest.mark.oracle


class Mood(enum.Enum):
    HAPPY = "happy"
    SAD = "sad"


class Address(pydantic.BaseModel):
    city: str
    zip_code: str | None = None


class Person(pydantic.BaseModel):
    name: str
    age: int
    address: Address | None = None
    tags: list[str] = []


class Node(pydantic.BaseModel):  # recursive: the schema skeleton must stop at the second visit
    value: int
    children: list[Node] = []


class Point(TypedDict):
    x: int
    y: int


CUSTOM = {"Node": Node, "Mood": Mood, "Person": Person, "Address": Address, "Point": Point}

SIGNATURES = [
    "question: str -> answer: str",
    "question: str, context: list[str] -> answer: str, score: float",
    "topic: str, n: int -> items: list[str], flag: bool",
    "text: str -> mood: Mood, label: Literal['x', 'y']",
    "text: str -> count: Optional[int], notes: str",
    "text: str -> person: Person",
    "text: str -> people: list[Person], extra: dict[str, int]",
    "text: str -> maybe: Optional[Person]",
    "text: str -> point: Point",
    "person: Person, points: list[Point] -> summary: str",
    "text: str -> tree: Node",
]

INPUTS: dict[str, Any] = {
    "question": "What is 2 < 3 & why?",
    "context": ["first passage", "second\npassage"],
    "topic": "birds",
    "n": 3,
    "text": "hello <b>world</b>",
    "person": Person(name="Ann", age=30, address=Address(city="Oslo")),
    "points": [{"x": 1, "y": 2}],
}
OUTPUTS: dict[str, Any] = {
    "answer": "yes & <no>",
    "score": 0.5,
    "items": ["a", "b & c"],
    "flag": True,
    "mood": Mood.SAD,
    "label": "x",
    "count": None,
    "notes": "multi\nline",
    "person": Person(name="Bo", age=2, tags=["t1", "t2"]),
    "people": [
        Person(name="Bo", age=2),
        Person(name="Cy", age=5, address=Address(city="Rome", zip_code="001")),
    ],
    "extra": {"a": 1, "not valid-key!": 2},
    "maybe": Person(name="Di", age=9),
    "point": {"x": 3, "y": 4},
    "summary": "done",
    "tree": Node(value=1, children=[Node(value=2), Node(value=3, children=[Node(value=4)])]),
}


def _pair(text: str, instructions: str | None = None):
    return (
        dspy.Signature(text, instructions, custom_types=CUSTOM),
        dspy_ash.Signature(text, instructions, custom_types=CUSTOM),
    )


@pytest.mark.parametrize("text", SIGNATURES)
@pytest.mark.parametrize("demo_kind", ["none", "complete", "partial_and_complete"])
def test_messages_match_dspy(text, demo_kind):
    o_sig, a_sig = _pair(text, "Do it well.\n  Indented line two.")
    inputs = {k: INPUTS[k] for k in a_sig.input_fields}
    full = {**inputs, **{k: OUTPUTS[k] for k in a_sig.output_fields}}
    first_in, first_out = next(iter(a_sig.input_fields)), next(iter(a_sig.output_fields))
    partial = {first_in: inputs[first_in], first_out: full[first_out]}
    demos = {"none": [], "complete": [full], "partial_and_complete": [partial, full]}[demo_kind]
    o_msgs = dspy.XMLAdapter().format(o_sig, [dspy.Example(**d) for d in demos], inputs)
    a_msgs = dspy_ash.XMLAdapter().format(a_sig, [dspy_ash.Example(**d) for d in demos], inputs)
    assert a_msgs == o_msgs


def test_history_messages_match_dspy():
    text = "question: str, history: History -> answer: str, items: list[str]"
    o_sig = dspy.Signature(text, custom_types={"History": dspy.History})
    a_sig = dspy_ash.Signature(text, custom_types={"History": dspy_ash.History})
    turns = [
        {"question": "first?", "answer": "one", "items": ["x"]},
        {"question": "second?", "answer": "two & three", "items": []},
    ]
    o_msgs = dspy.XMLAdapter().format(
        o_sig, [], {"question": "third?", "history": dspy.History(messages=turns)}
    )
    a_msgs = dspy_ash.XMLAdapter().format(
        a_sig, [], {"question": "third?", "history": dspy_ash.History(messages=turns)}
    )
    assert a_msgs == o_msgs


REPLIES = [
    ("question: str -> answer: str", "<answer>\nParis\n</answer>"),
    ("question: str -> answer: str", "  some preamble\n<answer>  spaced out  </answer>\n\ntrailing"),
    ("question: str -> answer: str", "<answer>a <b>bold</b> &amp; more</answer>"),
    ("question: str -> answer: str", "<answer>first</answer><answer>second</answer>"),
    ("question: str -> answer: str, score: float", "<answer>x</answer>\n<score> 0.75 </score>"),
    ("question: str -> answer: str, score: float", "<answer>x</answer>"),  # missing field
    ("question: str -> answer: str, score: float", "<answer>x</answer><score>high</score>"),  # bad float
    ("question: str -> answer: str", "<answer>unclosed"),  # malformed XML
    ("question: str -> answer: str", "[[ ## answer ## ]]\nParis"),  # no tags at all
    (
        "topic: str -> items: list[str], flag: bool",
        "<items><item>a</item><item>b</item></items><flag>true</flag>",
    ),
    ("topic: str -> items: list[str], flag: bool", '<items>["a", "b"]</items><flag>False</flag>'),
    ("topic: str -> items: list[str], flag: bool", "<items></items><flag>True</flag>"),
    ("topic: str -> items: list[str], flag: bool", "<items>a</items><items>b</items><flag>True</flag>"),
    ("text: str -> mood: Mood, label: Literal['x', 'y']", "<mood>happy</mood><label> y </label>"),
    ("text: str -> mood: Mood, label: Literal['x', 'y']", "<mood>angry</mood><label>y</label>"),
    ("text: str -> count: Optional[int], notes: str", "<count></count><notes>n</notes>"),
    ("text: str -> count: Optional[int], notes: str", "<count>7</count><notes>n</notes>"),
    ("text: str -> count: Optional[int], notes: str", "<notes>n</notes>"),  # Optional may be absent
    (
        "text: str -> person: Person",
        "<person><name>Bo</name><age>2</age><address><city>Oslo</city></address>"
        "<tags><item>a</item></tags></person>",
    ),
    ("text: str -> person: Person", '<person>{"name": "Bo", "age": 2}</person>'),
    ("text: str -> person: Person", "<person><name>Bo</name></person>"),  # missing required key
    (
        "text: str -> people: list[Person], extra: dict[str, int]",
        "<people><item><name>A</name><age>1</age></item><item><name>B</name><age>2</age></item></people>"
        '<extra><a>1</a><entry key="not valid-key!">2</entry></extra>',
    ),
    ("text: str -> maybe: Optional[Person]", "<maybe></maybe>"),
    ("text: str -> maybe: Optional[Person]", "<maybe><name>Di</name><age>9</age></maybe>"),
    ("text: str -> point: Point", "<point><x>1</x><y> 2 </y></point>"),
    (
        "text: str -> tree: Node",
        "<tree><value>1</value><children><item><value>2</value></item></children></tree>",
    ),
]


def _outcome(adapter: Any, signature: Any, reply: str) -> tuple[str, Any]:
    try:
        parsed = adapter.parse(signature, reply)
    except Exception as exc:
        return "error", type(exc).__name__
    return "ok", {k: v.model_dump() if isinstance(v, pydantic.BaseModel) else v for k, v in parsed.items()}


def _dump(value: Any) -> Any:
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump()
    if isinstance(value, list):
        return [_dump(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    return value


@pytest.mark.parametrize(("text", "reply"), REPLIES)
def test_parse_matches_dspy(text, reply):
    o_sig, a_sig = _pair(text)
    o_kind, o_result = _outcome(dspy.XMLAdapter(), o_sig, reply)
    a_kind, a_result = _outcome(dspy_ash.XMLAdapter(), a_sig, reply)
    assert a_kind == o_kind, (a_result, o_result)
    if o_kind == "ok":
        assert {k: _dump(v) for k, v in a_result.items()} == {k: _dump(v) for k, v in o_result.items()}
        assert {k: type(v).__name__ for k, v in a_result.items()} == {
            k: type(v).__name__ for k, v in o_result.items()
        }
    else:
        assert a_result == o_result == "AdapterParseError"


def test_formatted_outputs_parse_back():
    """What the adapter writes for an output (a demo's assistant turn) it reads back as the same value."""
    adapter = dspy_ash.XMLAdapter()
    for text in SIGNATURES:
        _, sig = _pair(text)
        outputs = {k: OUTPUTS[k] for k in sig.output_fields}
        parsed = adapter.parse(sig, adapter.format_assistant_message_content(sig, outputs))
        assert {k: _dump(v) for k, v in parsed.items()} == {k: _dump(v) for k, v in outputs.items()}, text


def test_unparseable_reply_falls_back_to_json_like_dspy():
    """A reply with no XML tags is retried once with JSONAdapter (as in DSPy); with the fallback off it
    raises AdapterParseError."""
    sig = dspy_ash.Signature("question -> answer")
    lm = DummyLM([{"answer": "from json"}] * 2, adapter=dspy_ash.JSONAdapter())  # replies in JSON
    with dspy_ash.context(lm=lm, adapter=dspy_ash.XMLAdapter()):
        assert dspy_ash.Predict(sig)(question="q").answer == "from json"
    assert lm.history[-1]["messages"][-1]["content"].startswith("[[ ## question ## ]]")  # JSON's prompt
    with (
        dspy_ash.context(
            lm=DummyLM([{"answer": "x"}], adapter=dspy_ash.JSONAdapter()),
            adapter=dspy_ash.XMLAdapter(use_json_adapter_fallback=False),
        ),
        pytest.raises(dspy_ash.AdapterParseError, match="XMLAdapter"),
    ):
        dspy_ash.Predict(sig)(question="q")


def test_predict_round_trip_through_dummy_lm():
    sig = dspy_ash.Signature("question -> answer, people: list[Person]", custom_types=CUSTOM)
    lm = DummyLM([{"answer": "ok", "people": [{"name": "A", "age": 1}]}], adapter=dspy_ash.XMLAdapter())
    with dspy_ash.context(lm=lm, adapter=dspy_ash.XMLAdapter()):
        out = dspy_ash.Predict(sig)(question="q")
    assert out.answer == "ok" and out.people == [Person(name="A", age=1)]
    assert "wrapped in XML tags `<answer>`, then `<people>`" in lm.history[-1]["messages"][-1]["content"]


def test_dummy_lm_replies_in_xml_like_dspy():
    """DummyLM given an XMLAdapter writes its scripted answers as XML, as DSPy's does, and they parse back."""
    o_sig, a_sig = _pair("question -> answer, score: float")
    answers = [{"answer": "Paris", "score": 0.5}]
    o_lm = OracleDummyLM(answers, adapter=dspy.XMLAdapter())
    a_lm = DummyLM(answers, adapter=dspy_ash.XMLAdapter())
    with dspy.context(lm=o_lm, adapter=dspy.XMLAdapter()):
        o_out = dspy.Predict(o_sig)(question="q")
    with dspy_ash.context(lm=a_lm, adapter=dspy_ash.XMLAdapter()):
        a_out = dspy_ash.Predict(a_sig)(question="q")
    assert (
        a_lm.history[-1]["outputs"]
        == o_lm.history[-1]["outputs"]
        == ["<answer>\nParis\n</answer>\n\n<score>\n0.5\n</score>"]
    )
    assert a_out.toDict() == o_out.toDict() == {"answer": "Paris", "score": 0.5}
