"""`dspy.File`: a file input, sent as a `file` content part (inline data URI, an uploaded file's id, a name)."""

from __future__ import annotations

import mimetypes
import os
from typing import Any

import pydantic

from dspy_ash.adapters.types import _resources
from dspy_ash.adapters.types._base_type import Type
from dspy_ash.errors import InvalidInputError, InvalidInputTypeError

_KEYS = ("file_data", "file_id", "filename")


class File(Type):
    """A file input type for DSPy.
    See https://platform.openai.com/docs/api-reference/chat/create#chat_create-messages-user_message-content-array_of_content_parts-file_content_part-file for specification.

    The file_data field should be a data URI with the format:
        data:<mime_type>;base64,<base64_encoded_data>

    Construct from in-memory values only: raw ``bytes``, a data URI string, a
    ``{"file_data"|"file_id"|"filename"}`` dict, or another ``File``. Construction and adapter
    parsing never access the filesystem; use :meth:`from_path` to read a local file,
    :meth:`from_bytes` for raw bytes, or :meth:`from_file_id` to reference a preuploaded file.

    Examples:
        ```python
        import dspy

        class QA(dspy.Signature):
            file: dspy.File = dspy.InputField()
            summary = dspy.OutputField()
        program = dspy.Predict(QA)
        result = program(file=dspy.File.from_path("./research.pdf"))
        print(result.summary)
        ```
    """

    file_data: str | None = None
    file_id: str | None = None
    filename: str | None = None

    model_config = pydantic.ConfigDict(
        frozen=True, str_strip_whitespace=True, validate_assignment=True, extra="forbid"
    )

    def __init__(self, *args: Any, **data: Any) -> None:
        if len(args) > 1:
            raise InvalidInputTypeError(f"File expected at most 1 positional argument, received {len(args)}")
        if args:
            normalized = encode_file_to_dict(args[0])
            overlap = sorted(set(normalized) & set(data))
            if overlap:
                raise InvalidInputTypeError(
                    f"File received {', '.join(overlap)} from both the positional source and keyword arguments"
                )
            data = {**normalized, **data}
        super().__init__(**data)

    @pydantic.model_validator(mode="before")
    @classmethod
    def validate_input(cls, values: Any) -> Any:
        if isinstance(values, cls):
            return {"file_data": values.file_data, "file_id": values.file_id, "filename": values.filename}
        return encode_file_to_dict(values)

    def format(self) -> list[dict[str, Any]]:
        fields = {key: value for key in _KEYS if (value := getattr(self, key))}
        return [{"type": "file", "file": fields}]

    def __str__(self) -> str:
        return str(self.serialize_model())

    def __repr__(self) -> str:
        parts: list[str] = []
        if self.file_data is not None:
            if self.file_data.startswith("data:"):
                mime_type = self.file_data.split(";")[0].split(":")[1]
                encoded = (
                    self.file_data.split("base64,")[1] if "base64," in self.file_data else self.file_data
                )
                parts.append(f"file_data=<DATA_URI({mime_type}, {len(encoded)} chars)>")
            else:
                parts.append(f"file_data=<DATA({len(self.file_data)} chars)>")
        if self.file_id is not None:
            parts.append(f"file_id='{self.file_id}'")
        if self.filename is not None:
            parts.append(f"filename='{self.filename}'")
        return f"File({', '.join(parts)})"

    @classmethod
    def from_path(cls, file_path: str, filename: str | None = None, mime_type: str | None = None) -> File:
        """Read a local file (its name and MIME type from the path unless given)."""
        body = _resources.read_local_file(file_path)
        mime_type = mime_type or mimetypes.guess_type(file_path)[0] or "application/octet-stream"
        return cls.from_bytes(body, filename=filename or os.path.basename(file_path), mime_type=mime_type)

    @classmethod
    def from_bytes(
        cls, file_bytes: bytes, filename: str | None = None, mime_type: str = "application/octet-stream"
    ) -> File:
        return cls(file_data=_resources.data_uri(mime_type, file_bytes), filename=filename)

    @classmethod
    def from_file_id(cls, file_id: str, filename: str | None = None) -> File:
        """A file uploaded to the provider beforehand, referenced by its id."""
        return cls(file_id=file_id, filename=filename)


def encode_file_to_dict(file_input: Any) -> dict[str, Any]:
    """`file_data` / `file_id` / `filename` of bytes, a data URI, such a dict, or a File."""
    if isinstance(file_input, File):
        return {key: value for key in _KEYS if (value := getattr(file_input, key)) is not None}
    if isinstance(file_input, dict):
        if any(key in file_input for key in _KEYS):
            return file_input  # pyright: ignore[reportUnknownVariableType]
        raise InvalidInputError(
            "Value of `dspy.File` must contain at least one of: file_data, file_id, or filename"
        )
    if isinstance(file_input, str):
        if file_input.startswith("data:"):
            return {"file_data": file_input}
        raise InvalidInputError(
            f"String file inputs must be data URIs, received: {file_input}. Load local files with File.from_path()."
        )
    if isinstance(file_input, bytes):
        return {"file_data": _resources.data_uri("application/octet-stream", file_input)}
    raise InvalidInputError(f"Unsupported file input type: {type(file_input)}")
