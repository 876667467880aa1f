"""`Example`: a dict-like record with attribute access and a notion of which keys are inputs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dspy_ash.errors import InvalidInputError, InvalidInputTypeError


class Example:
    """A training or evaluation record: a dict with attribute access. `with_inputs("question", ...)`
    marks which fields are inputs; `inputs()` and `labels()` split it. `base` copies a dict or Example."""

    _store: dict[str, Any]
    _demos: list[Any]
    _input_keys: set[str] | None

    def __init__(self, base: Any = None, **kwargs: Any) -> None:
        store: dict[str, Any]
        input_keys: set[str] | None = None
        if isinstance(base, Example):
            store = dict(base._store)
            input_keys = set(base._input_keys) if base.__dict__.get("_input_keys") is not None else None  # type: ignore[arg-type]
        elif isinstance(base, dict):
            store = dict(base)
        elif base is None:
            store = {}
        else:
            raise InvalidInputTypeError(
                f"Example(base) takes a dict or an Example, not {type(base).__name__}"
            )
        store.update(kwargs)
        self.__dict__.update(_store=store, _demos=[], _input_keys=input_keys)

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__") and key.endswith("__"):
            raise AttributeError(key)
        store = self.__dict__.get("_store")
        if store is not None and key in store:
            return store[key]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{key}'")

    def __setattr__(self, key: str, value: Any) -> None:
        if key.startswith("_") or key in type(self).__dict__:
            object.__setattr__(self, key, value)
        else:
            self._store[key] = value

    def __getitem__(self, key: str) -> Any:
        return self._store[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._store[key] = value

    def __delitem__(self, key: str) -> None:
        del self._store[key]

    def __contains__(self, key: object) -> bool:
        return key in self._store

    def __len__(self) -> int:
        return len([k for k in self._store if not k.startswith("dspy_")])

    def __iter__(self) -> Iterator[str]:
        return iter(dict(self._store))

    def __repr__(self) -> str:
        shown = {k: v for k, v in self._store.items() if not k.startswith("dspy_")}
        return f"Example({shown}) (input_keys={self._input_keys})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Example) and self._store == other._store

    def __hash__(self) -> int:
        return hash(frozenset(self._store.items()))

    def keys(self, include_dspy: bool = False) -> list[str]:
        return [k for k in self._store if include_dspy or not k.startswith("dspy_")]

    def values(self, include_dspy: bool = False) -> list[Any]:
        return [v for k, v in self._store.items() if include_dspy or not k.startswith("dspy_")]

    def items(self, include_dspy: bool = False) -> list[tuple[str, Any]]:
        return [(k, v) for k, v in self._store.items() if include_dspy or not k.startswith("dspy_")]

    def get(self, key: str, default: Any = None) -> Any:
        return self._store.get(key, default)

    def with_inputs(self, *keys: str) -> Example:
        copied = self.copy()
        copied._input_keys = set(keys)
        return copied

    def inputs(self) -> Example:
        if self._input_keys is None:
            raise InvalidInputError(
                "Inputs have not been set for this example. Use `example.with_inputs()` to set them."
            )
        result = Example({k: v for k, v in self._store.items() if k in self._input_keys})
        result._input_keys = self._input_keys
        return result

    def labels(self) -> Example:
        keys = self._input_keys or set()
        return Example({k: v for k, v in self._store.items() if k not in keys})

    def copy(self, **kwargs: Any) -> Example:
        return type(self)(base=self, **kwargs)

    def without(self, *keys: str) -> Example:
        copied = self.copy()
        for key in keys:
            copied._store.pop(key, None)
        return copied

    def toDict(self) -> dict[str, Any]:
        return {k: _to_plain(v) for k, v in self._store.items()}

    to_dict = toDict


def _to_plain(value: Any) -> Any:
    if hasattr(value, "toDict"):
        return value.toDict()
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_to_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_plain(v) for k, v in value.items()}
    return value
