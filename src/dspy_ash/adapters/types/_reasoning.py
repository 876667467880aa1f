"""`dspy.Reasoning`: the LM's reasoning as a str-like value, produced natively when the LM can reason."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import pydantic

from dspy_ash.adapters.types._base_type import Type
from dspy_ash.errors import InvalidInputError


class Reasoning(Type):
    # The docstring enters JSON schemas that hold a Reasoning field: it is DSPy's, word for word.
    """Reasoning type in DSPy.

    This type is useful when you want the DSPy output to include the reasoning of the LM. We build this type so that
    DSPy can support the reasoning model and non-reasoning model with the same code.

    This is a str-like type, you can convert a string directly to a Reasoning object, and from DSPy adapters'
    perspective, `Reasoning` is treated as a string.
    """

    # Prompts name this type `str` and give it no type note (signatures/types.py, adapters/formatting.py).
    __dspy_reasoning__: ClassVar[bool] = True

    content: str

    def format(self) -> str:
        return f"{self.content}"

    @pydantic.model_validator(mode="before")
    @classmethod
    def validate_input(cls, data: Any) -> Any:
        if isinstance(data, cls):
            return data
        if isinstance(data, str):
            return {"content": data}
        if isinstance(data, dict):
            if "content" not in data:
                raise InvalidInputError("`content` field is required for `dspy.Reasoning`")
            content: Any = data["content"]
            if not isinstance(content, str):
                raise InvalidInputError(
                    f"`content` field must be a string, but received type: {type(content)}"
                )
            return {"content": content}
        raise InvalidInputError(f"Received invalid value for `dspy.Reasoning`: {data}")

    @classmethod
    def adapt_to_native_lm_feature(
        cls, signature: Any, field_name: str, lm: Any, lm_kwargs: dict[str, Any]
    ) -> Any:
        """With a reasoning LM, ask for native reasoning (`reasoning_effort`, "low" unless set) and drop the
        field from the prompt; `reasoning_effort=None` (in the call or on the LM) keeps it in the prompt."""
        lm_defaults: dict[str, Any] = getattr(lm, "kwargs", None) or {}
        if "reasoning_effort" in lm_kwargs:
            effort = lm_kwargs["reasoning_effort"]
        else:
            effort = lm_defaults.get("reasoning_effort", "low")
        if effort is None or not getattr(lm, "supports_reasoning", False):
            return signature
        if "gpt-5" in lm.model and getattr(lm, "model_type", "chat") == "chat":
            # As DSPy: GPT-5 models return no reasoning text through the chat completions API.
            return signature
        lm_kwargs["reasoning_effort"] = effort
        return signature.delete(field_name)

    @classmethod
    def parse_lm_response(cls, response: str | dict[str, Any]) -> Reasoning | None:
        if isinstance(response, dict) and response.get("reasoning_content") is not None:
            return Reasoning(content=response["reasoning_content"])
        return None

    @classmethod
    def parse_stream_chunk(cls, chunk: Any) -> str | None:
        """The reasoning text of an OpenAI-style stream chunk (`choices[0].delta.reasoning_content`)."""
        choices = _get(chunk, "choices")
        if not choices:
            return None
        return _get(_get(choices[0], "delta"), "reasoning_content")

    @classmethod
    def is_streamable(cls) -> bool:
        return True

    # -- str-like ----------------------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"{self.content!r}"

    def __str__(self) -> str:
        return self.content

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Reasoning):
            return self.content == other.content
        if isinstance(other, str):
            return self.content == other
        return False

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __len__(self) -> int:
        return len(self.content)

    def __getitem__(self, key: Any) -> str:
        return self.content[key]

    def __contains__(self, item: str) -> bool:
        return item in self.content

    def __iter__(self) -> Iterator[str]:  # pyright: ignore[reportIncompatibleMethodOverride]
        return iter(self.content)

    def __add__(self, other: Any) -> Any:
        if isinstance(other, Reasoning):
            return Reasoning(content=self.content + other.content)
        if isinstance(other, str):
            return self.content + other
        return NotImplemented

    def __radd__(self, other: Any) -> Any:
        if isinstance(other, str):
            return other + self.content
        if isinstance(other, Reasoning):
            return Reasoning(content=other.content + self.content)
        return NotImplemented

    def __getattr__(self, name: str) -> Any:
        # Only reached for names the model does not have: str's methods (`.strip()`, `.split()`) work.
        if hasattr(str, name):
            return getattr(self.content, name)
        raise AttributeError(
            f"`{type(self).__name__}` object has no attribute '{name}'. "
            "If you are using `dspy.ChainOfThought`, note that the 'reasoning' field in ChainOfThought is now a "
            "`dspy.Reasoning` object (not a plain string). "
            "You can convert it to a string with str(reasoning) or access the content with reasoning.content."
        )


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)  # pyright: ignore[reportUnknownMemberType]
