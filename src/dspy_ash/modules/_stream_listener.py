"""`StreamListener`: cuts one output field's text out of a predictor's streamed reply, chunk by chunk.

The algorithm is DSPy 3.4.1's, step for step, because which text lands in which `StreamResponse` depends
on how the provider split its stream, and DSPy code (and its tests) rely on the exact chunks: the start
marker of the field is recognised across chunks (`[[ ## answer ## ]]` for ChatAdapter, `"answer":` for
JSONAdapter, `<answer>` for XMLAdapter); then tokens are held back (at most 10) while they could be the
start of the next marker, and the field ends at that marker (JSONAdapter: when partial JSON parsing sees
the object close or the next key). A field that arrives whole in one chunk (a cache hit, some providers)
is not streamed: the final `Prediction` carries it.
"""

from __future__ import annotations

import inspect
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic_core import from_json

from dspy_ash.adapters._chat import ChatAdapter
from dspy_ash.adapters._json_adapter import JSONAdapter
from dspy_ash.adapters._xml_adapter import XMLAdapter
from dspy_ash.errors import ConfigurationError
from dspy_ash.modules._stream_messages import StreamResponse
from dspy_ash.settings import read

if TYPE_CHECKING:
    from dspy_ash.primitives._module import Module

ADAPTER_SUPPORT_STREAMING = [ChatAdapter, XMLAdapter, JSONAdapter]
_MAX_HELD_TOKENS = 10  # DSPy's bound: enough to hold any end marker back for every LM


@dataclass(frozen=True)
class _Markers:
    start_identifier: str
    end_identifier: re.Pattern[str]
    start_indicator: str
    end_pattern_prefixes: list[str]
    end_pattern_contains: str


def _markers(field: str) -> dict[str, _Markers]:
    return {
        "ChatAdapter": _Markers(
            f"[[ ## {field} ## ]]",
            re.compile(r"\[\[ ## (\w+) ## \]\]"),
            "[",
            ["[", "[[", "[[ ", "[[ #", "[[ ##"],
            "[[ ##",
        ),
        "JSONAdapter": _Markers(
            f'"{field}":', re.compile(r"\w*\"(,|\s*})"), '"', ['"', '",', '" ', '"}'], "}"
        ),
        "XMLAdapter": _Markers(f"<{field}>", re.compile(rf"</{field}>"), "<", ["<", "</"], "</"),
    }


def _content_of(chunk: Any) -> str | None:
    try:
        return chunk.choices[0].delta.content
    except Exception:  # not a text chunk (a custom chunk, a tool-call delta): nothing to listen to
        return None


def _unsupported_adapter(adapter_name: str) -> ConfigurationError:
    return ConfigurationError(
        f"Unsupported adapter for streaming: {adapter_name}, please use one of the following adapters: "
        f"{', '.join([a.__name__ for a in ADAPTER_SUPPORT_STREAMING])}"
    )


class StreamListener:
    """Streams `signature_field_name` of one predictor: `predict` (or the one whose signature has that
    output field, found by `streamify`). `allow_reuse=True` listens again on every later call of the
    predictor (a ReAct loop), instead of only the first."""

    def __init__(
        self,
        signature_field_name: str,
        predict: Any = None,
        predict_name: str | None = None,
        allow_reuse: bool = False,
    ) -> None:
        self.signature_field_name = signature_field_name
        self.predict = predict
        self.predict_name = predict_name
        self.allow_reuse = allow_reuse
        self.adapter_identifiers = _markers(signature_field_name)
        self._reset()

    def _reset(self) -> None:
        self.field_start_queue: list[str] = []
        self.field_end_queue: list[str] = []
        self.stream_start = False
        self.stream_end = False
        self.cache_hit = False
        self.json_adapter_state = {"field_accumulated_messages": ""}
        self.value_started = False
        self.held_whitespace = ""

    # -- DSPy's predicates ------------------------------------------------------------------------------
    def _buffered_message_end_with_start_identifier(self, concat_message: str, start_identifier: str) -> bool:
        return any(
            start_identifier.startswith(concat_message[len(concat_message) - i - 1 :])
            for i in range(len(concat_message))
        )

    def _could_form_end_identifier(self, concat_message: str, adapter_name: str) -> bool:
        """Whether the held-back text may still turn into the end marker (so must not be sent yet)."""
        markers = self.adapter_identifiers[adapter_name]
        if any(concat_message.endswith(prefix) for prefix in markers.end_pattern_prefixes):
            return True
        return markers.end_pattern_contains in concat_message

    # -- receiving ------------------------------------------------------------------------------------
    def receive(self, chunk: Any) -> StreamResponse | None:
        adapter = read("adapter")
        adapter_name = type(adapter).__name__ if adapter else "ChatAdapter"
        if adapter_name not in self.adapter_identifiers:
            raise _unsupported_adapter(adapter_name)
        markers = self.adapter_identifiers[adapter_name]
        is_json = isinstance(adapter, JSONAdapter)

        if self.stream_end:
            if not self.allow_reuse:
                return None
            self._reset()  # the predictor is called again: listen to its new reply

        custom = self._streamable_type()
        if custom is not None and (parsed := custom.parse_stream_chunk(chunk)):
            return self._response(parsed)

        chunk_message = _content_of(chunk)
        if chunk_message is None:
            return None

        start_identifier = markers.start_identifier
        if chunk_message and start_identifier in chunk_message and not is_json:
            # The whole field in one chunk (a cache hit, or a provider that sends big chunks): not streamed.
            after = chunk_message[chunk_message.find(start_identifier) + len(start_identifier) :]
            if markers.end_identifier.search(after):
                self.cache_hit = self.stream_start = self.stream_end = True
                return None

        if not self.field_start_queue and not self.stream_start and markers.start_indicator in chunk_message:
            self.field_start_queue.append(chunk_message)
            return None

        if self.field_start_queue and not self.stream_start:
            chunk_message = self._after_start_identifier(chunk_message, start_identifier, is_json)
            if chunk_message is None:
                return None

        if self.stream_start and chunk_message:
            self.field_end_queue.append(chunk_message)
            token = None
            concat_message = "".join(self.field_end_queue).strip()
            if not self._could_form_end_identifier(concat_message, adapter_name):
                token = self.flush()
            elif len(self.field_end_queue) > _MAX_HELD_TOKENS:
                token = self.field_end_queue.pop(0)
            if is_json:
                return self._json_adapter_handle_stream_chunk(token, chunk_message)
            return self._default_handle_stream_chunk(token, markers.end_identifier)
        return None

    def _after_start_identifier(self, chunk_message: str, start_identifier: str, is_json: bool) -> str | None:
        """Add a chunk to the text that may hold the field's start marker. Once it does, the stream starts
        and the text after the marker is returned; None while it still may, or once it cannot."""
        self.field_start_queue.append(chunk_message)
        concat_message = "".join(self.field_start_queue)
        if start_identifier in concat_message:
            self.stream_start = True
            self.field_start_queue = []
            value_start = concat_message.find(start_identifier) + len(start_identifier)
            if is_json:
                # The extra "{" lets partial JSON parsing see the next key appear.
                self.json_adapter_state["field_accumulated_messages"] += "{" + start_identifier
            return concat_message[value_start:].lstrip()
        if not self._buffered_message_end_with_start_identifier(concat_message.strip(), start_identifier):
            self.field_start_queue = []
        return None

    def _json_adapter_handle_stream_chunk(
        self, token: str | None, chunk_message: str
    ) -> StreamResponse | None:
        state = self.json_adapter_state
        state["field_accumulated_messages"] += chunk_message
        if state["field_accumulated_messages"].rstrip().endswith("}"):
            try:
                from_json(state["field_accumulated_messages"].encode("utf-8"))
            except ValueError:
                pass
            else:  # the object closed: the field (the last one) is complete
                self.stream_end = True
                last_token = self.flush()
                last_token = last_token[: last_token.rfind("}")]
                token = token + last_token if token else last_token
                return self._response(token)
        try:
            parsed = from_json(
                state["field_accumulated_messages"].encode("utf-8"), allow_partial="trailing-strings"
            )
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and len(parsed) > 1:  # pyright: ignore[reportUnknownArgumentType]
            # A second key appeared: the field we listen to is complete.
            self.stream_end = True
            last_token = self.flush()
            next_field = next((str(k) for k in parsed if k != self.signature_field_name), None)  # pyright: ignore[reportUnknownVariableType]
            last_token = last_token[: last_token.find(next_field)] if next_field is not None else last_token
            token = token + last_token if token else last_token
        if token or self.stream_end:
            return self._response(token)
        return None

    def _default_handle_stream_chunk(
        self, token: str | None, end_identifier: re.Pattern[str]
    ) -> StreamResponse | None:
        if end_identifier.search("".join(self.field_end_queue).strip()):
            self.stream_end = True
            last_token = self.flush()
            token = (token + last_token if token else last_token).rstrip()
        # The parsed value is stripped, so drop leading whitespace and hold trailing whitespace back until
        # more text comes: the newlines around the markers must not leak into chunks.
        if token and not self.value_started:
            token = token.lstrip()
        if token:
            stripped = token.rstrip()
            if stripped:
                self.value_started = True
                token, self.held_whitespace = self.held_whitespace + stripped, token[len(stripped) :]
            else:
                self.held_whitespace += token
                token = ""
        if token or self.stream_end:
            return self._response(token)
        return None

    def flush(self) -> str:
        """The held-back tokens, without the end marker they led up to."""
        last_tokens = "".join(self.field_end_queue)
        self.field_end_queue = []
        adapter = read("adapter")
        if isinstance(adapter, JSONAdapter):
            return last_tokens
        boundary = f"</{self.signature_field_name}>" if isinstance(adapter, XMLAdapter) else "[["
        if adapter is not None and not isinstance(adapter, ChatAdapter):
            raise ConfigurationError(
                f"Unsupported adapter for streaming: {adapter}, please use one of the following adapters: "
                f"{', '.join([a.__name__ for a in ADAPTER_SUPPORT_STREAMING])}"
            )
        index = last_tokens.find(boundary)
        return last_tokens[: index if index >= 0 else len(last_tokens)]

    def finalize(self) -> StreamResponse | None:
        """At the end of the program: the tokens still held back, as the last chunk (a reply that
        never wrote the next marker)."""
        if self.stream_end or not self.stream_start:
            return None
        self.stream_end = True
        if self.field_end_queue:
            token = self.flush()
            if token:
                return self._response(self.held_whitespace + token)
        return None

    def _response(self, chunk: Any) -> StreamResponse:
        return StreamResponse(self.predict_name, self.signature_field_name, chunk, self.stream_end)

    def _streamable_type(self) -> Any:
        """The field's type when it streams its own chunks (a DSPy custom `Type` with `is_streamable()`)."""
        try:
            annotation = self.predict.signature.output_fields[self.signature_field_name].annotation
        except Exception:
            return None
        is_streamable = getattr(annotation, "is_streamable", None)
        if inspect.isclass(annotation) and callable(is_streamable) and is_streamable():
            return annotation
        return None


def find_predictor_for_stream_listeners(
    program: Module, stream_listeners: list[StreamListener]
) -> dict[int, list[StreamListener]]:
    """Attach each listener without a `predict` to the one predictor with its output field (DSPy's rules);
    returns the listeners by predictor id."""
    wanted: dict[str, tuple[str, Any] | None] = {
        listener.signature_field_name: None for listener in stream_listeners if listener.predict is None
    }
    for name, predictor in program.named_predictors():
        for field_name in predictor.signature.output_fields:
            if field_name not in wanted:
                continue
            if wanted[field_name] is not None:
                raise ConfigurationError(
                    f"Signature field {field_name} is not unique in the program, cannot automatically determine which "
                    "predictor to use for streaming. Please specify the predictor to listen to."
                )
            wanted[field_name] = (name, predictor)
    by_predictor: defaultdict[int, list[StreamListener]] = defaultdict(list)
    for listener in stream_listeners:
        if listener.predict is None:
            found = wanted.get(listener.signature_field_name)
            if found is None:
                raise ConfigurationError(
                    f"Signature field {listener.signature_field_name} is not a field of any predictor in the program, "
                    "cannot automatically determine which predictor to use for streaming. Please verify your field "
                    "name or specify the predictor to listen to."
                )
            listener.predict_name, listener.predict = found
        by_predictor[id(listener.predict)].append(listener)
    return by_predictor
