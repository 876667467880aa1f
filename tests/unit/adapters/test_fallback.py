"""ChatAdapter's JSON fallback, as DSPy 3.4.1's `ChatAdapter.__call__`/`acall` have it: a reply the chat
format cannot parse is retried once with a JSONAdapter built from the adapter's settings; any other error
(a context-window error among them) propagates; a JSONAdapter (or a subclass) never retries with itself;
`use_json_adapter_fallback=False` turns the retry off."""

from __future__ import annotations

import pytest

import dspy_ash as dspy
from dspy_ash.adapters._chat import ChatAdapter
from dspy_ash.adapters._json_adapter import JSONAdapter
from dspy_ash.errors import AdapterParseError, ContextWindowExceededError
from dspy_ash.events import BaseCallback
from dspy_ash.lm._types import Choice, LMResponse

JSON_REQUEST = "Respond with a JSON object"


class _Scripted(dspy.BaseLM):
    """Replies from a list; an exception in the list is raised instead."""

    def __init__(self, replies: list[str | BaseException]):
        super().__init__("scripted", cache=False)
        self.replies = list(replies)
        self.calls: list[str] = []

    async def request(self, req):
        self.calls.append(str(req.messages[-1]["content"]))
        reply = self.replies.pop(0)
        if isinstance(reply, BaseException):
            raise reply
        return LMResponse(choices=[Choice(text=reply)])


def _predict(lm, adapter):
    with dspy.context(lm=lm, adapter=adapter):
        return dspy.Predict("question -> answer")(question="q")


class _MyChat(ChatAdapter):
    pass


class _MyJSON(JSONAdapter):
    pass


@pytest.mark.parametrize("adapter", [ChatAdapter(), _MyChat()], ids=["chat", "chat-subclass"])
def test_unparseable_chat_reply_is_retried_once_as_json(adapter):
    lm = _Scripted(["no markers", '{"answer": "ok"}'])
    assert _predict(lm, adapter).answer == "ok"
    assert len(lm.calls) == 2
    assert JSON_REQUEST not in lm.calls[0] and JSON_REQUEST in lm.calls[1]


def test_fallback_keeps_the_adapters_callbacks():
    seen: list[str] = []

    class Recorder(BaseCallback):
        def on_adapter_parse_start(self, call_id, instance, inputs):
            seen.append(type(instance).__name__)

    lm = _Scripted(["no markers", '{"answer": "ok"}'])
    assert _predict(lm, ChatAdapter(callbacks=[Recorder()])).answer == "ok"
    assert seen == ["ChatAdapter", "JSONAdapter"]


@pytest.mark.parametrize(
    "adapter",
    [JSONAdapter(), _MyJSON(), ChatAdapter(use_json_adapter_fallback=False)],
    ids=["json", "json-subclass", "chat-fallback-off"],
)
def test_no_retry_where_there_is_no_fallback(adapter):
    lm = _Scripted(["not json, no markers", '{"answer": "never asked for"}'])
    with pytest.raises(AdapterParseError):
        _predict(lm, adapter)
    assert len(lm.calls) == 1


def test_a_context_window_error_propagates_without_a_retry():
    lm = _Scripted([ContextWindowExceededError("too long"), '{"answer": "never asked for"}'])
    with pytest.raises(ContextWindowExceededError):
        _predict(lm, ChatAdapter())
    assert len(lm.calls) == 1


def test_a_failed_fallback_raises_the_json_adapters_error():
    lm = _Scripted(["no markers", "still nothing"])
    with pytest.raises(AdapterParseError) as info:
        _predict(lm, ChatAdapter())
    assert info.value.adapter_name == "JSONAdapter" and info.value.lm_response == "still nothing"
