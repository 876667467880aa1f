"""Ollama's native `/api/chat` and `/api/embed` (sampling parameters go in `options`; token counts are eval counts)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from dspy_ash.errors import LMServerError
from dspy_ash.lm._http import post_json, post_json_lines
from dspy_ash.lm._http_errors import malformed_reply, request_id_from
from dspy_ash.lm._types import Choice, EmbeddingRequest, EmbeddingResponse, LMRequest, LMResponse, Usage
from dspy_ash.lm._wire import response_format_json
from dspy_ash.lm.providers._base import HTTPProviderLM

# OpenAI name -> Ollama option name
_OPTIONS = {
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "seed": "seed",
    "stop": "stop",
    "max_tokens": "num_predict",
    "num_ctx": "num_ctx",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
}


def _format(response_format: Any) -> Any:
    value = response_format_json(response_format)
    if isinstance(value, dict) and value.get("type") == "json_schema":
        return (value.get("json_schema") or {}).get("schema")
    return "json"


class OllamaChatLM(HTTPProviderLM):
    supported_params = frozenset({*_OPTIONS, "n", "response_format", "tools", "keep_alive"})
    supports_function_calling = True
    supports_response_schema = True  # `format` takes a JSON schema

    def payload(self, req: LMRequest) -> dict[str, Any]:
        params = req.params
        body: dict[str, Any] = {
            "model": self.model,
            "messages": req.messages,
            "stream": False,
            "options": {_OPTIONS[k]: v for k, v in params.items() if k in _OPTIONS},
        }
        if params.get("response_format"):
            body["format"] = _format(params["response_format"])
        if params.get("tools"):
            body["tools"] = params["tools"]
        if "keep_alive" in params:
            body["keep_alive"] = params["keep_alive"]
        return body

    async def stream(self, req: LMRequest) -> AsyncIterator[str]:
        """Text deltas from Ollama's newline-delimited JSON stream (`"stream": true`)."""
        async for item in post_json_lines(
            self.endpoint.url("/api/chat"),
            {**self.payload(req), "stream": True},
            headers=self.headers(),
            timeout=self.endpoint.timeout,
            provider=self.provider,
            model=self.model,
        ):
            if item.get("error"):
                raise LMServerError(str(item["error"]), provider=self.provider, model=self.model)
            text = (item.get("message") or {}).get("content")
            if text:
                yield text
            if item.get("done"):
                return

    async def embed(self, req: EmbeddingRequest) -> EmbeddingResponse:
        data, http = await post_json(
            self.endpoint.url("/api/embed"),
            {"model": self.model, "input": req.inputs, **req.params},
            headers=self.headers(),
            timeout=self.endpoint.timeout,
            provider=self.provider,
            model=self.model,
        )
        vectors = data.get("embeddings")
        if not isinstance(vectors, list) or len(vectors) != len(req.inputs):
            raise malformed_reply(
                f"The embed reply has no `embeddings` list of {len(req.inputs)} vectors",
                data,
                provider=self.provider,
                model=self.model,
            )
        prompt = int(data.get("prompt_eval_count") or 0)
        return EmbeddingResponse(
            vectors=[[float(x) for x in v] for v in vectors],
            usage=Usage(prompt_tokens=prompt, total_tokens=prompt),
            model=data.get("model"),
            request_id=request_id_from(http.headers),
        )

    async def request_one(self, req: LMRequest) -> LMResponse:
        data, http = await post_json(
            self.endpoint.url("/api/chat"),
            self.payload(req),
            headers=self.headers(),
            timeout=self.endpoint.timeout,
            provider=self.provider,
            model=self.model,
        )
        message = data.get("message")
        if not isinstance(message, dict):
            raise malformed_reply(
                "The reply has no message",
                data,
                provider=self.provider,
                model=self.model,
            )
        calls = [
            {
                "id": f"call_{i}",
                "type": "function",
                "function": {
                    "name": (c.get("function") or {}).get("name"),
                    "arguments": json.dumps((c.get("function") or {}).get("arguments") or {}),
                },
            }
            for i, c in enumerate(message.get("tool_calls") or [])
        ]
        prompt, completion = int(data.get("prompt_eval_count") or 0), int(data.get("eval_count") or 0)
        return LMResponse(
            choices=[
                Choice(
                    text=message.get("content"),
                    tool_calls=calls or None,
                    finish_reason=data.get("done_reason"),
                    reasoning_content=message.get("thinking"),
                )
            ],
            usage=Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion),
            model=data.get("model"),
            request_id=request_id_from(http.headers),
            raw=data,
        )
