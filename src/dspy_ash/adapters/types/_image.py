"""`dspy.Image`: an image input, sent as an `image_url` content part (a remote URL or a base64 data URI).

Construction never reads a file or the network: `Image(url)` keeps an http(s)/gs URL as a reference,
`Image(data_uri)` keeps the data URI, bytes and PIL images (with the `media` extra) are encoded in memory.
Local files and downloads are explicit: `Image.from_path(path)`, `Image.from_url(url)`.
"""

from __future__ import annotations

import functools
import io
import mimetypes
import warnings
from typing import Any
from urllib.parse import urlparse

import pydantic

from dspy_ash.adapters.types import _resources
from dspy_ash.adapters.types._base_type import Type
from dspy_ash.adapters.types._experimental import warn_removed_in_3_4
from dspy_ash.errors import InvalidInputError, InvalidInputTypeError

_UNSET: Any = object()


class Image(Type):
    url: str

    model_config = pydantic.ConfigDict(
        frozen=True, str_strip_whitespace=True, validate_assignment=True, extra="forbid"
    )

    def __init__(self, source: Any = None, /, *, download: Any = _UNSET, verify: Any = _UNSET, **data: Any):
        """`Image(source)` with a URL, a data URI, bytes, a PIL image or `{"url": ...}`; or `Image(url=...)`.

        `download`/`verify` are DSPy's deprecated way to fetch a URL eagerly; they are honoured only with a
        positional source, so data validated from an LM reply (which arrives as keywords) can never make
        the process fetch a URL it names.
        """
        download_given, verify_given = download is not _UNSET, verify is not _UNSET
        if (download_given or verify_given) and source is None:
            raise InvalidInputTypeError(
                "`download` and `verify` are only valid with a positional image source; "
                "use Image.from_url(url, verify=...) to download a remote image."
            )
        if download_given or verify_given:
            warnings.warn(
                "The `download` and `verify` arguments to Image() are deprecated and will be removed in "
                "3.4. Use Image.from_url(url, verify=...) to download a remote image, or "
                "Image.from_path(path) for a local file.",
                DeprecationWarning,
                stacklevel=2,
            )
        if source is not None and "url" in data:
            raise InvalidInputTypeError(
                "Image received both `source` and `url`; provide only one image source"
            )
        if source is not None:
            is_legacy_dict = isinstance(source, dict) and set(source) == {"url"}  # pyright: ignore[reportUnknownArgumentType]
            data["url"] = source["url"] if is_legacy_dict else source
        url = data.get("url")
        if download_given and download and isinstance(url, str) and _resources.is_http_url(url):
            data["url"] = _download_image(url, verify=verify if verify_given else True, timeout=30.0)
        elif "url" in data:
            data["url"] = encode_image(data["url"])
        super().__init__(**data)

    def format(self) -> list[dict[str, Any]] | str:
        try:
            url = encode_image(self.url)
        except Exception as exc:
            raise InvalidInputError(f"Failed to format image for DSPy: {exc}") from exc
        return [{"type": "image_url", "image_url": {"url": url}}]

    @classmethod
    def from_url(cls, url: str, verify: bool = True, timeout: float | None = 30.0) -> Image:
        """Download an HTTP(S) image and keep it as a data URI (the caller vets untrusted hosts)."""
        if not _resources.is_http_url(url):
            raise InvalidInputError(f"Image.from_url requires an HTTP(S) URL, received: {url}")
        return cls(_download_image(url, verify=verify, timeout=timeout))

    @classmethod
    def from_path(cls, file_path: str) -> Image:
        """Read a local image file into a data URI (its MIME type guessed from the name)."""
        data = _resources.read_local_file(file_path)
        mime_type, _ = mimetypes.guess_type(file_path)
        if mime_type is None:
            raise InvalidInputError(f"Could not determine MIME type for file: {file_path}")
        return cls(_resources.data_uri(mime_type, data))

    @classmethod
    def from_file(cls, file_path: str) -> Image:
        """Deprecated alias of `from_path`."""
        warn_removed_in_3_4("Image.from_file", "Image.from_path")
        return cls.from_path(file_path)

    @classmethod
    def from_PIL(cls, pil_image: Any) -> Image:
        """Deprecated: `Image(pil_image)`."""
        warn_removed_in_3_4("Image.from_PIL", "Image(pil_image)")
        return cls(pil_image)

    def __str__(self) -> str:
        return str(self.serialize_model())

    def __repr__(self) -> str:
        if "base64" in self.url:
            encoded_length = len(self.url.split("base64,")[1])
            image_type = self.url.split(";")[0].split("/")[-1]
            return f"Image(url=data:image/{image_type};base64,<IMAGE_BASE_64_ENCODED({encoded_length})>)"
        return f"Image(url='{self.url}')"


def is_url(text: str) -> bool:
    """An http(s) or gs URL with a host."""
    try:
        parsed = urlparse(text)
    except ValueError:
        return False
    return parsed.scheme in ("http", "https", "gs") and bool(parsed.netloc)


def is_image(obj: Any) -> bool:
    """A PIL image, a data URI or a remote URL."""
    pil_image = _pil_image_class()
    if pil_image is not None and isinstance(obj, pil_image):
        return True
    return isinstance(obj, str) and (obj.startswith("data:") or is_url(obj))


def encode_image(image: Any) -> str:
    """A data URI or remote URL for an image value (str, bytes, PIL image, `{"url": ...}` or Image)."""
    if isinstance(image, dict) and "url" in image:
        return encode_image(image["url"])
    if isinstance(image, str):
        if image.startswith("data:") or is_url(image):
            return image
        raise InvalidInputError(
            f"Unrecognized image string: {image}. Local files must be loaded with Image.from_path()."
        )
    if isinstance(image, Image):
        return image.url
    pil_image = _pil_image_class()
    if pil_image is not None and isinstance(image, pil_image):
        return _encode_pil_image(image)
    if isinstance(image, bytes):
        return _encode_image_bytes(image)
    raise InvalidInputError(f"Unsupported image type: {type(image)}")


@functools.cache
def _pil() -> Any:
    try:
        import PIL.Image  # pyright: ignore[reportMissingImports]
    except ImportError:
        return None
    return PIL.Image  # pyright: ignore[reportUnknownVariableType]


def _pil_image_class() -> type | None:
    module = _pil()
    return None if module is None else module.Image


def _encode_image_bytes(data: bytes) -> str:
    module = _pil()
    if module is None:
        raise ImportError("Pillow is required to process image bytes: pip install 'dspy-ash[media]'.")
    try:
        image = module.open(io.BytesIO(data))
    except module.UnidentifiedImageError as exc:
        raise InvalidInputError(f"Bytes could not be identified as an image: {exc}") from exc
    return _encode_pil_image(image)


def _encode_pil_image(image: Any) -> str:
    buffer = io.BytesIO()
    file_format = image.format or "PNG"
    image.save(buffer, format=file_format)
    mime_type, _ = mimetypes.guess_type(f"file.{file_format.lower()}")
    if mime_type is None:
        raise InvalidInputError(f"Could not determine MIME type for image format: {file_format}")
    return _resources.data_uri(mime_type, buffer.getvalue())


def _download_image(url: str, verify: bool, timeout: float | None) -> str:
    body, content_type = _resources.download(url, verify=verify, timeout=timeout)
    mime_type = content_type or mimetypes.guess_type(url)[0]
    if not mime_type:
        raise InvalidInputError(f"Could not determine MIME type for URL: {url}")
    return _resources.data_uri(mime_type, body)
