"""What every HTTP provider client shares: where it talks to, with which key, and fan-out for `n`."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

from dspy_ash.lm._base import BaseLM
from dspy_ash.lm._secret import RedactedHeaders, Secret
from dspy_ash.lm._types import LMRequest, LMResponse, Usage


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where and how to reach a provider. The key is a `Secret`, so printing an endpoint shows no key."""

    provider: str
    api_base: str
    api_key: Secret | None = None
    timeout: float | None = 600.0
    headers: Mapping[str, str] = field(default_factory=dict[str, str])

    def url(self, path: str) -> str:
        return self.api_base.rstrip("/") + path


class HTTPProviderLM(BaseLM):
    """A provider client: `model` is the provider's own model name (no `provider/` prefix).
    Each sets BaseLM's capability attributes for its wire format."""

    def __init__(self, model: str, endpoint: Endpoint) -> None:
        super().__init__(model, cache=False, num_retries=0)
        self.endpoint = endpoint

    @property
    def provider(self) -> str:
        return self.endpoint.provider

    def headers(self) -> RedactedHeaders:
        """JSON with the key as a bearer token, the scheme most providers speak (Anthropic overrides it)."""
        headers = RedactedHeaders({"Content-Type": "application/json", **self.endpoint.headers})
        if self.endpoint.api_key is not None:
            headers["Authorization"] = f"Bearer {self.endpoint.api_key.reveal()}"
        return headers

    async def fan_out(self, req: LMRequest) -> LMResponse:
        """For APIs without `n`: send n single-choice requests at once and merge them into one response."""
        n = int(req.params.get("n") or 1)
        if n == 1 and "n" not in req.params:
            return await self.request_one(req)
        single = dataclasses.replace(req, params={k: v for k, v in req.params.items() if k != "n"})
        parts = await asyncio.gather(*(self.request_one(single) for _ in range(n)))
        usage = Usage()
        for part in parts:
            usage.prompt_tokens += part.usage.prompt_tokens
            usage.completion_tokens += part.usage.completion_tokens
            usage.total_tokens += part.usage.total_tokens
            usage.cached_tokens += part.usage.cached_tokens
        first = parts[0]
        return LMResponse(
            choices=[c for p in parts for c in p.choices],
            usage=usage,
            model=first.model,
            request_id=first.request_id,
            raw=first.raw if n == 1 else {"responses": [p.raw for p in parts]},
        )

    async def request(self, req: LMRequest) -> LMResponse:
        return await self.fan_out(req)

    async def request_one(self, req: LMRequest) -> LMResponse:
        """One request for one choice; providers without `n` implement this instead of `request`."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, api_base={self.endpoint.api_base!r})"
