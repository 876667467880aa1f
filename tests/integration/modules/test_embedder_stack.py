"""`Embedder` over HTTP goes through the LM stack: registry, secret key, retries, cache, usage, events."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pytest

import dspy_ash as dspy
from dspy_ash import errors as dspy_ash_errors
from dspy_ash.errors import LMRateLimitError
from dspy_ash.lm._retry import Backoff
from dspy_ash.testing.fake_servers import FakeOpenAIServer, Fault, hashed_embedding

KEY = "sk-embed-secret-123"


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def embeddings_posts(server: FakeOpenAIServer) -> list[dict[str, Any]]:
    return [r.body for r in server.requests if r.path.endswith("/embeddings")]


def test_the_signature_is_dspys() -> None:
    import dspy as real_dspy

    for name in ("__init__", "__call__"):
        ours = inspect.signature(getattr(dspy.Embedder, name))
        theirs = inspect.signature(getattr(real_dspy.Embedder, name))
        assert list(ours.parameters) == list(theirs.parameters)
        assert [p.default for p in ours.parameters.values()] == [
            p.default for p in theirs.parameters.values()
        ]


async def test_vectors_come_in_input_order_from_the_real_wire_format() -> None:
    async with FakeOpenAIServer(require_key=KEY) as server:
        embedder = dspy.Embedder(
            "openai/text-embedding-3-small", batch_size=2, api_base=server.api_base, api_key=KEY
        )
        texts = ["a cat", "a dog", "river stones", "cat and dog", "music"]
        vectors = await embedder.acall(texts)
    np.testing.assert_array_equal(vectors, np.array([hashed_embedding(t) for t in texts], dtype=np.float32))
    posts = embeddings_posts(server)
    assert [p["input"] for p in posts] == [["a cat", "a dog"], ["river stones", "cat and dog"], ["music"]]
    assert {p["model"] for p in posts} == {"text-embedding-3-small"}
    assert server.requests[0].headers["Authorization"] == f"Bearer {KEY}"


async def test_a_429_is_retried_after_the_servers_retry_after() -> None:
    sleeps = Sleeps()
    async with FakeOpenAIServer() as server:
        server.fail_next(Fault.rate_limit(retry_after=3), Fault.rate_limit(retry_after=1))
        embedder = dspy.Embedder(
            "openai/emb", api_base=server.api_base, api_key=KEY, backoff=Backoff(sleep=sleeps)
        )
        vector = await embedder.acall("a cat")
        assert sleeps.delays == [3.0, 1.0]
        assert len(embeddings_posts(server)) == 3
        np.testing.assert_array_equal(vector, np.array(hashed_embedding("a cat"), dtype=np.float32))

        server.fail_next(*[Fault.rate_limit(retry_after=0)] * 3)
        stubborn = dspy.Embedder(
            "openai/emb",
            api_base=server.api_base,
            num_retries=2,
            backoff=Backoff(sleep=sleeps),
            caching=False,
        )
        with pytest.raises(LMRateLimitError):
            await stubborn.acall(["a dog"])


async def test_the_process_cache_answers_per_text_and_usage_counts_only_what_was_sent() -> None:
    async with FakeOpenAIServer() as server:
        embedder = dspy.Embedder("openai/emb", api_base=server.api_base, api_key=KEY)
        with dspy.track_usage() as usage:
            first = await embedder.acall(["one two", "three"])
            # another embedder of the same model and address shares the process cache
            again = await dspy.Embedder("openai/emb", api_base=server.api_base, api_key=KEY).acall(
                ["three", "four five six"]
            )
        assert [p["input"] for p in embeddings_posts(server)] == [["one two", "three"], ["four five six"]]
        np.testing.assert_array_equal(first[1], again[0])
        totals = usage.get_total_tokens()["openai/emb"]
        assert (totals["prompt_tokens"], totals["total_tokens"]) == (6, 6)  # 3 words, then 3 more
        assert usage.calls == 2 and usage.cache_hits == 0
        with dspy.track_usage() as usage:
            await embedder.acall("three")
        assert usage.cache_hits == 1 and usage.get_total_tokens() == {}
        await embedder.acall("three", caching=False)
        await embedder.acall("three", dimensions=8)  # other request parameters: another cache entry
        assert [p["input"] for p in embeddings_posts(server)][2:] == [["three"], ["three"]]
        assert embeddings_posts(server)[-1]["dimensions"] == 8


async def test_embedding_calls_are_events() -> None:
    seen: list[Any] = []
    async with FakeOpenAIServer() as server:
        embedder = dspy.Embedder("openai/emb", api_base=server.api_base, api_key=KEY, caching=False)
        with dspy.context(callbacks=[seen.append]):
            await embedder.acall(["a", "b"])
    assert [(e.kind, e.phase) for e in seen] == [("embedding", "start"), ("embedding", "end")]
    assert seen[0].inputs["inputs"] == ["a", "b"]
    assert seen[1].outputs == {"vectors": 2} and seen[1].usage["prompt_tokens"] == 2


async def test_the_key_is_never_printed(capsys: pytest.CaptureFixture[str]) -> None:
    async with FakeOpenAIServer(require_key="another-key") as server:
        embedder = dspy.Embedder("openai/emb", api_base=server.api_base, api_key=KEY)
        with pytest.raises(dspy.LMAuthError) as failure:
            await embedder.acall(["a"])
    assert embedder.client is not None
    shown = [
        repr(embedder),
        str(embedder.__dict__),
        repr(embedder.client),
        str(vars(embedder.client)),
        repr(embedder.client.client.endpoint),
        str(failure.value),
    ]
    print(*shown)
    assert all(KEY not in text for text in shown) and KEY not in capsys.readouterr().out
    assert "**********" in repr(embedder.client.client.endpoint)


def test_unknown_provider_without_api_base_is_a_configuration_error() -> None:
    with pytest.raises(dspy.LMConfigurationError, match="Unknown provider"):
        dspy.Embedder("nosuchprovider/emb")
    with pytest.raises(ValueError):  # what DSPy-era code catches
        dspy.Embedder("nosuchprovider/emb")


async def test_embedding_requests_pass_the_rate_limiter() -> None:
    from dspy_ash.lm._rate_limit import RateLimitedLM
    from dspy_ash.lm._types import EmbeddingRequest
    from dspy_ash.lm.providers._base import Endpoint
    from dspy_ash.lm.providers._openai_compat import OpenAICompatLM

    sleeps = Sleeps()
    async with FakeOpenAIServer() as server:
        client = OpenAICompatLM("emb", Endpoint(provider="openai", api_base=server.api_base))
        limited = RateLimitedLM(client, rpm=1, clock=lambda: 0.0, sleep=sleeps)
        for text in ("a", "b"):
            await limited.embed(EmbeddingRequest(model="emb", inputs=[text]))
    assert sleeps.delays == [pytest.approx(60.0)]  # one request a minute: the second waits a minute


async def test_a_provider_without_embeddings_says_so() -> None:
    embedder = dspy.Embedder("anthropic/claude-x", api_key="k", caching=False)
    with pytest.raises(dspy_ash_errors.UnsupportedFeatureError, match="no embeddings endpoint"):
        await embedder.acall(["a"])
