from __future__ import annotations

import enum
from typing import Any, Literal, Optional

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st

import dspy_ash as dspy
from dspy_ash.adapters._chat import ChatAdapter
from dspy_ash.adapters._json_adapter import JSONAdapter
from dspy_ash.adapters._parsing import parse_value
from dspy_ash.errors import AdapterParseError


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Item(pydantic.BaseModel):
    name: str
    qty: int


SIG = dspy.Signature("question -> answer: int, label: Literal['a', 'b']")


def test_tolerates_prose_missing_completed_and_out_of_order_fields():
    text = "Sure! Here you go.\n[[ ## label ## ]]\nb\n\n[[ ## answer ## ]]\n 42 \n"
    assert ChatAdapter().parse(SIG, text) == {"answer": 42, "label": "b"}


def test_first_occurrence_wins_and_header_rest_of_line_counts():
    text = "[[ ## answer ## ]] 7\n[[ ## label ## ]]\na\n[[ ## answer ## ]]\n9\n[[ ## completed ## ]]"
    assert ChatAdapter().parse(SIG, text) == {"answer": 7, "label": "a"}


def test_json_value_with_trailing_text_is_repaired():
    sig = dspy.Signature("q -> items: list[Item]", custom_types={"Item": Item})
    text = '[[ ## items ## ]]\n[{"name": "apple", "qty": 2}] and that is all'
    assert ChatAdapter().parse(sig, text)["items"] == [Item(name="apple", qty=2)]


def test_missing_field_raises_with_raw_reply_and_missing_names():
    with pytest.raises(AdapterParseError) as info:
        ChatAdapter().parse(SIG, "[[ ## answer ## ]]\n3")
    err = info.value
    assert err.lm_response == "[[ ## answer ## ]]\n3"
    assert err.missing_fields == ["label"]
    assert err.signature is SIG


def test_uncoercible_value_raises_parse_error():
    with pytest.raises(AdapterParseError, match="Failed to parse field answer"):
        ChatAdapter().parse(SIG, "[[ ## answer ## ]]\nmany\n[[ ## label ## ]]\na")


def test_optional_outputs_get_defaults():
    class S(dspy.Signature):
        q: str = dspy.InputField()
        a: str = dspy.OutputField()
        note: Optional[str] = dspy.OutputField()  # noqa: UP045
        tags: list[str] = dspy.OutputField(default=[])

    assert ChatAdapter().parse(S, "[[ ## a ## ]]\nx") == {"a": "x", "note": None, "tags": []}


def test_literal_enum_and_bool_coercion():
    assert parse_value("Literal['a']", Literal["a", "b"]) == "a"
    assert parse_value("'b'", Literal["a", "b"]) == "b"
    assert parse_value("2", Literal[1, 2]) == 2
    assert parse_value("red", Color) is Color.RED
    assert parse_value("BLUE", Color) is Color.BLUE
    assert parse_value("true", bool) is True
    assert parse_value("{'a': 1}", dict[str, int]) == {"a": 1}


def test_json_adapter_extracts_object_from_prose():
    text = 'Here is the JSON: {"answer": "5", "label": "b"} hope it helps {not json}'
    assert JSONAdapter().parse(SIG, text) == {"answer": 5, "label": "b"}
    with pytest.raises(AdapterParseError, match="cannot be serialized"):
        JSONAdapter().parse(SIG, "no json at all")


class _Sequence(dspy.BaseLM):
    """Replies from a list, recording the prompts it saw."""

    def __init__(self, replies: list[str]):
        super().__init__("seq")
        self.replies = list(replies)

    async def request(self, req):
        from dspy_ash.lm._types import Choice, LMResponse

        return LMResponse(choices=[Choice(text=self.replies.pop(0))])


def test_chat_failure_falls_back_to_json_adapter_with_one_more_call():
    lm = _Sequence(["no markers here", '{"answer": "ok"}'])
    with dspy.context(lm=lm):
        out = dspy.Predict("question -> answer")(question="q")
    assert out.answer == "ok"
    assert len(lm.history) == 2
    assert "Respond with a JSON object" in lm.history[1]["messages"][-1]["content"]


def test_fallback_failure_raises_parse_error_with_raw_reply():
    lm = _Sequence(["garbage", "more garbage"])
    with dspy.context(lm=lm), pytest.raises(AdapterParseError) as info:
        dspy.Predict("question -> answer")(question="q")
    assert info.value.lm_response == "more garbage"


def test_empty_reply_is_a_parse_error():
    lm = _Sequence(["", ""])
    with dspy.context(lm=lm), pytest.raises(AdapterParseError):
        dspy.Predict("question -> answer")(question="q")


# -- format -> parse round trips for every supported type --------------------------------------------

VALUES: dict[Any, Any] = {
    str: st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1)
    .map(str.strip)
    .filter(lambda s: s and "[[" not in s),
    int: st.integers(-(10**9), 10**9),
    float: st.floats(allow_nan=False, allow_infinity=False, width=32),
    bool: st.booleans(),
    list[int]: st.lists(st.integers(-1000, 1000), max_size=5),
    dict[str, int]: st.dictionaries(
        st.text(alphabet="abcxyz", min_size=1, max_size=4), st.integers(), max_size=4
    ),
    Literal["x", "y z"]: st.sampled_from(["x", "y z"]),
    Color: st.sampled_from(list(Color)),
    Optional[int]: st.one_of(st.none(), st.integers()),  # noqa: UP045
    Item: st.builds(Item, name=st.text(alphabet="abc", min_size=1), qty=st.integers(0, 99)),
    list[Item]: st.lists(
        st.builds(Item, name=st.text(alphabet="abc", min_size=1), qty=st.integers(0, 99)), max_size=3
    ),
}


@pytest.mark.parametrize("adapter", [ChatAdapter(), JSONAdapter()], ids=["chat", "json"])
@pytest.mark.parametrize("tp", list(VALUES), ids=[str(t) for t in VALUES])
def test_format_parse_round_trip(adapter, tp):
    sig = dspy.make_signature({"q": (str, dspy.InputField()), "out": (tp, dspy.OutputField())})

    @given(VALUES[tp])
    def check(value):
        if value is None and isinstance(adapter, ChatAdapter):
            return  # "None" text parses back as None only through JSON; the chat format has no null
        text = adapter.format_assistant_message_content(sig, {"out": value})
        parsed = adapter.parse(sig, text)["out"]
        if tp is Color:
            assert parsed is value
        elif tp is float:
            assert parsed == pytest.approx(value)
        else:
            assert parsed == value

    check()
