"""`dspy.Audio`: an audio input, sent as an `input_audio` content part (base64 data and its format).

Built from in-memory values only: a `data:audio/...` URI, raw bytes (with `audio_format=`), a numpy-like
array (with the `soundfile` package), `{"data", "audio_format"}` or another Audio. Files and downloads are
explicit: `Audio.from_path(path)`, `Audio.from_url(url)`.
"""

from __future__ import annotations

import base64
import io
import mimetypes
from typing import Any

import pydantic

from dspy_ash.adapters.types import _resources
from dspy_ash.adapters.types._base_type import Type
from dspy_ash.adapters.types._experimental import warn_removed_in_3_4
from dspy_ash.errors import InvalidInputError, InvalidInputTypeError


def _normalize_audio_format(audio_format: str) -> str:
    """`x-wav` -> `wav`: MIME subtypes of unregistered formats carry an `x-` prefix the APIs do not want."""
    return audio_format.removeprefix("x-")


class Audio(Type):
    """An audio input type for DSPy.

    Construct from in-memory values only: a data URI string, raw ``bytes`` (with
    ``audio_format=``), a numpy-like array, a ``{"data", "audio_format"}`` dict, or another
    ``Audio``. Raw base64 is passed as ``Audio(data=..., audio_format=...)``. Construction and
    adapter parsing never access the filesystem or network; use :meth:`from_path` to read a local
    file, :meth:`from_url` to download a remote resource, or :meth:`from_array` for array data.
    """

    data: str
    audio_format: str

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")

    def __init__(self, *args: Any, **data: Any) -> None:
        if len(args) > 1:
            raise InvalidInputTypeError(f"Audio expected at most 1 positional argument, received {len(args)}")
        if args:
            if "data" in data:
                raise InvalidInputTypeError("Audio received data as both a positional and keyword argument")
            value = args[0]
            sampling_rate = data.pop("sampling_rate", None)
            audio_format = data.pop("audio_format", None)
            if audio_format is not None and _carries_own_format(value):
                raise InvalidInputTypeError(
                    "Audio received audio_format alongside an input that already carries its format; "
                    "provide only one"
                )
            if sampling_rate is not None and not hasattr(value, "shape"):
                raise InvalidInputTypeError(
                    "Audio received sampling_rate for a non-array input; it only applies to array data"
                )
            data = {
                **encode_audio(value, sampling_rate=sampling_rate or 16000, format=audio_format or "wav"),
                **data,
            }
        super().__init__(**data)

    @pydantic.model_validator(mode="before")
    @classmethod
    def validate_input(cls, values: Any) -> Any:
        if isinstance(values, cls):
            return {"data": values.data, "audio_format": values.audio_format}
        return encode_audio(values)

    def format(self) -> list[dict[str, Any]]:
        return [{"type": "input_audio", "input_audio": {"data": self.data, "format": self.audio_format}}]

    @classmethod
    def from_url(cls, url: str, verify: bool = True, timeout: float | None = 30.0) -> Audio:
        """Download HTTP(S) audio (the caller vets untrusted hosts); its format from the Content-Type."""
        if not _resources.is_http_url(url):
            raise InvalidInputError(f"Audio.from_url requires an HTTP(S) URL, received: {url}")
        body, content_type = _resources.download(url, verify=verify, timeout=timeout)
        mime_type = content_type or "audio/wav"
        if not mime_type.startswith("audio/"):
            raise InvalidInputError(f"Unsupported MIME type for audio: {mime_type}")
        return cls._from_bytes(body, mime_type)

    @classmethod
    def from_path(cls, file_path: str) -> Audio:
        """Read a local audio file; its format guessed from the file name."""
        mime_type, _ = mimetypes.guess_type(file_path)
        body = _resources.read_local_file(file_path)
        if not mime_type or not mime_type.startswith("audio/"):
            raise InvalidInputError(f"Unsupported MIME type for audio: {mime_type}")
        return cls._from_bytes(body, mime_type)

    @classmethod
    def _from_bytes(cls, body: bytes, mime_type: str) -> Audio:
        audio_format = _normalize_audio_format(mime_type.split("/")[1])
        return cls(data=base64.b64encode(body).decode("utf-8"), audio_format=audio_format)

    @classmethod
    def from_file(cls, file_path: str) -> Audio:
        """Deprecated alias of `from_path`."""
        warn_removed_in_3_4("Audio.from_file", "Audio.from_path")
        return cls.from_path(file_path)

    @classmethod
    def from_array(cls, array: Any, sampling_rate: int, format: str = "wav") -> Audio:
        """Encode a numpy-like array of samples (16-bit PCM) with the `soundfile` package."""
        try:
            import soundfile  # pyright: ignore[reportMissingImports]
        except ImportError as exc:
            raise ImportError("soundfile is required to process audio arrays: pip install soundfile") from exc
        buffer = io.BytesIO()
        soundfile.write(buffer, array, sampling_rate, format=format.upper(), subtype="PCM_16")  # pyright: ignore[reportUnknownMemberType]
        return cls(data=base64.b64encode(buffer.getvalue()).decode("utf-8"), audio_format=format)

    def __str__(self) -> str:
        return str(self.serialize_model())

    def __repr__(self) -> str:
        return f"Audio(data=<AUDIO_BASE_64_ENCODED({len(self.data)})>, audio_format='{self.audio_format}')"


def _carries_own_format(value: Any) -> bool:
    if isinstance(value, Audio):
        return True
    if isinstance(value, dict) and "audio_format" in value:
        return True
    return isinstance(value, str) and value.startswith("data:audio/")


def encode_audio(audio: Any, sampling_rate: int = 16000, format: str = "wav") -> dict[str, Any]:
    """`{"data": <base64>, "audio_format": ...}` for an in-memory audio value."""
    if isinstance(audio, dict) and "data" in audio and "audio_format" in audio:
        return audio  # pyright: ignore[reportUnknownVariableType]
    if isinstance(audio, Audio):
        return {"data": audio.data, "audio_format": audio.audio_format}
    if isinstance(audio, str) and audio.startswith("data:audio/"):
        header, separator, encoded = audio.partition(",")
        mime = header.removeprefix("data:").split(";", 1)[0]
        _, slash, audio_format = mime.partition("/")
        if not separator or not slash or not audio_format:
            raise InvalidInputError("Malformed audio data URI")
        return {"data": encoded, "audio_format": _normalize_audio_format(audio_format)}
    if isinstance(audio, str):
        raise InvalidInputError(
            "String audio inputs must be data URIs. "
            "Load local files with Audio.from_path() and remote resources with Audio.from_url()."
        )
    if hasattr(audio, "shape") and _has_soundfile():
        encoded_array = Audio.from_array(audio, sampling_rate=sampling_rate, format=format)
        return {"data": encoded_array.data, "audio_format": encoded_array.audio_format}
    if isinstance(audio, bytes):
        return {"data": base64.b64encode(audio).decode("utf-8"), "audio_format": format}
    raise InvalidInputError(f"Unsupported type for encode_audio: {type(audio)}")


def _has_soundfile() -> bool:
    import importlib.util

    return importlib.util.find_spec("soundfile") is not None
