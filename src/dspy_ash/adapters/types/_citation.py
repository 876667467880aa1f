"""`dspy.experimental.Citations`: passages of the given documents an answer quotes, with their locations.

With an Anthropic model the field is filled from the Messages API's native citations (the adapter drops it
from the prompt and reads the reply's citation blocks); with other models the LM writes it as JSON.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pydantic

from dspy_ash.adapters.types._base_type import Type
from dspy_ash.adapters.types._experimental import experimental
from dspy_ash.errors import InvalidInputError


@experimental(version="3.0.4")
class Citations(Type):
    # The docstrings enter the JSON schema the prompt shows for such a field: they are DSPy's, word for word.
    """Citations extracted from an LM response with source references.

    This type represents citations returned by language models that support
    citation extraction, particularly Anthropic's Citations API through LiteLLM.
    Citations include the quoted text and source information.

    Examples:
        ```python
        import os
        import dspy
        from dspy.signatures import Signature
        from dspy.experimental import Citations, Document
        os.environ["ANTHROPIC_API_KEY"] = "YOUR_ANTHROPIC_API_KEY"

        class AnswerWithSources(Signature):
            '''Answer questions using provided documents with citations.'''
            documents: list[Document] = dspy.InputField()
            question: str = dspy.InputField()
            answer: str = dspy.OutputField()
            citations: Citations = dspy.OutputField()

        # Create documents to provide as sources
        docs = [
            Document(
                data="The Earth orbits the Sun in an elliptical path.",
                title="Basic Astronomy Facts"
            ),
            Document(
                data="Water boils at 100°C at standard atmospheric pressure.",
                title="Physics Fundamentals",
                metadata={"author": "Dr. Smith", "year": 2023}
            )
        ]

        # Use with a model that supports citations like Claude
        lm = dspy.LM("anthropic/claude-opus-4-1-20250805")
        predictor = dspy.Predict(AnswerWithSources)
        result = predictor(documents=docs, question="What temperature does water boil?", lm=lm)

        for citation in result.citations.citations:
            print(citation.format())
        ```
    """

    class Citation(Type):
        """Individual citation with character location information."""

        type: str = "char_location"
        cited_text: str
        document_index: int
        document_title: str | None = None
        start_char_index: int
        end_char_index: int
        supported_text: str | None = None

        def format(self) -> dict[str, Any]:  # pyright: ignore[reportIncompatibleMethodOverride]
            """The citation as the citation APIs write it (optional keys only when set)."""
            formatted: dict[str, Any] = {
                "type": self.type,
                "cited_text": self.cited_text,
                "document_index": self.document_index,
                "start_char_index": self.start_char_index,
                "end_char_index": self.end_char_index,
            }
            if self.document_title:
                formatted["document_title"] = self.document_title
            if self.supported_text:
                formatted["supported_text"] = self.supported_text
            return formatted

    citations: list[Citation]

    @classmethod
    def from_dict_list(cls, citations_dicts: list[dict[str, Any]]) -> Citations:
        """Citations from dicts with `cited_text`, `document_index`, `start_char_index`, `end_char_index`."""
        return cls(citations=[cls.Citation(**item) for item in citations_dicts])

    @classmethod
    def description(cls) -> str:
        return (
            "Citations with quoted text and source references. "
            "Include the exact text being cited and information about its source."
        )

    def format(self) -> list[dict[str, Any]]:
        return [citation.format() for citation in self.citations]

    @pydantic.model_validator(mode="before")
    @classmethod
    def validate_input(cls, data: Any) -> Any:
        if isinstance(data, cls):
            return data
        if isinstance(data, list) and all(isinstance(item, dict) and "cited_text" in item for item in data):  # pyright: ignore[reportUnknownVariableType]
            return {"citations": [cls.Citation(**item) for item in data]}  # pyright: ignore[reportUnknownVariableType]
        if isinstance(data, dict):
            listed: Any = data.get("citations")  # pyright: ignore[reportUnknownMemberType]
            if isinstance(listed, list):
                return {
                    "citations": [cls.Citation(**item) if isinstance(item, dict) else item for item in listed]  # pyright: ignore[reportUnknownVariableType]
                }
            if "citations" not in data and "cited_text" in data:
                return {"citations": [cls.Citation(**data)]}  # pyright: ignore[reportUnknownArgumentType]
        raise InvalidInputError(f"Received invalid value for `Citations`: {data}")

    def __iter__(self) -> Iterator[Citation]:  # pyright: ignore[reportIncompatibleMethodOverride]
        return iter(self.citations)

    def __len__(self) -> int:
        return len(self.citations)

    def __getitem__(self, index: int) -> Citation:
        return self.citations[index]

    @classmethod
    def adapt_to_native_lm_feature(
        cls, signature: Any, field_name: str, lm: Any, lm_kwargs: dict[str, Any]
    ) -> Any:
        # Anthropic returns citations natively (parse_lm_response reads them), so the prompt leaves them out.
        if str(getattr(lm, "model", "")).startswith("anthropic/"):
            return signature.delete(field_name)
        return signature

    @classmethod
    def is_streamable(cls) -> bool:
        return True

    @classmethod
    def parse_stream_chunk(cls, chunk: Any) -> Citations | None:
        """The citation of a stream chunk whose delta carries one (`provider_specific_fields.citation`)."""
        try:
            delta = chunk.choices[0].delta
            citation = (getattr(delta, "provider_specific_fields", None) or {}).get("citation")
        except (AttributeError, IndexError, TypeError):
            return None
        return cls.from_dict_list([citation]) if citation else None

    @classmethod
    def parse_lm_response(cls, response: str | dict[str, Any]) -> Citations | None:
        if isinstance(response, dict) and isinstance(response.get("citations"), list):
            return cls.from_dict_list(response["citations"])
        return None
