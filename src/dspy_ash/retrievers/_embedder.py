"""`Embedder`: texts to vectors, from a hosted embeddings endpoint or a local callable.

    Embedder("openai/text-embedding-3-small", api_base=..., api_key=...)   # over HTTP, the LM stack
    Embedder(model.encode)                                                 # any fn(list[str]) -> 2-D array
    Embedder("sentence-transformers/all-MiniLM-L6-v2")                     # local, if installed

The signature is DSPy's: `Embedder(model, batch_size=200, caching=True, **kwargs)`. For a hosted model
the client options among the kwargs (`api_key`, `api_base`, `provider`, `timeout`, `num_retries`,
`backoff`, `rpm`, `tpm`, `headers`, `prices`, `callbacks`) configure an `EmbeddingClient`: the provider
registry, the key held as a secret, retries honouring Retry-After, rate limits, the process LM cache
(per text), usage accounting and events, as for `LM` calls; the other kwargs go to the provider
(`dimensions`, ...). `max_concurrency` (default 8) is how many batches of one call are in flight at once.

Batches of `batch_size` texts go out concurrently; results keep input order. With `caching=True` a
hosted model's vectors come from the process cache when that text was embedded before; a callable's are
remembered in memory for the life of the embedder.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable, Sequence
from typing import Any

from dspy_ash._sync import call_sync, run_sync
from dspy_ash.errors import ConfigurationError, LMResponseError
from dspy_ash.lm._embedding import EmbeddingClient
from dspy_ash.retrievers._numpy import np, npt

_LOCAL_PREFIX = "sentence-transformers/"
# Embedder kwargs that configure the client rather than the request (DSPy passes them on to litellm).
_CLIENT_OPTIONS = (
    "api_key",
    "api_base",
    "provider",
    "timeout",
    "num_retries",
    "backoff",
    "rpm",
    "tpm",
    "headers",
    "prices",
    "callbacks",
)
DEFAULT_MAX_CONCURRENCY = 8


def _sentence_transformer(name: str) -> Callable[..., Any]:
    """A local model's `encode` (CPU); loading it may download weights on first use."""
    try:
        from sentence_transformers import SentenceTransformer  # pyright: ignore[reportMissingImports]
    except ImportError as exc:
        raise ImportError(
            f"Embedder({name!r}) needs sentence-transformers: pip install sentence-transformers"
        ) from exc
    encoder: Callable[..., Any] = SentenceTransformer(name, device="cpu").encode
    return encoder


class Embedder:
    """Computes embeddings for texts with a hosted model (`"provider/model"`) or a callable
    `fn(list[str]) -> 2-D array`. `batch_size` texts go in one request; `caching` reuses earlier vectors;
    other kwargs are client options (see the module docstring) or default request parameters."""

    def __init__(
        self,
        model: str | Callable[..., Any],
        batch_size: int = 200,
        caching: bool = True,
        **kwargs: Any,
    ) -> None:
        if not isinstance(model, str) and not callable(model):
            raise ConfigurationError(
                f"`model` in `dspy.Embedder` must be a string or a callable, but got {type(model)}."
            )
        self.model: str | Callable[..., Any] = model
        self.batch_size = batch_size
        self.caching = caching
        self.max_concurrency = int(kwargs.pop("max_concurrency", None) or DEFAULT_MAX_CONCURRENCY)
        if "base_url" in kwargs:
            kwargs.setdefault("api_base", kwargs.pop("base_url"))
        options = {name: kwargs.pop(name) for name in _CLIENT_OPTIONS if name in kwargs}
        self.default_kwargs = kwargs
        self.client: EmbeddingClient | None = None
        self._memo: dict[str, npt.NDArray[np.float32]] = {}  # a callable's vectors (no process cache key)
        self._fn: Callable[..., Any] | None = None if isinstance(model, str) else model
        if isinstance(model, str) and model.startswith(_LOCAL_PREFIX):
            self.model = self._fn = _sentence_transformer(model)
        elif isinstance(model, str):
            self.client = EmbeddingClient(model, **options)

    def __call__(
        self,
        inputs: str | Sequence[str],
        batch_size: int | None = None,
        caching: bool | None = None,
        **kwargs: Any,
    ) -> npt.NDArray[np.float32]:
        return run_sync(self.acall(inputs, batch_size=batch_size, caching=caching, **kwargs))

    async def acall(
        self,
        inputs: str | Sequence[str],
        batch_size: int | None = None,
        caching: bool | None = None,
        **kwargs: Any,
    ) -> npt.NDArray[np.float32]:
        """A 2-D float32 array, one row per input (1-D for a single string input)."""
        single = isinstance(inputs, str)
        texts = [inputs] if isinstance(inputs, str) else list(inputs)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        options = {**self.default_kwargs, **kwargs}
        use_cache = self.caching if caching is None else caching
        size = batch_size or self.batch_size
        if self.client is not None:
            todo = list(range(len(texts)))  # the process cache answers per text, inside the stack
            keys = [str(i) for i in todo]
            found: dict[str, npt.NDArray[np.float32]] = {}
        else:
            tag = json.dumps(options, sort_keys=True, default=str)
            keys = [f"{tag}\x00{t}" for t in texts]
            todo = sorted({i for i, key in enumerate(keys) if not (use_cache and key in self._memo)})
            found = self._memo if use_cache else {}
        batches = [todo[i : i + size] for i in range(0, len(todo), size)]
        limit = asyncio.Semaphore(self.max_concurrency)

        async def run(batch: list[int]) -> None:
            async with limit:
                vectors = await self._embed([texts[i] for i in batch], options, use_cache)
            if vectors.shape[0] != len(batch):
                raise LMResponseError(
                    f"The embedder returned {vectors.shape[0]} vectors for {len(batch)} inputs"
                )
            for i, vec in zip(batch, vectors, strict=True):
                found[keys[i]] = vec

        await asyncio.gather(*(run(b) for b in batches))
        result = np.stack([found[key] for key in keys]).astype(np.float32)
        return result[0] if single else result

    async def _embed(
        self, texts: list[str], options: dict[str, Any], use_cache: bool
    ) -> npt.NDArray[np.float32]:
        if self.client is not None:
            response = await self.client.embed(texts, cache=use_cache, **options)
            return np.asarray(response.vectors, dtype=np.float32).reshape(len(response.vectors), -1)
        fn = self._fn
        if fn is None:  # not reachable: a string model has a client
            raise LMResponseError("The embedder has neither a client nor a function")
        if inspect.iscoroutinefunction(fn):
            out = await fn(texts, **options)
        else:
            out = await call_sync(fn, texts, **options)
        return np.asarray(out, dtype=np.float32).reshape(len(texts), -1)

    def __repr__(self) -> str:
        target = self.client if self.client is not None else self.model
        return f"Embedder({target!r}, batch_size={self.batch_size}, caching={self.caching})"
