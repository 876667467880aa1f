"""`DummyLM`: a scripted LM for tests, compatible with DSPy's `dspy.utils.dummies.DummyLM`."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from dspy_ash.adapters._json_adapter import JSONAdapter
from dspy_ash.adapters._xml_adapter import XMLAdapter
from dspy_ash.lm._base import BaseLM
from dspy_ash.lm._types import Choice, LMRequest, LMResponse, Usage

_HEADER = re.compile(r"\[\[ ## (\w+) ## \]\]")


class DummyLM(BaseLM):
    """Replies from a list of field dicts (in order), a dict keyed by a substring of the last message,
    or, with `follow_examples=True`, the demo whose input matches the current one."""

    def __init__(
        self,
        answers: list[dict[str, Any]] | dict[str, dict[str, Any]],
        follow_examples: bool = False,
        reasoning: bool = False,
        adapter: Any = None,
    ) -> None:
        super().__init__("dummy", "chat", 0.0, 1000, True)
        self.answers: Iterator[dict[str, Any]] | dict[str, dict[str, Any]] = (
            iter(answers) if isinstance(answers, list) else answers
        )
        self.follow_examples = follow_examples
        self.reasoning = reasoning
        self.adapter = adapter

    def _format(self, values: dict[str, Any]) -> str:
        if isinstance(self.adapter, JSONAdapter):
            return json.dumps({k: _plain(v) for k, v in values.items()}, indent=2, ensure_ascii=False)
        if isinstance(self.adapter, XMLAdapter):  # DSPy's DummyLM mimics the adapter's own output format
            return "\n\n".join([f"<{k}>\n{_text(v)}\n</{k}>" for k, v in values.items()]).strip()
        return "\n\n".join([f"[[ ## {k} ## ]]\n{_text(v)}" for k, v in values.items()]).strip()

    def _use_example(self, messages: list[dict[str, Any]]) -> str | None:
        counts: dict[str, int] = defaultdict(int)
        for message in messages:
            match = _HEADER.match(str(message.get("content", "")))
            if match:
                counts[match.group(0)] += 1
        if not counts:
            return None
        top = max(counts.values())
        output_fields = [f for f, c in counts.items() if c != top]
        final_input = str(messages[-1]["content"]).split("\n\n")[0]
        for inp, out in zip(reversed(messages[:-1]), reversed(messages), strict=False):
            if any(f in str(out["content"]) for f in output_fields) and final_input in str(inp["content"]):
                return str(out["content"])
        return None

    def _one(self, messages: list[dict[str, Any]]) -> str:
        if self.follow_examples:
            return self._use_example(messages) or ""
        if isinstance(self.answers, dict):
            last = str(messages[-1].get("content", ""))
            return next((self._format(v) for k, v in self.answers.items() if k in last), "No more responses")
        return self._format(next(self.answers, {"answer": "No more responses"}))

    async def request(self, req: LMRequest) -> LMResponse:
        n = int(req.params.get("n") or 1)
        choices = [
            Choice(
                text=self._one(req.messages),
                finish_reason="stop",
                reasoning_content="Some reasoning" if self.reasoning else None,
            )
            for _ in range(n)
        ]
        return LMResponse(choices=choices, usage=Usage(), model="dummy")

    def get_convo(self, index: int) -> tuple[Any, Any]:
        return self.history[index]["messages"], self.history[index]["outputs"]


def _plain(value: Any) -> Any:
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else value


def _text(value: Any) -> str:
    if type(value) is str:  # the common case, without the attribute probe of `_plain`
        return value
    value = _plain(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
