"""Anthropic Messages API: system prompt as a top-level `system`, content blocks, `x-api-key` auth.

Requests arrive in OpenAI's chat shape (what adapters produce) and are translated here; replies are
translated back, so the rest of the engine sees one format. Content parts become Anthropic's blocks:
`image_url` an `image` block, `file` a `document` block (or an `image` block for an image file), each with
a base64, text, url or file source; `document` blocks (dspy.experimental.Document) are Anthropic's own.
The citations of a reply's text blocks come back as the choice's `citations`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

from dspy_ash.errors import UnsupportedFeatureError
from dspy_ash.lm._http import decode_stream_item, post_json, post_sse
from dspy_ash.lm._http_errors import error_from_stream_event, malformed_reply, request_id_from
from dspy_ash.lm._secret import RedactedHeaders
from dspy_ash.lm._types import Choice, LMRequest, LMResponse, Usage
from dspy_ash.lm._wire import text_parts
from dspy_ash.lm.providers._base import HTTPProviderLM

ANTHROPIC_VERSION = "2023-06-01"
FILES_API_BETA = "files-api-2025-04-14"  # a `file_id` source needs Anthropic's Files API beta
DEFAULT_MAX_TOKENS = 4096  # the API requires max_tokens; this is what an unset value means

# OpenAI-style parameters that the Messages API understands (others, e.g. presence_penalty, are refused
# by the API with a 400, so they are left out rather than sent).
_PASSED = ("temperature", "top_p", "top_k", "metadata", "thinking", "service_tier")
_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls"}


def _block(part: Any) -> dict[str, Any]:
    if not isinstance(part, dict):
        return {"type": "text", "text": str(part)}
    kind = part.get("type")
    if kind == "image_url":
        url = str((part.get("image_url") or {}).get("url", ""))
        if url.startswith("data:"):
            media_type, data = _split_data_uri(url)
            return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}
        return {"type": "image", "source": {"type": "url", "url": url}}
    if kind == "file":
        return _file_block(part.get("file") or {})
    if kind == "input_audio":
        raise UnsupportedFeatureError("Anthropic's Messages API takes no audio input (a dspy.Audio value).")
    return dict(part)


def _file_block(file: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI `file` part (dspy.File) as a document block, or an image block for an image file."""
    if file.get("file_id"):
        block: dict[str, Any] = {"type": "document", "source": {"type": "file", "file_id": file["file_id"]}}
    else:
        media_type, data = _split_data_uri(str(file.get("file_data") or ""))
        if media_type.startswith("image/"):
            return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}
        if media_type == "text/plain":  # Anthropic takes plain text as text, not base64
            text = base64.b64decode(data).decode("utf-8")
            source = {"type": "text", "media_type": media_type, "data": text}
        else:
            source = {"type": "base64", "media_type": media_type, "data": data}
        block = {"type": "document", "source": source}
    if file.get("filename"):
        block["title"] = file["filename"]
    return block


def _split_data_uri(uri: str) -> tuple[str, str]:
    """(media type, base64 data) of a `data:<type>;base64,<data>` URI."""
    header, _, data = uri.removeprefix("data:").partition(",")
    return header.split(";", 1)[0] or "application/octet-stream", data


def _uses_files_api(messages: list[dict[str, Any]]) -> bool:
    return any(
        isinstance(block, dict) and (block.get("source") or {}).get("type") == "file"
        for message in messages
        if isinstance(message.get("content"), list)
        for block in message["content"]
    )


def _content(content: Any) -> Any:
    return [_block(p) for p in content] if isinstance(content, list) else content


def _messages(messages: list[dict[str, Any]]) -> tuple[str | None, list[dict[str, Any]]]:
    """Split off the system prompt and translate tool turns into tool_use / tool_result blocks."""
    system: list[str] = []
    out: list[dict[str, Any]] = []
    for msg in messages:
        role = msg.get("role")
        if role in ("system", "developer"):
            system.append(text_parts(msg.get("content")))
        elif role == "tool":
            out.append(
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": msg.get("tool_call_id"),
                            "content": text_parts(msg.get("content")),
                        }
                    ],
                }
            )
        elif role == "assistant" and msg.get("tool_calls"):
            blocks: list[dict[str, Any]] = []
            if msg.get("content"):
                blocks.append({"type": "text", "text": text_parts(msg["content"])})
            for call in msg["tool_calls"]:
                fn = call.get("function") or {}
                args = fn.get("arguments") or "{}"
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": call.get("id"),
                        "name": fn.get("name"),
                        "input": json.loads(args) if isinstance(args, str) else args,
                    }
                )
            out.append({"role": "assistant", "content": blocks})
        else:
            out.append({"role": role, "content": _content(msg.get("content"))})
    return ("\n\n".join(system) if system else None), out


def _tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    converted: list[dict[str, Any]] = []
    for tool in tools:
        fn = tool.get("function") if tool.get("type") == "function" else None
        if fn is None:
            converted.append(tool)  # already in Anthropic's shape
        else:
            converted.append(
                {
                    "name": fn.get("name"),
                    "description": fn.get("description", ""),
                    "input_schema": fn.get("parameters") or {"type": "object", "properties": {}},
                }
            )
    return converted


def _tool_choice(choice: Any) -> Any:
    if choice == "required":
        return {"type": "any"}
    if choice in ("auto", "none"):
        return {"type": choice}
    if isinstance(choice, dict) and choice.get("type") == "function":
        return {"type": "tool", "name": (choice.get("function") or {}).get("name")}
    return choice


class AnthropicLM(HTTPProviderLM):
    supported_params = frozenset(
        {
            "temperature",
            "max_tokens",
            "n",
            "stop",
            "top_p",
            "top_k",
            "tools",
            "tool_choice",
            "thinking",
            "metadata",
        }
    )
    supports_function_calling = True

    def headers(self) -> RedactedHeaders:
        headers = RedactedHeaders(
            {
                "Content-Type": "application/json",
                "anthropic-version": ANTHROPIC_VERSION,
                **self.endpoint.headers,
            }
        )
        if self.endpoint.api_key is not None:
            headers["x-api-key"] = self.endpoint.api_key.reveal()
        return headers

    def headers_for(self, body: dict[str, Any]) -> RedactedHeaders:
        """The headers of one request: a file referenced by id also needs the Files API beta."""
        headers = self.headers()
        if _uses_files_api(body["messages"]):
            betas = [b for b in str(headers.get("anthropic-beta", "")).split(",") if b.strip()]
            headers["anthropic-beta"] = ",".join([*betas, FILES_API_BETA])
        return headers

    def payload(self, req: LMRequest) -> dict[str, Any]:
        system, messages = _messages(req.messages)
        params = req.params
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": params.get("max_tokens")
            or params.get("max_completion_tokens")
            or DEFAULT_MAX_TOKENS,
        }
        if system is not None:
            body["system"] = system
        for key in _PASSED:
            if key in params:
                body[key] = params[key]
        stop = params.get("stop")
        if stop:
            body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
        if params.get("tools"):
            body["tools"] = _tools(params["tools"])
        if "tool_choice" in params:
            body["tool_choice"] = _tool_choice(params["tool_choice"])
        return body

    async def request_one(self, req: LMRequest) -> LMResponse:
        body = self.payload(req)
        data, http = await post_json(
            self.endpoint.url("/messages"),
            body,
            headers=self.headers_for(body),
            timeout=self.endpoint.timeout,
            provider=self.provider,
            model=self.model,
        )
        return parse_message(data, request_id_from(http.headers), self.provider, self.model)

    async def stream(self, req: LMRequest) -> AsyncIterator[str]:
        payload = {**self.payload(req), "stream": True}
        async for event, data in post_sse(
            self.endpoint.url("/messages"),
            payload,
            headers=self.headers_for(payload),
            timeout=self.endpoint.timeout,
            provider=self.provider,
            model=self.model,
        ):
            if event == "message_stop":
                return
            if event not in ("content_block_delta", "error"):
                continue
            payload = decode_stream_item(data, "event", provider=self.provider, model=self.model)
            if event == "error":
                raise error_from_stream_event(payload, provider=self.provider, model=self.model)
            delta = payload.get("delta") or {}
            if delta.get("type") == "text_delta" and delta.get("text"):
                yield delta["text"]


def parse_message(data: dict[str, Any], request_id: str | None, provider: str, model: str) -> LMResponse:
    blocks = data.get("content")
    if not isinstance(blocks, list):
        raise malformed_reply(
            "The reply has no content blocks",
            data,
            provider=provider,
            model=model,
            request_id=request_id,
        )
    texts: list[str] = []
    thinking: list[str] = []
    calls: list[dict[str, Any]] = []
    citations: list[dict[str, Any]] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "text":
            texts.append(str(block.get("text", "")))
            # Each citation supports the text of the block it is attached to.
            for citation in block.get("citations") or []:
                citations.append({**citation, "supported_text": block.get("text", "")})
        elif kind == "thinking":
            thinking.append(str(block.get("thinking", "")))
        elif kind == "tool_use":
            calls.append(
                {
                    "id": block.get("id"),
                    "type": "function",
                    "function": {
                        "name": block.get("name"),
                        "arguments": json.dumps(block.get("input") or {}),
                    },
                }
            )
    raw_usage = data.get("usage") or {}
    read = int(raw_usage.get("cache_read_input_tokens") or 0)
    written = int(raw_usage.get("cache_creation_input_tokens") or 0)
    # OpenAI's convention (which the rest of the engine uses): prompt tokens include the cached ones.
    prompt = int(raw_usage.get("input_tokens") or 0) + read + written
    completion = int(raw_usage.get("output_tokens") or 0)
    usage = Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        cached_tokens=read,
    )
    choice = Choice(
        text="".join(texts),
        tool_calls=calls or None,
        finish_reason=_FINISH.get(str(data.get("stop_reason")), data.get("stop_reason")),
        reasoning_content="".join(thinking) if thinking else None,
        citations=citations or None,
    )
    return LMResponse(
        choices=[choice],
        usage=usage,
        model=data.get("model"),
        request_id=request_id or data.get("id"),
        raw=data,
    )
