"""A credential that cannot leak by accident: it prints and reprs as a mask."""

from __future__ import annotations

from typing import Any


class Secret:
    """Holds an API key; only `reveal()` gives the value (called where a header is built, nowhere else)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self  # immutable: program deep copies share it instead of duplicating the key


class RedactedHeaders(dict[str, str]):
    """Request headers that print with credentials masked (tracebacks that show locals, debug logs)."""

    SENSITIVE = frozenset({"authorization", "x-api-key", "api-key", "proxy-authorization"})

    def __repr__(self) -> str:
        shown = {k: ("**********" if k.lower() in self.SENSITIVE else v) for k, v in self.items()}
        return repr(shown)

    __str__ = __repr__
