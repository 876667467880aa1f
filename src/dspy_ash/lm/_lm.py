"""`LM("provider/model", ...)`: the public facade that assembles the client stack.

    LM ─ CachedLM ─ RetryingLM ─ RateLimitedLM ─ provider client (HTTP)

Order, outermost first, and why:
- Cache outermost: a hit costs no retry bookkeeping and no rate budget, and single flight merges
  identical requests before they take a slot.
- Retry outside the limiter: every attempt passes the limiter again, so retries count against rpm/tpm
  like the provider counts them, and a request sleeping in backoff holds no concurrency slot.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from dspy_ash.errors import LMConfigurationError, UnsupportedFeatureError
from dspy_ash.lm._base import LM_CLASS_STATE_KEY, BaseLM
from dspy_ash.lm._cache import CachedLM
from dspy_ash.lm._pricing import Price, PriceLike, as_price, cost_of
from dspy_ash.lm._rate_limit import RateLimitedLM
from dspy_ash.lm._registry import build_client, resolve
from dspy_ash.lm._retry import Backoff, RetryingLM
from dspy_ash.lm._secret import RedactedHeaders
from dspy_ash.lm._stream import OnDelta
from dspy_ash.lm._tokens import count_tokens, estimate_tokens
from dspy_ash.lm._types import Choice, LMRequest, LMResponse
from dspy_ash.lm.providers._base import HTTPProviderLM
from dspy_ash.lm.providers._openai_compat import OpenAICompatLM

logger = logging.getLogger("dspy_ash.lm")

DEFAULT_TIMEOUT = 600.0
# OpenAI reasoning models (o1, o3-mini, o4-mini-2025-04-16, gpt-5, gpt-5-mini; not gpt-5-chat) take
# max_completion_tokens and only the default temperature.
_REASONING = re.compile(r"^(?:o[1345](?:-[\w.-]+)?|gpt-5(?!-chat)(?:-[\w.-]+)?)$", re.IGNORECASE)
_REASONING_MIN_TOKENS = 16_000
# Settings of the client itself: they are attributes, never request kwargs, so they reach neither the
# provider's body, the cache key, the history nor saved state (api_key) unless listed in dump_state.
_CLIENT_OPTIONS = (
    "api_key",
    "api_base",
    "base_url",
    "timeout",
    "rpm",
    "tpm",
    "max_concurrency",
    "provider",
    "prices",
    "headers",
)
# Attributes whose change needs a new client stack on copy().
_STACK_ATTRIBUTES = {"model", "num_retries", "backoff", *_CLIENT_OPTIONS}


def assemble_stack(
    client: HTTPProviderLM,
    *,
    num_retries: int,
    backoff: Backoff | None = None,
    max_concurrency: int | None = None,
    rpm: float | None = None,
    tpm: float | None = None,
) -> BaseLM:
    """The wrappers around a provider client, in the order the module docstring explains; chat calls
    (`LM`) and embeddings (`Embedder`) go through the same stack."""
    inner: BaseLM = client
    if max_concurrency or rpm or tpm:
        inner = RateLimitedLM(inner, max_concurrency=max_concurrency, rpm=rpm, tpm=tpm)
    retrying = RetryingLM(inner, num_retries, backoff=backoff)
    return CachedLM(retrying, api_base=client.endpoint.api_base)


def _check_model_type(model_type: str) -> None:
    if model_type not in ("chat", "text"):
        raise UnsupportedFeatureError(f"model_type={model_type!r}: dspy-ash speaks chat and text completions")


def _check_rollout_id(kwargs: dict[str, Any], temperature: float | None) -> None:
    """Drop `rollout_id=None` (DSPy sends no such key); warn when a rollout id cannot vary the reply."""
    if kwargs.get("rollout_id", 0) is None:
        kwargs.pop("rollout_id")
    elif "rollout_id" in kwargs and temperature == 0:
        logger.warning(
            "rollout_id only changes the cache key: with temperature=0 the provider will likely "
            "return the same reply. Set temperature > 0 for varied samples."
        )


def _reasoning_max_tokens(
    model: str, temperature: float | None, max_tokens: int | None, kwargs: dict[str, Any]
) -> int | None:
    """A reasoning model's token limit, checked with its temperature against OpenAI's rules."""
    if max_tokens is None:  # DSPy accepts the limit under its wire name too (saved states hold it)
        max_tokens = kwargs.pop("max_completion_tokens", None)
    if temperature not in (None, 1.0) or (max_tokens is not None and max_tokens < _REASONING_MIN_TOKENS):
        raise LMConfigurationError(
            "OpenAI's reasoning models require passing temperature=1.0 or None and max_tokens >= 16000 "
            "or None to `dspy.LM(...)`, e.g., dspy.LM('openai/gpt-5', temperature=1.0, max_tokens=16000)",
            model=model,
            provider=model.partition("/")[0] if "/" in model else None,
        )
    return max_tokens


def _refuse_dspy_only_options(*, engine: Any, async_engine: Any, prompt_cache: Any) -> None:
    """DSPy's engine choice and lm15 prompt caching have no counterpart: refuse them clearly rather than
    send them to the provider."""
    if engine not in ("auto", "litellm", "lm15", None) or async_engine is not None:
        raise UnsupportedFeatureError(
            "dspy-ash's LM speaks HTTP itself; custom DSPy engines (engine=, async_engine=) are not supported. "
            "Subclass dspy.BaseLM for a custom client."
        )
    if prompt_cache is not None:
        raise UnsupportedFeatureError(
            "prompt_cache (DSPy's lm15 CacheConfig for provider-side prompt caching) is not supported; "
            "providers that cache prompts automatically (OpenAI, DeepSeek) still do"
        )


def is_reasoning_model(model: str) -> bool:
    return bool(_REASONING.match(model.rsplit("/", 1)[-1]))


class LM(BaseLM):
    """A language model behind a provider: `LM("openai/gpt-4o-mini", temperature=..., max_tokens=...)`.
    The `provider/` prefix picks the wire format and address (lm/registry.py); `api_key`/`api_base`
    override the environment's. Calls go through the cache (`cache`), retries (`num_retries`,
    `backoff`) and limits (`rpm`, `tpm`, `max_concurrency`); other keyword arguments are sent with every
    request. Call it as `lm("prompt")`, `lm(messages=[...])` or `await lm.acall(...)`."""

    def __init__(
        self,
        model: str,
        model_type: str = "chat",
        temperature: float | None = None,
        max_tokens: int | None = None,
        cache: bool = True,
        num_retries: int = 3,
        callbacks: list[Any] | None = None,
        api_key: str | None = None,
        api_base: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        rpm: float | None = None,
        tpm: float | None = None,
        max_concurrency: int | None = None,
        provider: str | None = None,
        prices: Mapping[str, PriceLike] | None = None,
        headers: Mapping[str, str] | None = None,
        backoff: Backoff | None = None,
        finetuning_model: str | None = None,
        launch_kwargs: dict[str, Any] | None = None,
        train_kwargs: dict[str, Any] | None = None,
        use_developer_role: bool = False,
        engine: Any = "auto",
        async_engine: Any = None,
        prompt_cache: Any = None,
        **kwargs: Any,
    ) -> None:
        # DSPy's own options are named here so that none reaches the provider's body as an unknown argument
        _refuse_dspy_only_options(engine=engine, async_engine=async_engine, prompt_cache=prompt_cache)
        _check_model_type(model_type)
        api_base = api_base or kwargs.pop("base_url", None)
        _check_rollout_id(kwargs, temperature)
        if is_reasoning_model(model):
            max_tokens = _reasoning_max_tokens(model, temperature, max_tokens, kwargs)
            super().__init__(model, model_type, temperature, None, cache, num_retries, callbacks, **kwargs)
            self.kwargs.pop("max_tokens")
            self.kwargs["max_completion_tokens"] = max_tokens
        else:
            super().__init__(
                model, model_type, temperature, max_tokens, cache, num_retries, callbacks, **kwargs
            )
        self.api_key = api_key
        self.api_base = api_base
        self.timeout = timeout
        self.rpm = rpm
        self.tpm = tpm
        self.max_concurrency = max_concurrency
        self.provider = provider
        self.prices: dict[str, Price] = {k: as_price(v) for k, v in (prices or {}).items()}
        self.headers = RedactedHeaders(headers or {})  # may carry credentials (a proxy's, a gateway's)
        self.finetuning_model = finetuning_model
        self.launch_kwargs = dict(launch_kwargs or {})
        self.train_kwargs = dict(train_kwargs or {})
        # As in DSPy, system messages become developer messages only for the Responses API, which dspy-ash
        # does not speak: the option is kept (and saved) so DSPy programs load, and changes no chat request.
        self.use_developer_role = use_developer_role
        self.backoff = backoff
        self._build_stack()

    def _build_stack(self) -> None:
        resolved = resolve(self.model, self.provider, self.api_base)
        client = build_client(
            resolved, api_key=self.api_key, api_base=self.api_base, timeout=self.timeout, headers=self.headers
        )
        # the key now lives only in the client's Endpoint (as a Secret); drop the plain copy
        self.api_key = None
        if self.model_type == "text" and not isinstance(client, OpenAICompatLM):
            raise UnsupportedFeatureError(
                f"model_type='text' needs an OpenAI-compatible server, not {resolved.provider}"
            )
        self._client = client
        # what the adapters may ask of this LM is what its wire format supports
        self.supported_params = client.supported_params
        self.supports_function_calling = client.supports_function_calling
        self.supports_response_schema = client.supports_response_schema
        self._stack: BaseLM = assemble_stack(
            client,
            num_retries=self.num_retries,
            backoff=self.backoff,
            max_concurrency=self.max_concurrency,
            rpm=self.rpm,
            tpm=self.tpm,
        )

    @property
    def client(self) -> HTTPProviderLM:
        """The provider client at the bottom of the stack."""
        return self._client

    @property
    def stack(self) -> BaseLM:
        return self._stack

    @property
    def supports_reasoning(self) -> bool:
        return is_reasoning_model(self.model)

    def build_request(
        self, prompt: str | None = None, messages: list[dict[str, Any]] | None = None, **kwargs: Any
    ) -> LMRequest:
        misplaced = sorted(set(kwargs) & set(_CLIENT_OPTIONS))
        if misplaced:
            raise LMConfigurationError(
                f"{', '.join(misplaced)} configure the client: pass them to LM(...), not to a call"
            )
        if "max_tokens" in kwargs and "max_completion_tokens" in self.kwargs:
            kwargs["max_completion_tokens"] = kwargs.pop("max_tokens")
        return super().build_request(prompt, messages, **kwargs)

    async def request(self, req: LMRequest) -> LMResponse:
        started = time.perf_counter()
        return self._measured(await self._stack.request(req), started)

    async def request_streaming(self, req: LMRequest, on_delta: OnDelta) -> LMResponse:
        started = time.perf_counter()
        return self._measured(await self._stack.request_streaming(req, on_delta), started)

    def _measured(self, response: LMResponse, started: float) -> LMResponse:
        if not response.cache_hit:
            response.latency = time.perf_counter() - started
            if response.cost is None:
                response.cost = cost_of(self.model, response.usage, self.prices)
        return response

    async def astream(
        self, prompt: str | None = None, messages: list[dict[str, Any]] | None = None, **kwargs: Any
    ) -> AsyncIterator[str]:
        """Text deltas of the first choice as they arrive (OpenAI-compatible, Anthropic and Ollama providers).
        Streams are not cached; the whole text is added to the history at the end."""
        req = self.build_request(prompt, messages, **kwargs)
        parts: list[str] = []
        async for chunk in self._stack.stream(req):
            parts.append(chunk)
            yield chunk
        response = LMResponse(choices=[Choice(text="".join(parts))], model=self.model)
        self._remember(req, response, {})

    def count_tokens(self, messages: list[dict[str, Any]] | str) -> int:
        """The exact prompt token count with tiktoken (OpenAI's tokenizers). Raises when tiktoken or its
        encoding is unavailable; `estimate_tokens` always answers."""
        msgs = [{"role": "user", "content": messages}] if isinstance(messages, str) else messages
        total, exact = count_tokens(msgs, self.model.rsplit("/", 1)[-1])
        if not exact:
            raise UnsupportedFeatureError(
                "exact token counts need tiktoken and its encoding file; "
                "use lm.estimate_tokens(...) for an estimate"
            )
        return total

    def estimate_tokens(self, messages: list[dict[str, Any]] | str) -> int:
        """An approximate prompt token count (about 4 characters per token), no tokenizer needed."""
        msgs = [{"role": "user", "content": messages}] if isinstance(messages, str) else messages
        return estimate_tokens(msgs)

    def copy(self, **kwargs: Any) -> LM:
        new = super().copy(**kwargs)
        assert isinstance(new, LM)
        if _STACK_ATTRIBUTES & set(kwargs):
            if "api_key" not in kwargs:
                new.api_key = (
                    self._client.endpoint.api_key.reveal() if self._client.endpoint.api_key else None
                )
            new._build_stack()
        return new

    def launch(self, launch_kwargs: dict[str, Any] | None = None) -> None:
        raise UnsupportedFeatureError(
            "LM.launch() starts a local model server through a fine-tuning provider, which dspy-ash does not "
            "have; start the server yourself and pass api_base= to dspy.LM"
        )

    def kill(self, launch_kwargs: dict[str, Any] | None = None) -> None:
        raise UnsupportedFeatureError(
            "LM.kill() stops a server LM.launch() started; dspy-ash launches none (stop your server yourself)"
        )

    def finetune(self, train_data: Any, train_data_format: Any = None, train_kwargs: Any = None) -> Any:
        raise UnsupportedFeatureError(
            "LM.finetune() trains model weights through a provider, which dspy-ash does not do; optimize the "
            "program's prompts instead (BootstrapFewShot, MIPROv2, GEPA)"
        )

    def dump_state(self) -> dict[str, Any]:
        state = super().dump_state()
        state[LM_CLASS_STATE_KEY] = "dspy.clients.lm.LM"  # DSPy's name, so DSPy can load our files
        if "max_completion_tokens" in state:  # DSPy writes reasoning models' limit back as max_tokens
            state["max_tokens"] = state.pop("max_completion_tokens")
        if self.api_base is not None:
            state["api_base"] = self.api_base
        state.update(
            finetuning_model=self.finetuning_model,
            launch_kwargs=self.launch_kwargs,
            train_kwargs=self.train_kwargs,
        )
        if self.use_developer_role:
            state["use_developer_role"] = True
        return state

    def __repr__(self) -> str:
        return f"LM(model={self.model!r}, api_base={self._client.endpoint.api_base!r})"
