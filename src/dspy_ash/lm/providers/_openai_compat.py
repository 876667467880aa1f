"""OpenAI chat completions and embeddings, the wire format of OpenAI, vLLM, llama.cpp, Together, Groq, OpenRouter, ...

Written once; every OpenAI-compatible provider is this class with another `Endpoint`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from dspy_ash.errors import UnsupportedFeatureError
from dspy_ash.lm._http import decode_stream_item, post_json, post_sse
from dspy_ash.lm._http_errors import error_from_stream_event, malformed_reply, request_id_from
from dspy_ash.lm._types import Choice, EmbeddingRequest, EmbeddingResponse, LMRequest, LMResponse, Usage
from dspy_ash.lm._wire import jsonable_params
from dspy_ash.lm.providers._base import Endpoint, HTTPProviderLM


class OpenAICompatLM(HTTPProviderLM):
    supported_params = frozenset(
        {
            "temperature",
            "max_tokens",
            "max_completion_tokens",
            "n",
            "stop",
            "top_p",
            "seed",
            "presence_penalty",
            "frequency_penalty",
            "logprobs",
            "top_logprobs",
            "response_format",
            "tools",
            "tool_choice",
            "reasoning_effort",
        }
    )
    supports_function_calling = True

    def __init__(self, model: str, endpoint: Endpoint) -> None:
        super().__init__(model, endpoint)
        # JSON schemas (structured outputs) are OpenAI's; compatible servers differ, but all take json_object
        self.supports_response_schema = endpoint.provider == "openai"

    def payload(self, req: LMRequest) -> dict[str, Any]:
        return {"model": self.model, "messages": req.messages, **jsonable_params(req.params)}

    async def request(self, req: LMRequest) -> LMResponse:
        if req.model_type == "text":
            return await self._text_completion(req)
        data, http = await post_json(
            self.endpoint.url("/chat/completions"),
            self.payload(req),
            headers=self.headers(),
            timeout=self.endpoint.timeout,
            provider=self.provider,
            model=self.model,
        )
        return parse_chat_completion(data, request_id_from(http.headers), self.provider, self.model)

    async def embed(self, req: EmbeddingRequest) -> EmbeddingResponse:
        """`/embeddings`: one vector per input, placed by each row's `index` (servers may reorder)."""
        data, http = await post_json(
            self.endpoint.url("/embeddings"),
            {"model": self.model, "input": req.inputs, **jsonable_params(req.params)},
            headers=self.headers(),
            timeout=self.endpoint.timeout,
            provider=self.provider,
            model=self.model,
        )
        request_id = request_id_from(http.headers)
        rows = data.get("data")
        if not isinstance(rows, list) or len(rows) != len(req.inputs):
            raise malformed_reply(
                f"The embeddings reply has no `data` list of {len(req.inputs)} vectors",
                data,
                provider=self.provider,
                model=self.model,
                request_id=request_id,
            )
        ordered = sorted(rows, key=lambda r: r.get("index", 0)) if all("index" in r for r in rows) else rows
        raw_usage = data.get("usage") or {}
        prompt = int(raw_usage.get("prompt_tokens") or 0)
        return EmbeddingResponse(
            vectors=[[float(x) for x in row["embedding"]] for row in ordered],
            usage=Usage(prompt_tokens=prompt, total_tokens=int(raw_usage.get("total_tokens") or prompt)),
            model=data.get("model"),
            request_id=request_id,
        )

    async def _text_completion(self, req: LMRequest) -> LMResponse:
        """`model_type="text"`: the legacy `/completions` endpoint (base models). The messages become one
        prompt the way DSPy builds it: their contents, then "BEGIN RESPONSE:", joined by blank lines."""
        prompt = "\n\n".join([_text_of(m.get("content")) for m in req.messages] + ["BEGIN RESPONSE:"])
        payload = {"model": self.model, "prompt": prompt, **jsonable_params(req.params)}
        data, http = await post_json(
            self.endpoint.url("/completions"),
            payload,
            headers=self.headers(),
            timeout=self.endpoint.timeout,
            provider=self.provider,
            model=self.model,
        )
        for choice in data.get("choices") or []:  # same shape as chat, with the text at the top
            choice.setdefault("message", {"role": "assistant", "content": choice.get("text")})
        return parse_chat_completion(data, request_id_from(http.headers), self.provider, self.model)

    async def stream(self, req: LMRequest) -> AsyncIterator[str]:
        if req.model_type == "text":
            raise UnsupportedFeatureError(
                "streaming text completions is not supported; use model_type='chat'"
            )
        payload = {**self.payload(req), "stream": True}
        async for _event, data in post_sse(
            self.endpoint.url("/chat/completions"),
            payload,
            headers=self.headers(),
            timeout=self.endpoint.timeout,
            provider=self.provider,
            model=self.model,
        ):
            if data == "[DONE]":
                return
            chunk = decode_stream_item(data, "chunk", provider=self.provider, model=self.model)
            if chunk.get("error"):
                raise error_from_stream_event(chunk, provider=self.provider, model=self.model)
            for choice in chunk.get("choices") or []:
                text = (choice.get("delta") or {}).get("content")
                if text and choice.get("index", 0) == 0:
                    yield text


def _text_of(content: Any) -> str:
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


def parse_chat_completion(
    data: dict[str, Any], request_id: str | None, provider: str, model: str
) -> LMResponse:
    raw_choices = data.get("choices")
    if not isinstance(raw_choices, list) or not raw_choices:
        raise malformed_reply(
            "The reply has no choices",
            data,
            provider=provider,
            model=model,
            request_id=request_id,
        )
    choices: list[Choice] = []
    for item in raw_choices:
        message = item.get("message") or {}
        choices.append(
            Choice(
                text=message.get("content"),
                tool_calls=message.get("tool_calls") or None,
                finish_reason=item.get("finish_reason"),
                logprobs=item.get("logprobs"),
                reasoning_content=message.get("reasoning_content"),
            )
        )
    raw_usage = data.get("usage") or {}
    details = raw_usage.get("prompt_tokens_details") or {}
    usage = Usage(
        prompt_tokens=int(raw_usage.get("prompt_tokens") or 0),
        completion_tokens=int(raw_usage.get("completion_tokens") or 0),
        total_tokens=int(raw_usage.get("total_tokens") or 0),
        cached_tokens=int(details.get("cached_tokens") or 0),
    )
    if not usage.total_tokens:
        usage.total_tokens = usage.prompt_tokens + usage.completion_tokens
    return LMResponse(
        choices=choices,
        usage=usage,
        model=data.get("model"),
        request_id=request_id or data.get("id"),
        raw=data,
    )
