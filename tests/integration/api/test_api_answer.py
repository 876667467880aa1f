"""`POST /answer` over the service's corpus: the answering program retrieves from the configured passages,
answers through the tenant's provider, and the reply keeps answer, reasoning, confidence and trace id;
refusals are the API's (401, 403, 404, 422), and a stand-in LM is said to be one in every response."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import TenantKeys

from dspy_ash.actions import Services, ServiceSettings
from dspy_ash.api import create_app
from dspy_ash.testing import FakeOpenAIServer
from dspy_ash.testing.standins import ExtractiveReader

NOTICE = "a stand-in, for the test"
PASSAGES = [
    "Eiffel Tower | The Eiffel Tower stands in Paris and was finished in 1889.",
    "Big Ben | Big Ben is the nickname of the great bell of the clock in London.",
    "Colosseum | The Colosseum is an ancient amphitheatre in the centre of Rome.",
]
RAG: dict[str, Any] = {
    "inputs": ["question"],
    "steps": [
        {"type": "retrieve", "id": "search", "query": "question", "k": 1},
        {"type": "chain_of_thought", "id": "respond",
         "signature": "context: list[str], question -> answer, confidence: float",
         "inputs": {"context": "search.passages"}},
    ],
    "outputs": {"answer": "respond.answer", "reasoning": "respond.reasoning", "confidence": "respond.confidence"},
}  # fmt: skip


@pytest.fixture
def settings(tmp_path: Path) -> ServiceSettings:
    corpus = tmp_path / "passages.txt"
    corpus.write_text("\n".join(PASSAGES) + "\n", encoding="utf-8")
    return ServiceSettings(
        rate_limit_per_minute=10_000, corpus=str(corpus), answer_program="landmarks", stand_in_notice=NOTICE
    )


@pytest.fixture
async def lm_server() -> AsyncIterator[FakeOpenAIServer]:
    async with FakeOpenAIServer(handler=ExtractiveReader()) as server:
        yield server


@pytest.fixture
async def root(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(services=services)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def _program(
    root: httpx.AsyncClient, acme: TenantKeys, server: FakeOpenAIServer, spec: Any, name: str
) -> None:
    provider = {"name": "fake", "kind": "openai_compatible", "base_url": server.api_base,
                "config": {"model": "reader", "num_retries": 0}}  # fmt: skip
    for path, body in (("/api/v1/providers", provider), ("/api/v1/programs", {"name": name, "spec": spec})):
        response = await root.post(path, json=body, headers=acme.auth())
        assert response.status_code in (201, 409), response.text  # 409: the provider exists already


async def test_answer_retrieves_from_the_corpus_and_says_the_lm_is_a_stand_in(
    root: httpx.AsyncClient, acme: TenantKeys, lm_server: FakeOpenAIServer
) -> None:
    await _program(root, acme, lm_server, RAG, "landmarks")
    response = await root.post(
        "/answer", json={"question": "In which city is the Colosseum?"}, headers=acme.auth("editor")
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "Rome" in body["answer"]  # the one passage retrieved for the question reached the prompt
    assert "Colosseum" in body["reasoning"] and "Eiffel" not in lm_server.requests[-1].raw.decode()
    assert 0.5 <= body["confidence"] <= 1.0
    assert body["version_number"] is None and body["lm_notice"] == NOTICE
    assert response.headers["x-lm-stand-in"] == NOTICE
    trace = await root.get(f"/api/v1/traces/{body['trace_id']}", headers=acme.auth())
    assert trace.status_code in (200, 404)  # written in the background; the id is the trace's either way

    named = await root.post(
        "/answer", json={"question": "Where is Big Ben?", "program": "landmarks"}, headers=acme.auth()
    )
    assert named.status_code == 200 and "London" in named.json()["answer"]


async def test_answer_refusals(
    root: httpx.AsyncClient, acme: TenantKeys, lm_server: FakeOpenAIServer
) -> None:
    question = {"question": "Where is Big Ben?"}
    assert (await root.post("/answer", json=question)).status_code == 401
    denied = await root.post("/answer", json=question, headers=acme.auth("viewer"))
    assert denied.status_code == 403
    assert denied.headers["content-type"].startswith("application/problem+json")
    missing = await root.post("/answer", json=question, headers=acme.auth())
    assert missing.status_code == 404 and "landmarks" in missing.json()["detail"]
    for bad in ({}, {"question": ""}, {"question": "x", "extra": 1}, {"question": "x" * 10_001}):
        assert (await root.post("/answer", json=bad, headers=acme.auth())).status_code == 422, bad

    no_answer = {"inputs": ["question"], "steps": [{"type": "predict", "id": "say", "signature": "question -> reply"}],
                 "outputs": {"reply": "say.reply"}}  # fmt: skip
    await _program(root, acme, lm_server, no_answer, "landmarks")
    lm_server.handler = None
    lm_server.script.append("[[ ## reply ## ]]\nhello\n\n[[ ## completed ## ]]")
    wrong = await root.post("/answer", json=question, headers=acme.auth())
    assert wrong.status_code == 422 and "no `answer` output" in wrong.json()["detail"]


async def test_answer_is_in_the_openapi_document(root: httpx.AsyncClient) -> None:
    schema = (await root.get("/openapi.json")).json()
    operation = schema["paths"]["/answer"]["post"]
    assert operation["operationId"] == "programs_answer"
    assert {"401", "403", "404", "422"} <= set(operation["responses"])
