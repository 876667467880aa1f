"""DSPy's adapter types against the real dspy 3.4.1 (the oracle): the same signature, demos and inputs built
from each library's own Image / Audio / File / Document / Code / Reasoning / Citations / custom `Type` give
the same message lists (content-part lists included) from ChatAdapter, JSONAdapter and XMLAdapter, and the
same reply parses to the same values."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import dspy as _dspy  # the oracle, a test dependency: absent must fail, not skip
import pydantic
import pytest

import dspy_ash

dspy: Any = _dspy
ash: Any = dspy_ash

pytestmark = pytest.mark.oracle

PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n fake").decode()
PDF = "data:application/pdf;base64," + base64.b64encode(b"%PDF-1.4 fake").decode()

Case = tuple[dict[str, Any], str, list[dict[str, Any]], dict[str, Any]]  # fields, instructions, demos, inputs


def _experimental(d: Any) -> Any:
    import importlib

    return importlib.import_module(f"{d.__name__}.experimental")


def multimodal_inputs(d: Any) -> Case:
    doc = _experimental(d).Document
    fields = {
        "image": (d.Image, d.InputField()),
        "audio": (d.Audio, d.InputField(desc="a clip")),
        "file": (d.File, d.InputField()),
        "report": (d.File, d.InputField()),
        "document": (doc, d.InputField()),
        "answer": (str, d.OutputField()),
    }
    inputs = {
        "image": d.Image("https://example.com/cat.png"),
        "audio": d.Audio(data="QUJD", audio_format="wav"),
        "file": d.File.from_file_id("file-123", filename="notes.txt"),
        "report": d.File(PDF),
        "document": doc(data="Alpha beta", title="Doc", context="ctx"),
    }
    return fields, "Describe everything.", [], inputs


def images_in_lists_and_models(d: Any) -> Case:
    photos: Any = list[d.Image]
    album = pydantic.create_model("Album", title=(str, ...), photos=(photos, ...))
    fields = {
        "gallery": (list[d.Image], d.InputField()),
        "album": (album, d.InputField()),
        "maybe": (d.Image | None, d.InputField()),
        "caption": (str, d.OutputField()),
    }
    inputs = {
        "gallery": [d.Image(PNG), d.Image("https://example.com/b.jpg")],
        "album": album(title="Trip", photos=[d.Image("gs://bucket/c.png")]),
        "maybe": None,
    }
    return fields, "Caption the images.", [], inputs


def demos_with_images(d: Any) -> Case:
    fields = {"image": (d.Image, d.InputField()), "label": (str, d.OutputField())}
    demos = [
        {"image": d.Image("https://example.com/1.png"), "label": "one"},
        {"image": d.Image(PNG)},  # incomplete: left out
        {"image": d.Image("https://example.com/2.png"), "label": None},  # incomplete but kept
    ]
    return fields, "Label it.", demos, {"image": d.Image("https://example.com/3.png")}


def history_with_images(d: Any) -> Case:
    fields = {
        "history": (d.History, d.InputField()),
        "image": (d.Image, d.InputField()),
        "answer": (str, d.OutputField()),
    }
    history = d.History(
        messages=[
            {"image": d.Image("https://example.com/old.png"), "answer": "a dog"},
            {"answer": "only an answer"},
        ]
    )
    return fields, "Answer.", [], {"history": history, "image": d.Image(PNG)}


def custom_type(d: Any) -> Case:
    class Event(d.Type):
        label: str

        def format(self) -> list[dict[str, Any]]:
            return [{"type": "event", "event": {"label": self.label}}]

        @classmethod
        def description(cls) -> str:
            return "An event block."

    class Note(d.Type):  # formats as text: written into the prompt as is
        text: str

        def format(self) -> str:
            return f"NOTE: {self.text}"

    fields = {
        "event": (Event, d.InputField()),
        "events": (list[Event], d.InputField()),
        "note": (Note, d.InputField()),
        "answer": (str, d.OutputField()),
    }
    inputs = {
        "event": Event(label="launch"),
        "events": [Event(label="a"), Event(label="b")],
        "note": Note(text="hi"),
    }
    return fields, "Summarize.", [], inputs


def code_and_reasoning(d: Any) -> Case:
    fields = {
        "snippet": (d.Code["python"], d.InputField()),
        "reasoning": (d.Reasoning, d.OutputField()),
        "fixed": (d.Code["java"], d.OutputField()),
    }
    demos = [
        {
            "snippet": d.Code["python"](code="print(1)"),
            "reasoning": d.Reasoning(content="Think"),
            "fixed": d.Code["java"](code="System.out.println(1);"),
        }
    ]
    return fields, "Port the code.", demos, {"snippet": "```python\nx = 1\n```"}


def citations_output(d: Any) -> Case:
    exp = _experimental(d)
    fields = {
        "documents": (list[exp.Document], d.InputField()),
        "question": (str, d.InputField()),
        "answer": (str, d.OutputField()),
        "citations": (exp.Citations, d.OutputField()),
    }
    demos = [
        {
            "documents": [exp.Document(data="Sky is blue.")],
            "question": "Color?",
            "answer": "Blue.",
            "citations": exp.Citations.from_dict_list(
                [
                    {
                        "cited_text": "Sky is blue.",
                        "document_index": 0,
                        "start_char_index": 0,
                        "end_char_index": 12,
                    }
                ]
            ),
        }
    ]
    inputs = {"documents": [exp.Document(data="Grass is green.", title="G")], "question": "Grass?"}
    return fields, "Answer with citations.", demos, inputs


CASES: list[Callable[[Any], Case]] = [
    multimodal_inputs,
    images_in_lists_and_models,
    demos_with_images,
    history_with_images,
    custom_type,
    code_and_reasoning,
    citations_output,
]
ADAPTERS = ["ChatAdapter", "JSONAdapter", "XMLAdapter"]


def _format(d: Any, adapter: str, case: Callable[[Any], Case]) -> list[dict[str, Any]]:
    fields, instructions, demos, inputs = case(d)
    signature = d.Signature(fields, instructions)
    return getattr(d, adapter)().format(signature, demos, inputs)


@pytest.mark.parametrize("adapter", ADAPTERS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
def test_messages_equal_dspys(adapter: str, case: Callable[[Any], Case]) -> None:
    ours = _format(ash, adapter, case)
    theirs = _format(dspy, adapter, case)
    assert ours == theirs
    assert any(isinstance(m["content"], list) for m in ours) or case in (code_and_reasoning,)


def test_the_user_message_is_split_around_each_value() -> None:
    messages = _format(ash, "ChatAdapter", multimodal_inputs)
    kinds = [part["type"] for part in messages[-1]["content"]]
    assert kinds == [
        "text",
        "image_url",
        "text",
        "input_audio",
        "text",
        "file",
        "text",
        "file",
        "text",
        "document",
        "text",
    ]
    assert messages[-1]["content"][7] == {"type": "file", "file": {"file_data": PDF}}


REPLIES = [
    (
        code_and_reasoning,
        "[[ ## reasoning ## ]]\nLet me see\n\n[[ ## fixed ## ]]\n```java\nint x = 1;\n```\n\n[[ ## completed ## ]]",
    ),
    (
        code_and_reasoning,
        "[[ ## reasoning ## ]]\nshort\n\n[[ ## fixed ## ]]\nint y = 2;\n\n[[ ## completed ## ]]",
    ),
    (
        citations_output,
        '[[ ## answer ## ]]\nGreen.\n\n[[ ## citations ## ]]\n[{"cited_text": "Grass is green.", "document_index": 0, '
        '"start_char_index": 0, "end_char_index": 15}]\n\n[[ ## completed ## ]]',
    ),
]


def _plain(value: Any) -> Any:
    return value.model_dump() if isinstance(value, pydantic.BaseModel) else value


@pytest.mark.parametrize(("case", "reply"), REPLIES)
def test_replies_parse_to_dspys_values(case: Callable[[Any], Case], reply: str) -> None:
    def parse(d: Any) -> dict[str, Any]:
        fields, instructions, _, _ = case(d)
        return d.ChatAdapter().parse(d.Signature(fields, instructions), reply)

    ours, theirs = parse(ash), parse(dspy)
    assert {k: _plain(v) for k, v in ours.items()} == {k: _plain(v) for k, v in theirs.items()}
    assert [type(v).__name__ for v in ours.values()] == [type(v).__name__ for v in theirs.values()]


def test_code_output_is_named_with_its_language_and_has_no_schema_note() -> None:
    system = _format(ash, "ChatAdapter", code_and_reasoning)[0]["content"]
    assert "2. `fixed` (Code_java): \n    Type description of Code_java:" in system
    assert "JSON schema" not in system
    assert "1. `reasoning` (str): \n" in system  # Reasoning reads as a string


class _Stop(BaseException):
    """Raised by the capturing LM: the test needs what was sent, not a reply."""


def _sent(d: Any, adapter: Any, case: Callable[[Any], Case], model: str, abilities: dict[str, bool]) -> Any:
    """The messages and keyword arguments the adapter hands to an LM of `model` with these abilities."""
    calls: list[tuple[Any, dict[str, Any]]] = []

    class Capturing(d.BaseLM):  # a DSPy-style custom LM: it answers by overriding __call__
        supports_function_calling = abilities.get("function_calling", False)
        supports_reasoning = abilities.get("reasoning", False)
        supports_response_schema = False
        supported_params: frozenset[str] = frozenset()

        def __call__(self, messages: Any = None, **kwargs: Any) -> Any:
            calls.append((messages, kwargs))
            raise _Stop

    fields, instructions, demos, inputs = case(d)
    with pytest.raises(_Stop):
        adapter(Capturing(model=model), {}, d.Signature(fields, instructions), demos, inputs)
    return calls[0]


def tool_history(d: Any) -> Case:
    def search(query: str) -> str:
        """Search the web."""
        return query

    call = d.ToolCalls.ToolCall(id="call_1", name="search", args={"query": "cats"})
    results = d.ToolCallResults.from_tool_calls_and_values([call], [{"items": ["cat"]}])
    fields = {
        "question": (str, d.InputField()),
        "history": (d.History, d.InputField()),
        "tools": (list[d.Tool], d.InputField()),
        "next_thought": (d.Reasoning, d.OutputField()),
        "tool_calls": (d.ToolCalls, d.OutputField()),
    }
    history = d.History(
        messages=[
            {
                "question": "Q1",
                "next_thought": d.Reasoning(content="I should search."),
                "tool_calls": d.ToolCalls(tool_calls=[call], tool_call_results=results),
            },
            {"tool_calls": d.ToolCalls(tool_calls=[call])},  # no results: nothing to replay natively
        ]
    )
    return fields, "Use the tools.", [], {"question": "Q2", "history": history, "tools": [d.Tool(search)]}


def reasoning_and_citations(d: Any) -> Case:
    exp = _experimental(d)
    fields = {
        "documents": (list[exp.Document], d.InputField()),
        "reasoning": (d.Reasoning, d.OutputField()),
        "answer": (str, d.OutputField()),
        "citations": (exp.Citations, d.OutputField()),
    }
    return fields, "Answer.", [], {"documents": [exp.Document(data="Doc text.", title="T")]}


@pytest.mark.parametrize(
    ("case", "adapter", "model", "abilities"),
    [
        (tool_history, {"use_native_function_calling": True}, "openai/gpt-4o", {"function_calling": True}),
        (tool_history, {"use_native_function_calling": False}, "openai/gpt-4o", {"function_calling": True}),
        (reasoning_and_citations, {}, "anthropic/claude-sonnet-4-5", {}),
        (reasoning_and_citations, {}, "openai/o3-mini", {"reasoning": True}),
        (reasoning_and_citations, {}, "openai/gpt-4o", {}),
    ],
)
def test_native_features_send_what_dspy_sends(
    case: Callable[[Any], Case], adapter: dict[str, Any], model: str, abilities: dict[str, bool]
) -> None:
    ours = _sent(ash, ash.ChatAdapter(**adapter), case, model, abilities)
    theirs = _sent(dspy, dspy.ChatAdapter(**adapter), case, model, abilities)
    assert ours == theirs


def test_pil_images_encode_as_dspy_encodes_them() -> None:
    pil: Any = pytest.importorskip("PIL.Image")  # the `media` extra
    picture = pil.new("RGB", (3, 3), color="blue")
    assert ash.Image(picture).url == dspy.Image(picture).url
    assert ash.Image(picture).format() == dspy.Image(picture).format()
