"""The LM layer: the `BaseLM` seam, the `LM` facade over HTTP providers, and the cache, retry, rate-limit,
usage, pricing and history pieces it is assembled from. Names load lazily."""

# Only public names at module level, as in `dspy_ash/__init__.py`.
from typing import TYPE_CHECKING as _TYPE_CHECKING

from dspy_ash._lazy import lazy_getattr as _lazy_getattr

_EXPORTS: dict[str, str] = {
    "Backoff": "dspy_ash.lm._retry:Backoff",
    "BaseLM": "dspy_ash.lm._base:BaseLM",
    "Cache": "dspy_ash.lm._cache:Cache",
    "CacheBackend": "dspy_ash.lm._cache_backend:CacheBackend",
    "CacheEntry": "dspy_ash.lm._cache_backend:CacheEntry",
    "CachedLM": "dspy_ash.lm._cache:CachedLM",
    "Choice": "dspy_ash.lm._types:Choice",
    "DiskCacheBackend": "dspy_ash.lm._disk_cache:DiskCacheBackend",
    "EmbeddingClient": "dspy_ash.lm._embedding:EmbeddingClient",
    "EmbeddingRequest": "dspy_ash.lm._types:EmbeddingRequest",
    "EmbeddingResponse": "dspy_ash.lm._types:EmbeddingResponse",
    "LM": "dspy_ash.lm._lm:LM",
    "LMRequest": "dspy_ash.lm._types:LMRequest",
    "LMResponse": "dspy_ash.lm._types:LMResponse",
    "MemoryLRU": "dspy_ash.lm._memory_cache:MemoryLRU",
    "Price": "dspy_ash.lm._pricing:Price",
    "ProviderSpec": "dspy_ash.lm._registry:ProviderSpec",
    "RateLimitedLM": "dspy_ash.lm._rate_limit:RateLimitedLM",
    "RetryingLM": "dspy_ash.lm._retry:RetryingLM",
    "Secret": "dspy_ash.lm._secret:Secret",
    "StreamChunk": "dspy_ash.lm._stream:StreamChunk",
    "Usage": "dspy_ash.lm._types:Usage",
    "UsageTracker": "dspy_ash.lm._usage:UsageTracker",
    "assemble_stack": "dspy_ash.lm._lm:assemble_stack",
    "build_cache": "dspy_ash.lm._cache:build_cache",
    "cache_key": "dspy_ash.lm._cache:cache_key",
    "cache_scope": "dspy_ash.lm._cache:cache_scope",
    "configure_cache": "dspy_ash.lm._cache:configure_cache",
    "cost_of": "dspy_ash.lm._pricing:cost_of",
    "count_tokens": "dspy_ash.lm._tokens:count_tokens",
    "disable_global_history": "dspy_ash.lm._history:disable_global_history",
    "enable_global_history": "dspy_ash.lm._history:enable_global_history",
    "estimate_tokens": "dspy_ash.lm._tokens:estimate_tokens",
    "find_price": "dspy_ash.lm._pricing:find_price",
    "get_cache": "dspy_ash.lm._cache:get_cache",
    "history_scope": "dspy_ash.lm._history:history_scope",
    "inspect_history": "dspy_ash.lm._base:inspect_history",
    "is_reasoning_model": "dspy_ash.lm._lm:is_reasoning_model",
    "pretty_print_history": "dspy_ash.lm._history:pretty_print_history",
    "register_prices": "dspy_ash.lm._pricing:register_prices",
    "request_cache": "dspy_ash.lm._request_cache:request_cache",
    "track_usage": "dspy_ash.lm._usage:track_usage",
}

__all__ = sorted(_EXPORTS)  # pyright: ignore[reportUnsupportedDunderAll]

if _TYPE_CHECKING:  # what type checkers see; tests/unit/core/test_static_api.py keeps it equal to _EXPORTS
    from dspy_ash.lm._base import BaseLM as BaseLM
    from dspy_ash.lm._base import inspect_history as inspect_history
    from dspy_ash.lm._cache import Cache as Cache
    from dspy_ash.lm._cache import CachedLM as CachedLM
    from dspy_ash.lm._cache import build_cache as build_cache
    from dspy_ash.lm._cache import cache_key as cache_key
    from dspy_ash.lm._cache import cache_scope as cache_scope
    from dspy_ash.lm._cache import configure_cache as configure_cache
    from dspy_ash.lm._cache import get_cache as get_cache
    from dspy_ash.lm._cache_backend import CacheBackend as CacheBackend
    from dspy_ash.lm._cache_backend import CacheEntry as CacheEntry
    from dspy_ash.lm._disk_cache import DiskCacheBackend as DiskCacheBackend
    from dspy_ash.lm._embedding import EmbeddingClient as EmbeddingClient
    from dspy_ash.lm._history import disable_global_history as disable_global_history
    from dspy_ash.lm._history import enable_global_history as enable_global_history
    from dspy_ash.lm._history import history_scope as history_scope
    from dspy_ash.lm._history import pretty_print_history as pretty_print_history
    from dspy_ash.lm._lm import LM as LM
    from dspy_ash.lm._lm import assemble_stack as assemble_stack
    from dspy_ash.lm._lm import is_reasoning_model as is_reasoning_model
    from dspy_ash.lm._memory_cache import MemoryLRU as MemoryLRU
    from dspy_ash.lm._pricing import Price as Price
    from dspy_ash.lm._pricing import cost_of as cost_of
    from dspy_ash.lm._pricing import find_price as find_price
    from dspy_ash.lm._pricing import register_prices as register_prices
    from dspy_ash.lm._rate_limit import RateLimitedLM as RateLimitedLM
    from dspy_ash.lm._registry import ProviderSpec as ProviderSpec
    from dspy_ash.lm._request_cache import request_cache as request_cache
    from dspy_ash.lm._retry import Backoff as Backoff
    from dspy_ash.lm._retry import RetryingLM as RetryingLM
    from dspy_ash.lm._secret import Secret as Secret
    from dspy_ash.lm._stream import StreamChunk as StreamChunk
    from dspy_ash.lm._tokens import count_tokens as count_tokens
    from dspy_ash.lm._tokens import estimate_tokens as estimate_tokens
    from dspy_ash.lm._types import Choice as Choice
    from dspy_ash.lm._types import EmbeddingRequest as EmbeddingRequest
    from dspy_ash.lm._types import EmbeddingResponse as EmbeddingResponse
    from dspy_ash.lm._types import LMRequest as LMRequest
    from dspy_ash.lm._types import LMResponse as LMResponse
    from dspy_ash.lm._types import Usage as Usage
    from dspy_ash.lm._usage import UsageTracker as UsageTracker
    from dspy_ash.lm._usage import track_usage as track_usage


__getattr__ = _lazy_getattr(__name__, _EXPORTS)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
