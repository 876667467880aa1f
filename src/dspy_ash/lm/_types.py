"""Wire-neutral request and response of one LM call: what every provider speaks and every wrapper passes on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "cached_tokens": self.cached_tokens,
        }


@dataclass(slots=True)
class Choice:
    text: str | None
    tool_calls: list[dict[str, Any]] | None = None
    finish_reason: str | None = None
    logprobs: Any = None
    reasoning_content: str | None = None
    citations: list[dict[str, Any]] | None = None  # passages of the given documents the text quotes

    def as_output(self) -> str | dict[str, Any]:
        """What `lm(...)` returns for this choice: the text, or a dict when there is more than text."""
        if (
            self.tool_calls is None
            and self.logprobs is None
            and self.reasoning_content is None
            and self.citations is None
        ):
            return self.text or ""
        out: dict[str, Any] = {"text": self.text}
        if self.tool_calls is not None:
            out["tool_calls"] = self.tool_calls
        if self.logprobs is not None:
            out["logprobs"] = self.logprobs
        if self.reasoning_content is not None:
            out["reasoning_content"] = self.reasoning_content
        if self.citations is not None:
            out["citations"] = self.citations
        return out


@dataclass(slots=True)
class LMRequest:
    """One call. `params` are the sampling and provider parameters (temperature, max_tokens, n, tools, ...)."""

    model: str
    messages: list[dict[str, Any]]
    params: dict[str, Any] = field(default_factory=dict)
    model_type: str = "chat"
    rollout_id: Any = None  # part of the cache key, never sent to the provider
    cache: bool = True
    namespace: str | None = None  # cache namespace (a tenant); part of the cache key
    stream: bool = False
    call_kwargs: dict[str, Any] = field(
        default_factory=dict
    )  # what the caller passed (DSPy's history shows these)
    prompt: str | None = None  # the prompt string when the caller gave one (a DSPy `forward` receives it)


@dataclass(slots=True)
class LMResponse:
    choices: list[Choice]
    usage: Usage = field(default_factory=Usage)
    model: str | None = None
    cost: float | None = None
    cache_hit: bool = False
    request_id: str | None = None
    latency: float | None = None
    raw: dict[str, Any] | None = None

    @property
    def outputs(self) -> list[str | dict[str, Any]]:
        return [c.as_output() for c in self.choices]


@dataclass(slots=True)
class EmbeddingRequest:
    """One embeddings call: `inputs` texts to vectors. `params` go to the provider (dimensions, ...)."""

    model: str
    inputs: list[str]
    params: dict[str, Any] = field(default_factory=dict)
    cache: bool = True
    namespace: str | None = None  # cache namespace (a tenant); part of the cache key


@dataclass(slots=True)
class EmbeddingResponse:
    """One vector per input, in input order."""

    vectors: list[list[float]]
    usage: Usage = field(default_factory=Usage)
    model: str | None = None
    cost: float | None = None
    cache_hit: bool = False  # every vector came from the cache
    request_id: str | None = None
    latency: float | None = None
