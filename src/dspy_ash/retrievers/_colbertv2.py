"""`ColBERTv2(url, port)`: DSPy's client of a ColBERTv2 retrieval server, over the pooled aiohttp session.

As in DSPy 3.4.1: `GET {url}?query=...&k=...` (or, with `post_requests=True`, a POST of the JSON
`{"query": ..., "k": ...}`); the reply's `topk` list, cut to `k`, each passage a dict that also reads as
attributes (`psg.long_text`, `psg.pid`, `psg.score`); `simplify=True` gives the texts alone. A GET sets
`long_text` to the passage's `text`; a POST keeps the server's `long_text` and, where it sent none, adds
it from `text` (DSPy adds none there, so its `Retrieve` fails on such replies). Answers are cached in the
process-wide cache, as DSPy caches them, keyed by server, method, query and k.

`configure(rm=ColBERTv2(...))` makes it what `Retrieve` calls; `Retrieve` awaits `acall`, so a query
never blocks the event loop. Failures are typed: `RetrieverConnectionError` (unreachable, or no answer
within `timeout` seconds; DSPy's is 10) and `RetrieverResponseError` (an error status or reply).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal, overload

import aiohttp

from dspy_ash._sync import run_sync
from dspy_ash.errors import (
    InvalidInputError,
    InvalidInputTypeError,
    RetrieverConnectionError,
    RetrieverResponseError,
)
from dspy_ash.lm._cache import get_cache
from dspy_ash.lm._http import get_session
from dspy_ash.settings import read

# DSPy asserts this for GET requests: the hosted ColBERTv2 server answers at most 100 passages.
MAX_GET_K = 100
_POST_HEADERS = {"Content-Type": "application/json; charset=utf-8"}


class ColBERTv2Passage(dict[str, Any]):
    """A passage as DSPy's `dotdict` gives it: a dict whose keys also read (and write) as attributes."""

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__") and key.endswith("__"):
            raise AttributeError(key)
        try:
            return self[key]
        except KeyError:
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{key}'") from None

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value

    def __delattr__(self, key: str) -> None:
        try:
            del self[key]
        except KeyError:
            raise AttributeError(key) from None


class ColBERTv2:
    """A ColBERTv2 server's client; `ColBERTv2(url="http://host", port=8893)` queries `http://host:8893`."""

    def __init__(
        self,
        url: str = "http://0.0.0.0",
        port: str | int | None = None,
        post_requests: bool = False,
        *,
        timeout: float | None = 10.0,
    ) -> None:
        self.post_requests = post_requests
        self.url = f"{url}:{port}" if port else url
        self.timeout = timeout

    @overload
    def __call__(
        self, query: str, k: int = 10, simplify: Literal[False] = False
    ) -> list[ColBERTv2Passage]: ...
    @overload
    def __call__(self, query: str, k: int = 10, *, simplify: Literal[True]) -> list[str]: ...
    @overload
    def __call__(self, query: str, k: int, simplify: Literal[True]) -> list[str]: ...
    @overload
    def __call__(
        self, query: str, k: int = 10, simplify: bool = False
    ) -> list[ColBERTv2Passage] | list[str]: ...
    def __call__(self, query: str, k: int = 10, simplify: bool = False) -> list[ColBERTv2Passage] | list[str]:
        return run_sync(self.acall(query, k, simplify))

    @overload
    async def acall(
        self, query: str, k: int = 10, simplify: Literal[False] = False
    ) -> list[ColBERTv2Passage]: ...
    @overload
    async def acall(self, query: str, k: int = 10, *, simplify: Literal[True]) -> list[str]: ...
    @overload
    async def acall(self, query: str, k: int, simplify: Literal[True]) -> list[str]: ...
    @overload
    async def acall(
        self, query: str, k: int = 10, simplify: bool = False
    ) -> list[ColBERTv2Passage] | list[str]: ...
    async def acall(
        self, query: str, k: int = 10, simplify: bool = False
    ) -> list[ColBERTv2Passage] | list[str]:
        if not isinstance(query, str):  # pyright: ignore[reportUnnecessaryIsInstance]  # callers' input
            raise InvalidInputTypeError(f"ColBERTv2 takes one query string, not {type(query).__name__}")
        if not self.post_requests and k > MAX_GET_K:
            raise InvalidInputError(
                f"Only k <= {MAX_GET_K} is supported for the hosted ColBERTv2 server at the moment (k={k})."
            )
        topk = await self._cached_topk(query, k)
        if simplify:
            return [str(psg["long_text"]) for psg in topk]
        return [ColBERTv2Passage(psg) for psg in topk]

    async def _cached_topk(self, query: str, k: int) -> list[dict[str, Any]]:
        cache = get_cache()
        if not cache.enabled:
            return await self._request(query, k)
        namespace: str | None = read("cache_namespace")
        request = {
            "retriever": "colbertv2",
            "url": self.url,
            "post": self.post_requests,
            "query": query,
            "k": k,
        }
        key = hashlib.sha256(
            json.dumps({**request, "namespace": namespace}, sort_keys=True).encode()
        ).hexdigest()
        hit = await cache.get_data(key)
        if hit is not None:
            cached: list[dict[str, Any]] = hit["topk"]
            return cached
        topk = await self._request(query, k)
        await cache.put_data(key, {"topk": topk}, namespace)
        return topk

    async def _request(self, query: str, k: int) -> list[dict[str, Any]]:
        session = await get_session()
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        try:
            if self.post_requests:
                body = json.dumps({"query": query, "k": k}).encode()
                request = session.post(self.url, data=body, headers=_POST_HEADERS, timeout=timeout)
            else:
                request = session.get(self.url, params={"query": query, "k": str(k)}, timeout=timeout)
            async with request as resp:
                status, raw = resp.status, await resp.read()
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise RetrieverConnectionError(
                f"The ColBERTv2 server at {self.url} did not answer within {self.timeout}s", url=self.url
            ) from exc
        except aiohttp.ClientError as exc:
            raise RetrieverConnectionError(
                f"Could not reach the ColBERTv2 server at {self.url}: {type(exc).__name__}: {exc}",
                url=self.url,
            ) from exc
        return self._topk(status, raw, k)

    def _topk(self, status: int, raw: bytes, k: int) -> list[dict[str, Any]]:
        if status >= 400:
            raise RetrieverResponseError(
                f"The ColBERTv2 server at {self.url} answered HTTP {status}: {raw[:200]!r}",
                url=self.url,
                status=status,
            )
        try:
            reply = json.loads(raw)
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            raise RetrieverResponseError(
                f"The ColBERTv2 server at {self.url} answered something other than a JSON object: {raw[:200]!r}",
                url=self.url,
                status=status,
            )
        data: dict[str, Any] = reply  # pyright: ignore[reportUnknownVariableType]
        if data.get("error"):
            message = data.get("message", "Unknown error")
            raise RetrieverResponseError(
                f"ColBERTv2 server returned an error: {message}", url=self.url, status=status
            )
        topk = data.get("topk")
        if not isinstance(topk, list):
            raise RetrieverResponseError(
                f"ColBERTv2 server returned an unexpected response: {data}", url=self.url, status=status
            )
        passages: list[dict[str, Any]] = []
        for i, item in enumerate(topk[:k]):  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
            # a GET's `long_text` is its `text`; a POST's may come as sent
            texts = ("text", "long_text") if self.post_requests else ("text",)
            if not isinstance(item, dict) or not any(t in item for t in texts):
                raise RetrieverResponseError(
                    f"ColBERTv2 server returned passage {i} without a `text`: {item!r}",
                    url=self.url,
                    status=status,
                )
            passage: dict[str, Any] = item  # pyright: ignore[reportUnknownVariableType]
            if self.post_requests:  # DSPy keeps a POST reply's passages as sent
                passages.append({"long_text": passage.get("text"), **passage})
            else:
                passages.append({**passage, "long_text": passage["text"]})
        return passages

    def __repr__(self) -> str:
        return f"ColBERTv2(url={self.url!r}, post_requests={self.post_requests})"
