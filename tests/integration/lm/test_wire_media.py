"""Media and citation types over real sockets: the OpenAI-compatible client sends the adapters' content parts as
they are; the Anthropic client turns them into Anthropic's own blocks (the fake server refuses OpenAI's, as
the real API does) and reads native citations back into `dspy.experimental.Citations`."""

from __future__ import annotations

import base64
from typing import Any

import pytest

import dspy_ash as dspy
from dspy_ash.errors import LMBadRequestError, UnsupportedFeatureError
from dspy_ash.experimental import Citations, Document
from dspy_ash.lm.providers._anthropic import FILES_API_BETA
from dspy_ash.testing.fake_servers import FakeAnthropicServer, FakeOpenAIServer, Reply

PNG_DATA = base64.b64encode(b"\x89PNG fake").decode()
PDF_DATA = base64.b64encode(b"%PDF-1.4 fake").decode()
TEXT_DATA = base64.b64encode("plain words, naïve".encode()).decode()


class Describe(dspy.Signature):
    """Describe the attachments."""

    image: dspy.Image = dspy.InputField()
    attachment: dspy.File = dspy.InputField()
    answer: str = dspy.OutputField()


def _parts(server: FakeAnthropicServer | FakeOpenAIServer) -> list[dict[str, Any]]:
    content = server.requests[-1].body["messages"][-1]["content"]
    assert isinstance(content, list)
    return [p for p in content if p["type"] != "text"]


async def test_openai_compatible_client_sends_the_content_parts_as_they_are(make_lm) -> None:
    async with FakeOpenAIServer() as server:
        lm = make_lm("openai/gpt-4o-mini", server)
        inputs = {
            "image": dspy.Image("https://example.com/a.png"),
            "attachment": dspy.File(f"data:application/pdf;base64,{PDF_DATA}"),
        }
        expected = dspy.ChatAdapter().format(Describe, [], inputs)[-1]["content"]
        with dspy.context(lm=lm):
            pred = await dspy.Predict(Describe).acall(**inputs)
        assert pred.answer.startswith("answer")
        assert server.requests[0].body["messages"][-1]["content"] == expected
        assert _parts(server) == [
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
            {"type": "file", "file": {"file_data": f"data:application/pdf;base64,{PDF_DATA}"}},
        ]


@pytest.mark.parametrize(
    ("image", "attachment", "blocks"),
    [
        (
            "https://example.com/a.png",
            dspy.File(f"data:application/pdf;base64,{PDF_DATA}", filename="r.pdf"),
            [
                {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
                {
                    "type": "document",
                    "source": {"type": "base64", "media_type": "application/pdf", "data": PDF_DATA},
                    "title": "r.pdf",
                },
            ],
        ),
        (
            f"data:image/png;base64,{PNG_DATA}",
            dspy.File(f"data:text/plain;base64,{TEXT_DATA}"),
            [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_DATA}},
                {
                    "type": "document",
                    "source": {"type": "text", "media_type": "text/plain", "data": "plain words, naïve"},
                },
            ],
        ),
        (
            "https://example.com/a.png",
            dspy.File(f"data:image/jpeg;base64,{PNG_DATA}"),
            [
                {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
                {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": PNG_DATA}},
            ],
        ),
    ],
)
async def test_anthropic_client_translates_images_and_files_into_blocks(
    anthropic_server: FakeAnthropicServer,
    make_lm,
    image: str,
    attachment: dspy.File,
    blocks: list[dict[str, Any]],
) -> None:
    lm = make_lm("anthropic/claude-sonnet-4-5", anthropic_server)
    with dspy.context(lm=lm):
        pred = await dspy.Predict(Describe).acall(image=dspy.Image(image), attachment=attachment)
    assert pred.answer.startswith("answer")
    assert _parts(anthropic_server) == blocks
    assert "anthropic-beta" not in anthropic_server.requests[0].headers


async def test_a_file_id_becomes_a_files_api_source_with_the_beta_header(
    anthropic_server: FakeAnthropicServer, make_lm
) -> None:
    lm = make_lm("anthropic/claude-sonnet-4-5", anthropic_server)
    with dspy.context(lm=lm):
        await dspy.Predict(Describe).acall(
            image=dspy.Image("https://example.com/a.png"),
            attachment=dspy.File.from_file_id("file_01", "notes.pdf"),
        )
    assert _parts(anthropic_server)[1] == {
        "type": "document",
        "source": {"type": "file", "file_id": "file_01"},
        "title": "notes.pdf",
    }
    assert anthropic_server.requests[0].headers["anthropic-beta"] == FILES_API_BETA


async def test_audio_is_refused_before_anything_is_sent(
    anthropic_server: FakeAnthropicServer, make_lm
) -> None:
    lm = make_lm("anthropic/claude-sonnet-4-5", anthropic_server)
    with dspy.context(lm=lm), pytest.raises(UnsupportedFeatureError, match="no audio input"):
        await dspy.Predict("clip: dspy.Audio -> transcript").acall(
            clip=dspy.Audio(b"RIFF", audio_format="wav")
        )
    assert anthropic_server.requests == []


async def test_the_fake_refuses_blocks_anthropic_does_not_know(
    anthropic_server: FakeAnthropicServer, make_lm
) -> None:
    lm = make_lm("anthropic/claude-sonnet-4-5", anthropic_server, num_retries=0)
    with pytest.raises(LMBadRequestError, match="Input tag 'video'"):
        await lm.acall(messages=[{"role": "user", "content": [{"type": "video", "video": {}}]}])


class AnswerWithSources(dspy.Signature):
    """Answer questions using provided documents with citations."""

    documents: list[Document] = dspy.InputField()
    question: str = dspy.InputField()
    answer: str = dspy.OutputField()
    citations: Citations = dspy.OutputField()


CITATION = {
    "type": "char_location",
    "cited_text": "Water boils at 100°C.",
    "document_index": 1,
    "document_title": "Physics",
    "start_char_index": 0,
    "end_char_index": 21,
}


async def test_anthropic_citations_come_back_natively(make_lm) -> None:
    reply = Reply("[[ ## answer ## ]]\nAt 100°C.\n\n[[ ## completed ## ]]", citations=[CITATION])
    async with FakeAnthropicServer([reply]) as server:
        lm = make_lm("anthropic/claude-sonnet-4-5", server)
        docs = [
            Document(data="The Earth orbits the Sun.", title="Astronomy"),
            Document(data="Water boils at 100°C.", title="Physics"),
        ]
        with dspy.context(lm=lm):
            pred = await dspy.Predict(AnswerWithSources).acall(
                documents=docs, question="When does water boil?"
            )
    assert pred.answer == "At 100°C."
    assert isinstance(pred.citations, Citations)
    assert [c.format() for c in pred.citations] == [
        {**CITATION, "supported_text": "[[ ## answer ## ]]\nAt 100°C.\n\n[[ ## completed ## ]]"}
    ]
    body = server.requests[0].body
    assert "[[ ## citations ## ]]" not in body["system"]  # produced natively, not prompted
    documents = [b for b in body["messages"][-1]["content"] if b["type"] == "document"]
    assert [d["title"] for d in documents] == ["Astronomy", "Physics"]
    assert all(d["citations"] == {"enabled": True} and d["source"]["type"] == "text" for d in documents)


async def test_other_providers_write_citations_as_json(make_lm) -> None:
    import json

    text = f"[[ ## answer ## ]]\nAt 100°C.\n\n[[ ## citations ## ]]\n{json.dumps([CITATION])}\n\n[[ ## completed ## ]]"
    async with FakeOpenAIServer([text]) as server:
        lm = make_lm("openai/gpt-4o-mini", server)
        with dspy.context(lm=lm):
            pred = await dspy.Predict(AnswerWithSources).acall(documents=[Document(data="x")], question="q")
    assert pred.citations[0].cited_text == "Water boils at 100°C."
    assert "`citations` (Citations)" in server.requests[0].body["messages"][0]["content"]
