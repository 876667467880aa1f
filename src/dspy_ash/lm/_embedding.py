"""`EmbeddingClient("provider/model", ...)`: texts to vectors through the same stack as chat calls.

    EmbeddingClient ─ CachedLM ─ RetryingLM ─ RateLimitedLM ─ provider client (HTTP `embed`)

The provider comes from the registry, the key is held as a `Secret` in the client's endpoint, retries
honour Retry-After, `rpm`/`tpm`/`max_concurrency` limit it, replies are cached per text in the process
cache, and every call is counted by `track_usage()` and announced as an "embedding" event.
`dspy.Embedder` is the public face; this is the LM-layer part it uses for hosted models.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from dspy_ash import events
from dspy_ash.lm import _usage as usage_module
from dspy_ash.lm._base import BaseLM, end_call
from dspy_ash.lm._lm import assemble_stack
from dspy_ash.lm._pricing import Price, PriceLike, as_price, cost_of
from dspy_ash.lm._registry import build_client, resolve
from dspy_ash.lm._retry import Backoff
from dspy_ash.lm._types import EmbeddingRequest, EmbeddingResponse
from dspy_ash.lm.providers._base import HTTPProviderLM
from dspy_ash.settings import read

DEFAULT_EMBEDDING_TIMEOUT = 60.0


class EmbeddingClient:
    """A hosted embedding model. Options are those of `LM(...)` that concern the client."""

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        api_base: str | None = None,
        provider: str | None = None,
        timeout: float | None = DEFAULT_EMBEDDING_TIMEOUT,
        num_retries: int = 3,
        backoff: Backoff | None = None,
        rpm: float | None = None,
        tpm: float | None = None,
        max_concurrency: int | None = None,
        headers: Mapping[str, str] | None = None,
        prices: Mapping[str, PriceLike] | None = None,
        callbacks: Sequence[Any] | None = None,
    ) -> None:
        resolved = resolve(model, provider, api_base)
        self.model = model
        self.prices: dict[str, Price] = {k: as_price(v) for k, v in (prices or {}).items()}
        self.callbacks = list(callbacks or [])
        # the key lives only in the client's Endpoint, as a Secret
        self._client = build_client(
            resolved, api_key=api_key, api_base=api_base, timeout=timeout, headers=dict(headers or {})
        )
        self._stack: BaseLM = assemble_stack(
            self._client,
            num_retries=num_retries,
            backoff=backoff,
            max_concurrency=max_concurrency,
            rpm=rpm,
            tpm=tpm,
        )

    @property
    def client(self) -> HTTPProviderLM:
        return self._client

    async def embed(self, texts: list[str], *, cache: bool = True, **params: Any) -> EmbeddingResponse:
        """One request's worth of texts (the caller batches); vectors in input order."""
        req = EmbeddingRequest(
            model=self.model,
            inputs=texts,
            params={k: v for k, v in params.items() if v is not None},
            cache=cache,
            namespace=read("cache_namespace"),
        )
        scope = events.start(
            "embedding", self.model, self, {"inputs": texts, "kwargs": req.params}, self.callbacks
        )
        started = time.perf_counter()
        try:
            response = await self._stack.embed(req)
        except BaseException as exc:
            if scope is not None:
                scope.fail(exc)
            raise
        if not response.cache_hit:
            response.latency = time.perf_counter() - started
            if response.cost is None:
                response.cost = cost_of(self.model, response.usage, self.prices)
        usage = response.usage.as_dict()
        usage_module.record(self.model, usage, response.cost, response.cache_hit)
        if scope is not None:
            end_call(scope, {"vectors": len(response.vectors)}, response, usage)
        return response

    def __repr__(self) -> str:
        return f"EmbeddingClient(model={self.model!r}, api_base={self._client.endpoint.api_base!r})"
