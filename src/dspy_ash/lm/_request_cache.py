"""DSPy's `request_cache` decorator: memoize a function's result in the current LM cache by its arguments."""

from __future__ import annotations

import copy
import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any, TypeVar, cast

from dspy_ash.lm._cache import get_cache

logger = logging.getLogger("dspy_ash.lm")

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_IGNORED = ["api_key", "api_base", "base_url"]  # DSPy's: credentials and endpoints never key a value


def request_cache(
    cache_arg_name: str | None = None,
    ignored_args_for_cache_key: list[str] | None = None,
    enable_memory_cache: bool = True,
    *,
    maxsize: int | None = None,
) -> Callable[[F], F]:
    """Cache `fn`'s result in `dspy.cache` under its keyword arguments (or the one named `cache_arg_name`),
    its positional arguments and its qualified name. `enable_memory_cache=False` writes the persistent
    tier only. `maxsize` is accepted for DSPy compatibility and does nothing, as in DSPy."""
    ignored = ignored_args_for_cache_key or DEFAULT_IGNORED
    if maxsize is not None:
        logger.warning("`maxsize` is deprecated and does nothing; the cache is `dspy.cache`.")

    def decorator(fn: F) -> F:
        identifier = f"{fn.__module__}.{fn.__qualname__}"

        def request_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
            # a deep copy: the function may change its arguments in place, and the key is what it was called with
            if cache_arg_name:
                request = copy.deepcopy(kwargs[cache_arg_name])
            else:
                request = copy.deepcopy(kwargs)
                for i, arg in enumerate(args):
                    request[f"positional_arg_{i}"] = arg
            request["_fn_identifier"] = identifier
            return request

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                cache = get_cache()
                request = request_of(args, kwargs)
                hit = cache.get(request, ignored)
                if hit is not None:
                    return hit
                result = await fn(*args, **kwargs)
                cache.put(request, result, ignored, enable_memory_cache)
                return result

            return cast(F, async_wrapper)

        @functools.wraps(fn)
        def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
            cache = get_cache()
            request = request_of(args, kwargs)
            hit = cache.get(request, ignored)
            if hit is not None:
                return hit
            result = fn(*args, **kwargs)
            cache.put(request, result, ignored, enable_memory_cache)
            return result

        return cast(F, sync_wrapper)

    return decorator
