"""The adapter pipeline: format a signature, demos and inputs into messages; call the LM; parse the replies."""

from __future__ import annotations

import weakref
from typing import Any, get_origin

from dspy_ash import events
from dspy_ash._sync import run_sync
from dspy_ash.adapters import _tool_turns as tool_turns
from dspy_ash.adapters._parsing import apply_output_defaults
from dspy_ash.adapters.types._base_type import Type, expand_custom_types
from dspy_ash.adapters.types._citation import Citations
from dspy_ash.adapters.types._history import History
from dspy_ash.adapters.types._reasoning import Reasoning
from dspy_ash.adapters.types._tool import ToolCallResults, ToolCalls
from dspy_ash.errors import AdapterParseError, SignatureError
from dspy_ash.primitives._observed import observed

_TOOL_KWARGS = ("tools", "tool_choice", "parallel_tool_calls")
# Output types an LM may produce natively (DSPy's default): the adapter lets each adapt the call.
_DEFAULT_NATIVE_RESPONSE_TYPES: list[type] = [Citations, Reasoning]


class Adapter:
    """Subclasses write the `format_*` pieces and `parse`; the pipeline and caching live here."""

    def __init__(
        self,
        callbacks: list[Any] | None = None,
        use_native_function_calling: bool = False,
        native_response_types: list[type] | None = None,
        parallel_tool_calls: bool | None = None,
    ) -> None:
        self.callbacks = list(callbacks or [])
        self.use_native_function_calling = use_native_function_calling
        self.native_response_types = native_response_types or list(_DEFAULT_NATIVE_RESPONSE_TYPES)
        self.parallel_tool_calls = parallel_tool_calls
        # The system message depends only on the signature, so it is built once per signature version.
        self._system_cache: weakref.WeakKeyDictionary[type, tuple[str | None, str]] = (
            weakref.WeakKeyDictionary()
        )

    # -- the pipeline --------------------------------------------------------------------------------
    def __call__(
        self, lm: Any, lm_kwargs: dict[str, Any], signature: Any, demos: list[Any], inputs: dict[str, Any]
    ) -> list[dict[str, Any]]:
        return run_sync(self.acall(lm, lm_kwargs, signature, demos, inputs))

    async def acall(
        self, lm: Any, lm_kwargs: dict[str, Any], signature: Any, demos: list[Any], inputs: dict[str, Any]
    ) -> list[dict[str, Any]]:
        processed = self._call_preprocess(lm, lm_kwargs, signature, inputs)
        messages = self._observed_format(processed, demos, inputs)
        if lm_kwargs.get("parallel_tool_calls") is not None:
            lm_kwargs.setdefault("tool_choice", "auto")
        outputs = await lm.acall(messages=messages, **lm_kwargs)
        return self._call_postprocess(processed, signature, outputs, lm, lm_kwargs)

    def _observed_format(
        self, signature: Any, demos: list[Any], inputs: dict[str, Any]
    ) -> list[dict[str, Any]]:
        if not events.listening(self.callbacks):  # nobody listens: no event inputs to build
            return self.format(signature, demos, inputs)
        return observed(
            "adapter_format",
            type(self).__name__,
            self,
            {"signature": signature, "demos": demos, "inputs": inputs},
            lambda: self.format(signature, demos, inputs),
            self.callbacks,
        )

    def _observed_parse(self, signature: Any, completion: str) -> dict[str, Any]:
        if not events.listening(self.callbacks):
            return self.parse(signature, completion)
        return observed(
            "adapter_parse",
            type(self).__name__,
            self,
            {"signature": signature, "completion": completion},
            lambda: self.parse(signature, completion),
            self.callbacks,
        )

    def _call_preprocess(
        self, lm: Any, lm_kwargs: dict[str, Any], signature: Any, inputs: dict[str, Any]
    ) -> Any:
        """The signature to format (fields the LM produces natively removed); updates `lm_kwargs` in place."""
        signature = self._prepare_tool_calling(lm, lm_kwargs, signature, inputs)
        for name, field in signature.output_fields.items():
            if self._is_native_response_type(field.annotation):
                signature = field.annotation.adapt_to_native_lm_feature(signature, name, lm, lm_kwargs)
        return signature

    def _is_native_response_type(self, annotation: Any) -> bool:
        return (
            isinstance(annotation, type)
            and annotation in self.native_response_types
            and issubclass(annotation, Type)
        )

    def _prepare_tool_calling(
        self, lm: Any, lm_kwargs: dict[str, Any], signature: Any, inputs: dict[str, Any]
    ) -> Any:
        if not self.use_native_function_calling:
            for key in _TOOL_KWARGS:
                lm_kwargs.pop(key, None)
            return signature
        tools_in = _tool_input_field(signature)
        tools_out = _tool_output_field(signature)
        if tools_out and tools_in is None:
            raise SignatureError(
                f"You provided an output field {tools_out} to receive the tool calls information, but did not "
                "provide any tools as the input. Please provide a list of tools as the input by adding an input "
                "field with type `list[dspy.Tool]`."
            )
        if tools_out and tools_in and getattr(lm, "supports_function_calling", True):
            tools = inputs[tools_in]
            tools = tools if isinstance(tools, list) else [tools]
            lm_kwargs["tools"] = [t.format_as_litellm_function_call() for t in tools]
            if self.parallel_tool_calls is not None and lm_kwargs.get("parallel_tool_calls") is None:
                lm_kwargs["parallel_tool_calls"] = self.parallel_tool_calls
            return signature.delete(tools_out).delete(tools_in)
        for key in _TOOL_KWARGS:
            lm_kwargs.pop(key, None)
        return signature

    def _call_postprocess(
        self,
        processed: Any,
        original: Any,
        outputs: list[Any],
        lm: Any = None,
        lm_kwargs: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Parse each LM output against `processed`; fields removed for native features come from the
        output itself (tool calls, citations, reasoning) or from their defaults."""
        values: list[dict[str, Any]] = []
        tools_out = _tool_output_field(original)
        for output in outputs:
            text, logprobs, tool_calls = output, None, None
            if isinstance(output, dict):
                text = output.get("text")
                logprobs = output.get("logprobs")
                tool_calls = output.get("tool_calls")
            if text and not (tool_calls and tools_out):
                value = self._observed_parse(processed, text)
            elif tool_calls and tools_out:
                try:
                    value = self._observed_parse(processed, text) if text and processed.output_fields else {}
                except AdapterParseError:
                    value = {}
            else:
                raise AdapterParseError(
                    type(self).__name__,
                    original,
                    str(output),
                    message="The LM returned an empty or null response.",
                )
            value = apply_output_defaults(original.output_fields, value)
            for name in original.output_fields:
                value.setdefault(name, None)
            if tool_calls and tools_out:
                tool_type = original.output_fields[tools_out].annotation
                value[tools_out] = tool_type.from_dict_list([_tool_call_dict(c) for c in tool_calls])
            for name, field in original.output_fields.items():
                if self._is_native_response_type(field.annotation):
                    native = field.annotation.parse_lm_response(output)
                    if native is not None:
                        value[name] = native
            if logprobs:
                value["logprobs"] = logprobs
            values.append(value)
        return values

    # -- formatting --------------------------------------------------------------------------------------
    def format(self, signature: Any, demos: list[Any], inputs: dict[str, Any]) -> list[dict[str, Any]]:
        inputs = dict(inputs)
        history_field = _history_field(signature)
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": self.format_system_message(signature)}
        ]
        if history_field:
            without_history = signature.delete(history_field)
            history = self.format_conversation_history(without_history, history_field, inputs)
            messages.extend(self.format_demos(signature, demos))
            messages.extend(history)
            content = self.format_user_message_content(without_history, inputs, main_request=True)
        else:
            messages.extend(self.format_demos(signature, demos))
            content = self.format_user_message_content(signature, inputs, main_request=True)
        if content:
            messages.append({"role": "user", "content": content})
        # Values of `dspy.Type`s that format as content parts (images, files...) were written into the
        # text between markers; user messages become lists of content parts around them.
        return [expand_custom_types(message) for message in messages]

    def format_system_message(self, signature: Any) -> str:
        cached = self._system_cache.get(signature)
        if cached is not None and cached[0] is signature.__doc__:
            return cached[1]
        text = (
            f"{self.format_field_description(signature)}\n"
            f"{self.format_field_structure(signature)}\n"
            f"{self.format_task_description(signature)}"
        )
        self._system_cache[signature] = (signature.__doc__, text)
        return text

    def format_field_description(self, signature: Any) -> str:
        raise NotImplementedError

    def format_field_structure(self, signature: Any) -> str:
        raise NotImplementedError

    def format_task_description(self, signature: Any) -> str:
        raise NotImplementedError

    def format_user_message_content(
        self,
        signature: Any,
        inputs: dict[str, Any],
        prefix: str = "",
        suffix: str = "",
        main_request: bool = False,
    ) -> str:
        raise NotImplementedError

    def format_assistant_message_content(
        self, signature: Any, outputs: dict[str, Any], missing_field_message: str | None = None
    ) -> str:
        raise NotImplementedError

    def parse(self, signature: Any, completion: str) -> dict[str, Any]:
        raise NotImplementedError

    def format_demos(self, signature: Any, demos: list[Any]) -> list[dict[str, Any]]:
        """Incomplete demos (some fields missing) first, then complete ones, each as a user/assistant pair."""
        if not demos:
            return []
        complete: list[Any] = []
        incomplete: list[Any] = []
        fields, ins, outs = signature.fields, signature.input_fields, signature.output_fields
        for demo in demos:
            if all(k in demo and demo[k] is not None for k in fields):
                complete.append(demo)
            elif any(k in demo for k in ins) and any(k in demo for k in outs):
                incomplete.append(demo)
        messages: list[dict[str, Any]] = []
        prefix = "This is an example of the task, though some input or output fields are not supplied."
        for demo in incomplete:
            messages.append(
                {"role": "user", "content": self.format_user_message_content(signature, demo, prefix=prefix)}
            )
            messages.append(
                {
                    "role": "assistant",
                    "content": self.format_assistant_message_content(
                        signature, demo, missing_field_message="Not supplied for this particular example. "
                    ),
                }
            )
        for demo in complete:
            messages.append({"role": "user", "content": self.format_user_message_content(signature, demo)})
            messages.append(
                {
                    "role": "assistant",
                    "content": self.format_assistant_message_content(
                        signature,
                        demo,
                        missing_field_message="Not supplied for this conversation history message. ",
                    ),
                }
            )
        return messages

    def format_conversation_history(
        self, signature: Any, history_field: str, inputs: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """The history's turns as user/assistant messages. A turn whose tool calls carry results
        (`ToolCalls.tool_call_results`) replays them after the calls: as `tool` messages answering the
        assistant's provider tool calls under native function calling, else as a user message."""
        history = inputs.pop(history_field, None)
        if history is None:
            return []
        messages: list[dict[str, Any]] = []
        for message in history.messages:
            tools_field, tool_calls = tool_turns.tool_calls_in(message)
            results = tool_turns.results_of(tool_calls)
            # The reminder of the output format stays on each replayed request (prompt caches reuse it),
            # but a message with outputs only gets no user message of its own.
            main = any(name in message for name in signature.input_fields)
            user = self.format_user_message_content(signature, message, main_request=main)
            if user:
                messages.append({"role": "user", "content": user})
            if self.use_native_function_calling and tool_calls is not None:
                messages.extend(self._native_tool_turn(signature, message, tool_calls, results))
                continue
            assistant_values = message
            if tools_field is not None and tool_calls is not None and results is not None:
                without_results = tool_calls.model_copy(update={"tool_call_results": None})
                assistant_values = {**message, tools_field: without_results}
            assistant = self.format_assistant_message_content(signature, assistant_values)
            if assistant:
                messages.append({"role": "assistant", "content": assistant})
            if results is not None:
                content = self.format_user_message_content(
                    tool_turns.results_signature(), {"tool_call_results": results}
                )
                messages.append({"role": "user", "content": content})
        return messages

    def _native_tool_turn(
        self, signature: Any, message: dict[str, Any], tool_calls: ToolCalls, results: ToolCallResults | None
    ) -> list[dict[str, Any]]:
        """The assistant's message carrying the calls (and its other outputs), then one `tool` message per result."""
        content_signature = signature
        for name, field in signature.output_fields.items():
            if field.annotation is ToolCalls or message.get(name) is None:
                content_signature = content_signature.delete(name)
        content = (
            self.format_assistant_message_content(content_signature, message)
            if content_signature.output_fields
            else ""
        )
        if results is not None and not tool_turns.results_match_calls(tool_calls, results):
            results = None  # the provider would refuse results it cannot tie to the calls
        turn: list[dict[str, Any]] = []
        if content or results is not None:
            assistant: dict[str, Any] = {"role": "assistant", "content": content or None}
            if results is not None:
                assistant["tool_calls"] = [tool_turns.openai_tool_call(c) for c in tool_calls.tool_calls]
            turn.append(assistant)
        if results is not None:
            turn.extend(tool_turns.tool_messages(results))
        return turn


def _scan_history(signature: Any) -> str | None:
    for name, field in signature.input_fields.items():
        if field.annotation is History:
            return name
    return None


def _is_tool_type(tp: Any) -> bool:
    return isinstance(tp, type) and hasattr(tp, "format_as_litellm_function_call")


def _special_fields(signature: Any) -> tuple[str | None, str | None, str | None]:
    """(tool input, tool output, history) field names, computed once per signature class."""
    cached = signature.__dict__.get("_dspy_ash_special_fields")
    if cached is None:
        cached = (_scan_tool_input(signature), _scan_tool_output(signature), _scan_history(signature))
        signature._dspy_ash_special_fields = cached
    return cached


def _history_field(signature: Any) -> str | None:
    return _special_fields(signature)[2]


def _tool_input_field(signature: Any) -> str | None:
    return _special_fields(signature)[0]


def _tool_output_field(signature: Any) -> str | None:
    return _special_fields(signature)[1]


def _scan_tool_input(signature: Any) -> str | None:
    for name, field in signature.input_fields.items():
        tp = field.annotation
        if get_origin(tp) is list and _is_tool_type(getattr(tp, "__args__", (None,))[0]):
            return name
        if _is_tool_type(tp):
            return name
    return None


def _scan_tool_output(signature: Any) -> str | None:
    for name, field in signature.output_fields.items():
        if field.annotation is ToolCalls:
            return name
    return None


def _tool_call_dict(call: Any) -> dict[str, Any]:
    import json_repair

    get = (lambda o, k: o.get(k)) if isinstance(call, dict) else (lambda o, k: getattr(o, k, None))
    function = get(call, "function") or {}
    fget = (
        (lambda k: function.get(k)) if isinstance(function, dict) else (lambda k: getattr(function, k, None))
    )
    arguments = fget("arguments") or get(call, "arguments") or get(call, "args") or {}
    if isinstance(arguments, str):
        arguments = json_repair.loads(arguments)
    return {
        "id": get(call, "call_id") or get(call, "id"),
        "name": fget("name") or get(call, "name"),
        "args": arguments if isinstance(arguments, dict) else {},
    }
