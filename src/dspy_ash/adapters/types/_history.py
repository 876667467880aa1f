from __future__ import annotations

from typing import Any

import pydantic


class History(pydantic.BaseModel):
    """Earlier turns of a conversation: each message a dict keyed by the signature's field names."""

    messages: list[dict[str, Any]]

    model_config = pydantic.ConfigDict(
        frozen=True, str_strip_whitespace=True, validate_assignment=True, extra="forbid"
    )
