"""Cohere Chat API v2: `POST /v2/chat`, bearer auth, replies as content blocks, usage in billed units.

Requests arrive in OpenAI's chat shape (what adapters produce) and are translated here; replies are
translated back, so the rest of the engine sees one format.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from dspy_ash.lm._http import decode_stream_item, post_json, post_sse
from dspy_ash.lm._http_errors import error_from_stream_event, malformed_reply, request_id_from
from dspy_ash.lm._types import Choice, LMRequest, LMResponse, Usage
from dspy_ash.lm._wire import text_parts
from dspy_ash.lm.providers._base import HTTPProviderLM

CHAT_PATH = "/v2/chat"

# OpenAI parameter name -> Cohere's name for it; others are left out (the API refuses unknown fields).
_RENAMED = {
    "temperature": "temperature",
    "max_tokens": "max_tokens",
    "max_completion_tokens": "max_tokens",
    "top_p": "p",
    "top_k": "k",
    "seed": "seed",
    "frequency_penalty": "frequency_penalty",
    "presence_penalty": "presence_penalty",
}
_FINISH = {
    "COMPLETE": "stop",
    "STOP_SEQUENCE": "stop",
    "MAX_TOKENS": "length",
    "TOOL_CALL": "tool_calls",
}


def _messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """System and assistant turns as plain text; user turns keep content parts (Cohere accepts OpenAI's
    `text` and `image_url` parts); `developer` is OpenAI's newer name for `system`."""
    out: list[dict[str, Any]] = []
    for msg in messages:
        role = msg.get("role")
        content = msg.get("content")
        if role in ("system", "developer"):
            out.append({"role": "system", "content": text_parts(content)})
        elif role == "user" and isinstance(content, list):
            out.append({"role": "user", "content": list(content)})  # pyright: ignore[reportUnknownArgumentType]
        else:
            out.append({"role": role, "content": text_parts(content)})
    return out


class CohereLM(HTTPProviderLM):
    supported_params = frozenset(
        {
            "temperature",
            "max_tokens",
            "max_completion_tokens",
            "n",
            "stop",
            "top_p",
            "top_k",
            "seed",
            "frequency_penalty",
            "presence_penalty",
        }
    )

    def payload(self, req: LMRequest) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": _messages(req.messages)}
        for ours, theirs in _RENAMED.items():
            if req.params.get(ours) is not None:
                body[theirs] = req.params[ours]
        stop = req.params.get("stop")
        if stop:
            body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
        return body

    async def request_one(self, req: LMRequest) -> LMResponse:
        data, http = await post_json(
            self.endpoint.url(CHAT_PATH),
            self.payload(req),
            headers=self.headers(),
            timeout=self.endpoint.timeout,
            provider=self.provider,
            model=self.model,
        )
        return parse_chat(data, request_id_from(http.headers), self.provider, self.model)

    async def stream(self, req: LMRequest) -> AsyncIterator[str]:
        async for event, data in post_sse(
            self.endpoint.url(CHAT_PATH),
            {**self.payload(req), "stream": True},
            headers=self.headers(),
            timeout=self.endpoint.timeout,
            provider=self.provider,
            model=self.model,
        ):
            payload = decode_stream_item(data, "event", provider=self.provider, model=self.model)
            kind = event or payload.get("type")  # the event name is repeated as `type` in the data
            delta = payload.get("delta") or {}
            if kind == "content-delta":
                text = ((delta.get("message") or {}).get("content") or {}).get("text")
                if text:
                    yield str(text)
            elif kind == "message-end":
                # a generation that failed after the 200 ends with finish_reason ERROR and a message
                if delta.get("error") or delta.get("finish_reason") == "ERROR":
                    message = delta.get("error") or "generation failed"
                    raise error_from_stream_event(
                        {"error": {"type": "server_error", "message": message}},
                        provider=self.provider,
                        model=self.model,
                    )
                return


def _usage(data: dict[str, Any]) -> Usage:
    """Billed units are what Cohere charges for (cost uses them); `tokens` also counts its own prompt
    template, so it is only the fallback when billed units are missing."""
    raw = data.get("usage") or {}
    billed = raw.get("billed_units") or {}
    tokens = raw.get("tokens") or {}
    prompt = int(billed.get("input_tokens") or tokens.get("input_tokens") or 0)
    completion = int(billed.get("output_tokens") or tokens.get("output_tokens") or 0)
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


def parse_chat(data: dict[str, Any], request_id: str | None, provider: str, model: str) -> LMResponse:
    message = data.get("message")
    blocks = message.get("content", []) if isinstance(message, dict) else None  # an empty reply has none
    if not isinstance(blocks, list):
        raise malformed_reply(
            "The reply has no message content",
            data,
            provider=provider,
            model=model,
            request_id=request_id or data.get("id"),
        )
    texts = [str(b.get("text", "")) for b in blocks if isinstance(b, dict) and b.get("type") == "text"]
    thinking = [
        str(b.get("thinking", "")) for b in blocks if isinstance(b, dict) and b.get("type") == "thinking"
    ]
    reason = data.get("finish_reason")
    choice = Choice(
        text="".join(texts),
        finish_reason=_FINISH.get(str(reason), reason),
        reasoning_content="".join(thinking) if thinking else None,
    )
    return LMResponse(
        choices=[choice],
        usage=_usage(data),
        model=model,
        request_id=request_id or data.get("id"),
        raw=data,
    )
