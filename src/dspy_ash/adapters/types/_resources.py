"""Reading the bytes of a media value from where the caller explicitly said: a local file or an HTTP(S) URL.

Only the `from_path` / `from_url` factories of Image, Audio and File come here: constructing or validating
a value (which LM output and untrusted input reach) never reads a file or the network.
"""

from __future__ import annotations

import base64
import os
from typing import Any
from urllib.parse import urlparse

from dspy_ash.errors import InvalidInputError


def is_http_url(text: str) -> bool:
    try:
        parsed = urlparse(text)
    except ValueError:
        return False
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


def read_local_file(file_path: str) -> bytes:
    if not os.path.isfile(file_path):
        raise InvalidInputError(f"File not found: {file_path}")
    with open(file_path, "rb") as file:
        return file.read()


def download(url: str, verify: bool, timeout: float | None) -> tuple[bytes, str]:
    """(body, Content-Type header or "") of an HTTP(S) GET.

    Uses `requests` (the `media` extra), as DSPy does, so code that patches `requests.get` in its
    tests keeps working. This fetch applies no SSRF protection beyond the scheme check, like DSPy's:
    a caller passing a URL from untrusted input must check its host first.
    """
    response: Any = _requests().get(url, verify=verify, timeout=timeout)
    response.raise_for_status()
    return response.content, str(response.headers.get("Content-Type", ""))


def data_uri(mime_type: str, data: bytes) -> str:
    return f"data:{mime_type};base64,{base64.b64encode(data).decode('utf-8')}"


def _requests() -> Any:
    try:
        import requests
    except ImportError as exc:
        raise ImportError(
            "Downloading a media URL needs the `requests` package: pip install 'dspy-ash[media]'."
        ) from exc
    return requests


def __getattr__(name: str) -> Any:
    # `dspy.adapters.types.image.requests` (what DSPy code patches) reaches the module here, imported only
    # when asked for: importing the media types stays cheap.
    if name == "requests":
        return _requests()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
