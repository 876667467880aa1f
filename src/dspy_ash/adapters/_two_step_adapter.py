"""`TwoStepAdapter`: the main LM answers in free form; a second LM extracts the output fields with `ChatAdapter`."""

from __future__ import annotations

from typing import Any

from dspy_ash._sync import run_sync
from dspy_ash.adapters._base import Adapter, _tool_call_dict, _tool_output_field
from dspy_ash.adapters._chat import ChatAdapter
from dspy_ash.adapters._formatting import field_descriptions
from dspy_ash.errors import AdapterParseError, ConfigurationError
from dspy_ash.lm._base import BaseLM
from dspy_ash.signatures._field import InputField
from dspy_ash.signatures._signature import Signature, make_signature


class TwoStepAdapter(Adapter):
    """Two stages, as DSPy's: a plain prompt for the main LM (useful for reasoning models, which follow
    rigid output formats poorly), then `ChatAdapter` with no demos asks `extraction_model` to pull the
    signature's output fields out of the main LM's text. The extraction step is built per call, so it
    has no demos of its own and is not optimized."""

    def __init__(self, extraction_model: BaseLM, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # a runtime guard: DSPy code passes untyped values here
        if not isinstance(extraction_model, BaseLM):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ConfigurationError("extraction_model must be an instance of dspy.BaseLM")
        self.extraction_model = extraction_model

    # -- the first stage -------------------------------------------------------------------------
    def format(self, signature: Any, demos: list[Any], inputs: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {"role": "system", "content": self.format_task_description(signature)},
            *self.format_demos(signature, demos),
            {"role": "user", "content": self.format_user_message_content(signature, inputs)},
        ]

    def format_task_description(self, signature: Any) -> str:
        parts = [
            "You are a helpful assistant that can solve tasks based on user input.",
            "As input, you will be provided with:\n" + field_descriptions(signature.input_fields),
            "Your outputs must contain:\n" + field_descriptions(signature.output_fields),
            "You should lay out your outputs in detail so that your answer can be understood by another agent",
        ]
        if signature.instructions:
            parts.append(f"Specific instructions: {signature.instructions}")
        return "\n".join(parts)

    def format_user_message_content(
        self,
        signature: Any,
        inputs: dict[str, Any],
        prefix: str = "",
        suffix: str = "",
        main_request: bool = False,
    ) -> str:
        # The free-form prompt has no output-format reminder, so `main_request` changes nothing.
        parts = [
            prefix,
            *(f"{name}: {inputs[name]}" for name in signature.input_fields if name in inputs),
            suffix,
        ]
        return "\n\n".join(parts).strip()

    def format_assistant_message_content(
        self, signature: Any, outputs: dict[str, Any], missing_field_message: str | None = None
    ) -> str:
        return "\n\n".join(
            f"{name}: {outputs[name]}" for name in signature.output_fields if name in outputs
        ).strip()

    # -- the second stage ------------------------------------------------------------------------
    async def acall(
        self, lm: Any, lm_kwargs: dict[str, Any], signature: Any, demos: list[Any], inputs: dict[str, Any]
    ) -> list[dict[str, Any]]:
        messages = self._observed_format(signature, demos, inputs)
        outputs = await lm.acall(messages=messages, **lm_kwargs)
        tools_out = _tool_output_field(signature)
        values: list[dict[str, Any]] = []
        for output in outputs:
            text, logprobs, tool_calls = output, None, None
            if isinstance(output, dict):
                text, logprobs, tool_calls = output["text"], output.get("logprobs"), output.get("tool_calls")
            value = await self._aextract(signature, text, str(output))
            if tool_calls and tools_out:
                tool_type = signature.output_fields[tools_out].annotation
                value[tools_out] = tool_type.from_dict_list(
                    [{k: v for k, v in _tool_call_dict(c).items() if k != "id"} for c in tool_calls]
                )
            if logprobs is not None:
                value["logprobs"] = logprobs
            values.append(value)
        return values

    def parse(self, signature: Any, completion: str) -> dict[str, Any]:
        """Extract the output fields from the main LM's text with `extraction_model`."""
        return run_sync(self._aextract(signature, completion, completion))

    async def _aextract(self, signature: Any, text: str, shown: str) -> dict[str, Any]:
        try:
            extracted = await ChatAdapter().acall(
                self.extraction_model, {}, extractor_signature(signature), [], {"text": text}
            )
        except AdapterParseError as exc:
            raise AdapterParseError(
                "TwoStepAdapter",
                signature,
                shown,
                message=f"Failed to parse response from the original completion: {exc}",
            ) from exc
        return extracted[0]


def extractor_signature(signature: Any) -> type[Signature]:
    """`text -> <the signature's output fields>`, with DSPy's extraction instructions."""
    fields: dict[str, Any] = {
        "text": (str, InputField()),
        **{name: (field.annotation, field) for name, field in signature.output_fields.items()},
    }
    names = ", ".join(f"`{name}`" for name in signature.output_fields)
    # DSPy writes these instructions with a backslash line continuation, so the 12 spaces are part of them.
    instructions = (
        f"The input is a text that should contain all the necessary information to produce the fields {names}. "
        "            Your job is to extract the fields from the text verbatim. Extract precisely the appropriate "
        "value (content) for each field."
    )
    return make_signature(fields, instructions)
