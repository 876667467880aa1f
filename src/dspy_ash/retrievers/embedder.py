"""`Embedder`: texts to vectors, from an OpenAI-compatible `/embeddings` endpoint or a local callable.

    Embedder("openai/text-embedding-3-small", api_base=..., api_key=...)   # over HTTP (aiohttp)
    Embedder(model.encode)                                                 # any fn(list[str]) -> 2-D array
    Embedder("sentence-transformers/all-MiniLM-L6-v2")                     # local, if installed

Batches of `batch_size` texts go out concurrently; results keep input order. With `caching=True`
each (model, text, options) vector is remembered in memory for the life of the embedder.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable, Sequence
from typing import Any

from dspy_ash._sync import call_sync, run_sync
from dspy_ash.errors import LMResponseError
from dspy_ash.retrievers._numpy import np, npt
from dspy_ash.settings import env

_DEFAULT_BASES = {"openai": "https://api.openai.com/v1"}
_KEY_VARIABLES = {"openai": "OPENAI_API_KEY"}
_LOCAL_PREFIX = "sentence-transformers/"


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
    def __init__(
        self,
        model: str | Callable[..., Any],
        batch_size: int = 200,
        caching: bool = True,
        *,
        api_base: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_concurrency: int = 8,
        **kwargs: Any,
    ) -> None:
        if not isinstance(model, str) and not callable(model):
            raise ValueError(
                f"`model` in `dspy.Embedder` must be a string or a callable, but got {type(model)}."
            )
        self.model = model
        self.batch_size = batch_size
        self.caching = caching
        self.default_kwargs = kwargs
        self.timeout = timeout
        self.max_concurrency = max_concurrency
        self._cache: dict[str, npt.NDArray[np.float32]] = {}
        if isinstance(model, str) and model.startswith(_LOCAL_PREFIX):
            self.model = _sentence_transformer(model)
        elif isinstance(model, str):
            provider, _, name = model.partition("/") if "/" in model else ("openai", "", model)
            self.provider, self.model_name = provider, name
            self.api_base = (
                api_base or env(f"{provider.upper()}_API_BASE") or _DEFAULT_BASES.get(provider, "")
            ).rstrip("/")
            self.api_key = api_key or env(_KEY_VARIABLES.get(provider, f"{provider.upper()}_API_KEY"))
            if not self.api_base:
                raise ValueError(f"No api_base for embedding provider {provider!r}; pass api_base=...")

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
        tag = json.dumps(options, sort_keys=True, default=str)
        keys = [f"{tag}\x00{t}" for t in texts]
        todo = sorted({i for i, key in enumerate(keys) if not (use_cache and key in self._cache)})
        size = batch_size or self.batch_size
        batches = [todo[i : i + size] for i in range(0, len(todo), size)]
        limit = asyncio.Semaphore(self.max_concurrency)
        found: dict[str, npt.NDArray[np.float32]] = self._cache if use_cache else {}

        async def run(batch: list[int]) -> None:
            async with limit:
                vectors = await self._embed([texts[i] for i in batch], options)
            if vectors.shape[0] != len(batch):
                raise LMResponseError(
                    f"The embedder returned {vectors.shape[0]} vectors for {len(batch)} inputs"
                )
            for i, vec in zip(batch, vectors, strict=True):
                found[keys[i]] = vec

        await asyncio.gather(*(run(b) for b in batches))
        result = np.stack([found[key] for key in keys]).astype(np.float32)
        return result[0] if single else result

    async def _embed(self, texts: list[str], options: dict[str, Any]) -> npt.NDArray[np.float32]:
        if callable(self.model):
            fn = self.model
            if inspect.iscoroutinefunction(fn):
                out = await fn(texts, **options)
            else:
                out = await call_sync(fn, texts, **options)
            return np.asarray(out, dtype=np.float32).reshape(len(texts), -1)
        from dspy_ash.lm.http import post_json

        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data, _ = await post_json(
            f"{self.api_base}/embeddings",
            {"model": self.model_name, "input": texts, **options},
            headers=headers,
            timeout=self.timeout,
            provider=self.provider,
            model=self.model_name,
        )
        rows = data.get("data")
        if not isinstance(rows, list):
            raise LMResponseError(
                "The embeddings reply has no `data` list", provider=self.provider, model=self.model_name
            )
        # Providers may answer out of order; `index` says where each vector belongs.
        ordered = sorted(rows, key=lambda r: r.get("index", 0)) if all("index" in r for r in rows) else rows
        return np.asarray([r["embedding"] for r in ordered], dtype=np.float32)
