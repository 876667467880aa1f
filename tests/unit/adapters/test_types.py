"""The adapter types on their own: what construction accepts and refuses (never touching files or the
network), how values serialize into the prompt and back out of replies, and the native-feature hooks."""

from __future__ import annotations

import base64
import builtins
import json
from pathlib import Path
from typing import Any

import pydantic
import pytest

import dspy_ash as dspy
from dspy_ash.adapters.types import _resources
from dspy_ash.adapters.types._base_type import (
    CUSTOM_TYPE_END_IDENTIFIER,
    CUSTOM_TYPE_START_IDENTIFIER,
    split_custom_type_content,
    split_message_content_for_custom_types,
)
from dspy_ash.errors import DspyAshError, InvalidInputError, SignatureError
from dspy_ash.experimental import Citations, Document


@pytest.fixture
def no_host_io(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("touched the filesystem or the network")

    monkeypatch.setattr(builtins, "open", refuse)
    monkeypatch.setattr(_resources, "download", refuse)


@pytest.mark.parametrize(
    ("make", "value"),
    [
        (dspy.Image, "/etc/passwd"),
        (dspy.Image, {"url": "file:///etc/passwd"}),
        (dspy.Audio, "/etc/passwd"),
        (dspy.Audio, "https://example.com/a.wav"),
        (dspy.File, "/etc/passwd"),
    ],
)
def test_locators_are_refused_without_host_io(no_host_io: None, make: Any, value: Any) -> None:
    with pytest.raises((InvalidInputError, pydantic.ValidationError)):
        make(value)
    with pytest.raises((InvalidInputError, pydantic.ValidationError)):
        pydantic.TypeAdapter(make).validate_python(value)


def test_image_keeps_remote_urls_as_references_and_refuses_download_from_data(no_host_io: None) -> None:
    assert dspy.Image("https://example.com/a.png").url == "https://example.com/a.png"
    assert dspy.Image({"url": "gs://bucket/a.png"}).url == "gs://bucket/a.png"
    # an LM reply (validated data) can never ask for a fetch
    with pytest.raises(pydantic.ValidationError, match="only valid with a positional image source"):
        pydantic.TypeAdapter(dspy.Image).validate_python({"url": "http://169.254.169.254/", "download": True})
    with pytest.raises(TypeError, match="only valid with a positional image source"):
        dspy.Image(url="http://169.254.169.254/", download=True)
    with pytest.raises(TypeError, match="both `source` and `url`"):
        dspy.Image("https://a.example/x.png", url="https://b.example/y.png")


def test_errors_are_dspy_ash_errors_with_dspys_base_classes() -> None:
    with pytest.raises(InvalidInputError, match=r"Image\.from_path") as caught:
        dspy.Image("photo.png")
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, DspyAshError)
    with pytest.raises(InvalidInputError, match="File not found"):
        dspy.Image.from_path("/nonexistent/x.png")


def test_explicit_factories_read_files(tmp_path: Path) -> None:
    png, wav, txt = tmp_path / "a.png", tmp_path / "a.wav", tmp_path / "notes.txt"
    png.write_bytes(b"png bytes")
    wav.write_bytes(b"wav bytes")
    txt.write_bytes(b"text bytes")
    assert (
        dspy.Image.from_path(str(png)).url
        == "data:image/png;base64," + base64.b64encode(b"png bytes").decode()
    )
    assert dspy.Audio.from_path(str(wav)) == dspy.Audio(
        data=base64.b64encode(b"wav bytes").decode(), audio_format="wav"
    )
    file = dspy.File.from_path(str(txt))
    assert (
        file.filename == "notes.txt"
        and file.file_data == "data:text/plain;base64," + base64.b64encode(b"text bytes").decode()
    )
    with pytest.warns(DeprecationWarning, match="from_file is deprecated"):
        dspy.Audio.from_file(str(wav))


def test_from_url_downloads_with_the_content_type(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake_download(url: str, verify: bool, timeout: float | None) -> tuple[bytes, str]:
        seen.update(url=url, verify=verify, timeout=timeout)
        return b"remote", "image/webp"

    monkeypatch.setattr(_resources, "download", fake_download)
    image = dspy.Image.from_url("https://example.com/x", verify=False)
    assert image.url == "data:image/webp;base64," + base64.b64encode(b"remote").decode()
    assert seen == {"url": "https://example.com/x", "verify": False, "timeout": 30.0}
    with pytest.raises(InvalidInputError, match="HTTP"):
        dspy.Image.from_url("ftp://example.com/x")


def test_audio_constructors() -> None:
    assert dspy.Audio("data:audio/x-wav;base64,AA==") == dspy.Audio(data="AA==", audio_format="wav")
    assert dspy.Audio(b"ab", audio_format="mp3").data == base64.b64encode(b"ab").decode()
    with pytest.raises(TypeError, match="already carries its format"):
        dspy.Audio("data:audio/wav;base64,AA==", audio_format="mp3")
    assert (
        repr(dspy.Audio(data="AAAA", audio_format="wav"))
        == "Audio(data=<AUDIO_BASE_64_ENCODED(4)>, audio_format='wav')"
    )


def test_file_constructors_and_format() -> None:
    assert dspy.File(b"x").format() == [
        {"type": "file", "file": {"file_data": "data:application/octet-stream;base64,eA=="}}
    ]
    assert dspy.File.from_file_id("f1").format() == [{"type": "file", "file": {"file_id": "f1"}}]
    with pytest.raises(TypeError, match="file_data"):
        dspy.File(b"x", file_data="data:text/plain;base64,eA==")
    with pytest.raises(InvalidInputError, match="at least one of"):
        dspy.File({"other": 1})
    assert (
        repr(dspy.File.from_bytes(b"abc", mime_type="text/plain"))
        == "File(file_data=<DATA_URI(text/plain, 4 chars)>)"
    )


def test_marked_serialization_and_splitting_round_trip_through_nesting() -> None:
    image = dspy.Image("https://example.com/a.png")
    parts = [{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]
    marked = f"{CUSTOM_TYPE_START_IDENTIFIER}{json.dumps(parts)}{CUSTOM_TYPE_END_IDENTIFIER}"
    assert str(image) == marked
    # inside a JSON field the marked string is JSON-encoded a second time: the split still finds the parts
    nested = json.dumps({"photos": [image.model_dump()]})
    assert split_custom_type_content(f"see {nested}") == [
        {"type": "text", "text": 'see {"photos": ["'},
        *parts,
        {"type": "text", "text": '"]}'},
    ]
    assert split_custom_type_content("no values here") is None
    messages = [{"role": "system", "content": marked}, {"role": "user", "content": marked}]
    split_message_content_for_custom_types(messages)
    assert messages == [{"role": "system", "content": marked}, {"role": "user", "content": parts}]


def test_a_payload_that_is_not_json_stays_text() -> None:
    text = f"a{CUSTOM_TYPE_START_IDENTIFIER}not json at all{CUSTOM_TYPE_END_IDENTIFIER}b"
    assert split_custom_type_content(text) == [
        {"type": "text", "text": "a"},
        {"type": "text", "text": "not json at all"},
        {"type": "text", "text": "b"},
    ]


def test_custom_types_are_found_at_any_depth() -> None:
    class Event(dspy.Type):
        model_config = pydantic.ConfigDict(frozen=True)
        label: str

    assert dspy.Type.extract_custom_type_from_annotation(dict[str, list[Event | None]]) == [Event]
    assert dspy.Type.extract_custom_type_from_annotation(list[dspy.Tool]) == [dspy.Tool]
    assert dspy.Type.extract_custom_type_from_annotation(list[int]) == []


def test_code_strips_fences_and_names_its_language() -> None:
    assert dspy.Code(code="```python\nx = 1\n```").code == "x = 1"
    assert dspy.Code(code="Here:\n```\ny = 2\n```\nDone.").code == "y = 2"
    assert dspy.Code(code="```z = 3```").code == "z = 3"
    java = dspy.Code["java"]
    assert java is dspy.Code["java"] and java.__name__ == "Code_java" and java.language == "java"
    assert "```java\n{code}\n```" in java.description()
    with pytest.raises(pydantic.ValidationError, match="must be a string"):
        dspy.Code(code=1)  # pyright: ignore[reportArgumentType]


def test_reasoning_reads_as_a_string() -> None:
    reasoning = dspy.Reasoning(content="  Step one  ")
    assert reasoning == "  Step one  " and reasoning.strip() == "Step one" and "one" in reasoning
    assert reasoning + "!" == "  Step one  !" and isinstance(reasoning + reasoning, dspy.Reasoning)
    with pytest.raises(AttributeError, match="`Reasoning` object has no attribute 'nope'"):
        reasoning.nope  # noqa: B018


class _LM:
    def __init__(self, model: str, supports_reasoning: bool = True, **kwargs: Any) -> None:
        self.model, self.supports_reasoning, self.kwargs, self.model_type = (
            model,
            supports_reasoning,
            kwargs,
            "chat",
        )


class _Sig(dspy.Signature):
    question: str = dspy.InputField()
    reasoning: dspy.Reasoning = dspy.OutputField()
    answer: str = dspy.OutputField()
    citations: Citations = dspy.OutputField()


def test_native_reasoning_is_asked_for_only_when_the_lm_can_reason() -> None:
    kwargs: dict[str, Any] = {}
    adapted = dspy.ChatAdapter()._call_preprocess(_LM("openai/o3-mini"), kwargs, _Sig, {})
    assert list(adapted.output_fields) == ["answer", "citations"] and kwargs == {"reasoning_effort": "low"}
    for lm, call_kwargs in [
        (_LM("openai/o3-mini", reasoning_effort=None), {}),
        (_LM("openai/o3-mini"), {"reasoning_effort": None}),
        (_LM("openai/gpt-4o", supports_reasoning=False), {}),
        (_LM("openai/gpt-5-mini"), {}),
    ]:
        assert "reasoning" in dspy.ChatAdapter()._call_preprocess(lm, call_kwargs, _Sig, {}).output_fields


def test_native_citations_with_anthropic_are_read_from_the_output() -> None:
    adapter = dspy.ChatAdapter()
    processed = adapter._call_preprocess(
        _LM("anthropic/claude-sonnet-4-5", supports_reasoning=False), {}, _Sig, {}
    )
    assert list(processed.output_fields) == ["reasoning", "answer"]
    citation = {"cited_text": "x", "document_index": 0, "start_char_index": 0, "end_char_index": 1}
    output = {
        "text": "[[ ## reasoning ## ]]\nr\n\n[[ ## answer ## ]]\na\n\n[[ ## completed ## ]]",
        "citations": [citation],
        "reasoning_content": "native thoughts",
    }
    (value,) = adapter._call_postprocess(processed, _Sig, [output])
    assert value["answer"] == "a" and value["citations"] == Citations.from_dict_list([citation])
    assert value["reasoning"] == "native thoughts"  # the native reasoning wins over the parsed text
    assert Citations.parse_lm_response("plain text") is None


def test_document_and_citations_validate_their_shapes() -> None:
    assert Document.model_validate("text only").format()[0]["source"] == {
        "type": "text",
        "media_type": "text/plain",
        "data": "text only",
    }
    assert Document(data="JVBE", media_type="application/pdf").format()[0]["source"]["type"] == "base64"
    assert str(Document(data="abc", title="T")) == "Document('T': 3 chars)"
    assert Citations.__doc__ is not None and Citations.__doc__.startswith(
        "    Experimental: This class may change"
    )
    citation = {"cited_text": "x", "document_index": 0, "start_char_index": 0, "end_char_index": 1}
    assert len(Citations.model_validate(citation)) == 1
    assert Citations.model_validate({"citations": [citation]})[0].cited_text == "x"
    with pytest.raises(pydantic.ValidationError, match="invalid value for `Citations`"):
        Citations.model_validate("nope")


def test_signature_strings_name_the_types_through_the_module() -> None:
    signature = dspy.Signature("photo: dspy.Image, clip: dspy.Audio -> code: dspy.Code, why: dspy.Reasoning")
    assert signature.input_fields["photo"].annotation is dspy.Image
    assert signature.output_fields["why"].annotation is dspy.Reasoning
    with pytest.raises(SignatureError, match="Unknown attribute 'Nope'"):
        dspy.Signature("x: dspy.Nope -> y")


def test_tool_call_results_pair_with_their_calls() -> None:
    calls = dspy.ToolCalls.from_dict_list([{"id": "c1", "name": "search", "args": {"q": "a"}}])
    results = dspy.ToolCallResults.from_tool_calls_and_values(calls, ["found"])
    assert results.tool_call_results[0].model_dump() == {
        "call_id": "c1",
        "name": "search",
        "value": "found",
        "is_error": False,
    }
    assert dspy.ToolCallResults.model_validate({"name": "s", "value": 1}).tool_call_results[0].value == 1
    with pytest.raises(ValueError, match="same length"):
        dspy.ToolCallResults.from_tool_calls_and_values(calls, [])


def test_pil_images_and_image_bytes_encode_in_memory(no_host_io: None) -> None:
    pil: Any = pytest.importorskip("PIL.Image")  # the `media` extra
    import io

    picture = pil.new("RGB", (4, 2), color="red")
    assert dspy.Image(picture).url.startswith("data:image/png;base64,")
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG")
    assert dspy.Image(buffer.getvalue()).url.startswith("data:image/jpeg;base64,")
    with pytest.raises(InvalidInputError, match="could not be identified as an image"):
        dspy.Image(b"not an image")
