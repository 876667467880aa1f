"""Embedder and dense retrieval against an OpenAI-compatible `/v1/embeddings` server on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from aiohttp import web

from dspy_ash.errors import LMAuthError
from dspy_ash.retrievers import DenseRetriever, Embedder

WORDS = ["cat", "dog", "python", "river", "mountain", "music"]


def bag_of_words(texts: list[str]) -> np.ndarray:
    return np.array([[t.lower().count(w) + 0.01 for w in WORDS] for t in texts], dtype=np.float32)


class EmbeddingsServer:
    """A minimal OpenAI-compatible `/v1/embeddings` endpoint on 127.0.0.1 (real socket)."""

    def __init__(self, key: str = "sk-test", delay: float = 0.0) -> None:
        self.key = key
        self.delay = delay
        self.bodies: list[dict[str, Any]] = []
        self.in_flight = 0
        self.peak = 0
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def handle(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.key}":
            return web.json_response(
                {"error": {"message": "bad key", "type": "authentication_error"}}, status=401
            )
        body = await request.json()
        self.bodies.append(body)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        await asyncio.sleep(self.delay)
        self.in_flight -= 1
        vectors = bag_of_words(body["input"]).tolist()
        # Reply out of order: clients must place vectors by `index`.
        data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)][::-1]
        return web.json_response(
            {
                "object": "list",
                "data": data,
                "model": body["model"],
                "usage": {"prompt_tokens": 1, "total_tokens": 1},
            }
        )

    async def __aenter__(self) -> EmbeddingsServer:
        app = web.Application()
        app.router.add_post("/v1/embeddings", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


@pytest.fixture
async def server() -> AsyncIterator[EmbeddingsServer]:
    async with EmbeddingsServer(delay=0.1) as s:
        yield s


async def test_embedder_over_http_batches_concurrently_in_order(server: EmbeddingsServer) -> None:
    embedder = Embedder(
        "openai/text-embedding-3-small", api_base=server.api_base, api_key="sk-test", batch_size=2
    )
    texts = ["cat cat", "dog", "python", "river", "mountain"]
    vectors = await embedder.acall(texts)
    assert vectors.shape == (5, len(WORDS)) and vectors.dtype == np.float32
    np.testing.assert_allclose(vectors, bag_of_words(texts))
    assert [len(b["input"]) for b in server.bodies] == [2, 2, 1]
    assert server.bodies[0]["model"] == "text-embedding-3-small"
    assert server.peak == 3  # the three batches were in flight together
    single = await embedder.acall("dog")
    assert single.shape == (len(WORDS),)
    assert len(server.bodies) == 3  # cached


async def test_embedder_http_errors_are_typed(server: EmbeddingsServer) -> None:
    embedder = Embedder("openai/x", api_base=server.api_base, api_key="wrong")
    with pytest.raises(LMAuthError):
        await embedder.acall(["cat"])


async def test_dense_retriever_over_http(server: EmbeddingsServer) -> None:
    embedder = Embedder("openai/emb", api_base=server.api_base, api_key="sk-test")
    retriever = DenseRetriever(embedder, k=2)
    await retriever.aadd(
        [
            {"id": "c", "text": "the cat sat", "title": "Cat"},
            {"id": "r", "text": "a long river"},
            {"id": "m", "text": "music and music"},
        ]
    )
    hits = await retriever.acall("river walk")
    assert hits[0].id == "r" and hits[0].text == "a long river"
    batch = await retriever.aretrieve(["cat", "music"], k=1)
    assert [[p.id for p in row] for row in batch] == [["c"], ["m"]]
    assert batch[0][0].metadata == {"title": "Cat"}
