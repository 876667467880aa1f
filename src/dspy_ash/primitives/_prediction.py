"""`Prediction` (what a module returns) and `Completions` (all n completions, column-wise)."""

from __future__ import annotations

from typing import Any

from dspy_ash.errors import InvalidInputError
from dspy_ash.primitives._example import Example


class Prediction(Example):
    """The output of a module call: its output fields as attributes (`pred.answer`), plus `completions`
    when the LM gave several, and LM usage when tracked. Comparable and convertible to float by `score`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self._demos
        del self._input_keys
        self.__dict__.update(_completions=None, _lm_usage=None)

    @classmethod
    def from_completions(cls, list_or_dict: Any, signature: Any = None) -> Prediction:
        obj = cls.__new__(cls)  # the hot path of every call: skip __init__'s generic setup
        completions = Completions(list_or_dict, signature=signature)
        obj.__dict__.update(
            _store={k: v[0] for k, v in completions.items()}, _completions=completions, _lm_usage=None
        )
        return obj

    @property
    def completions(self) -> Completions | None:
        return self._completions

    def get_lm_usage(self) -> dict[str, Any] | None:
        return self._lm_usage

    def set_lm_usage(self, value: dict[str, Any] | None) -> None:
        self._lm_usage = value

    def __repr__(self) -> str:
        body = ",\n    ".join(f"{k}={v!r}" for k, v in self._store.items())
        if self._completions is None or len(self._completions) == 1:
            return f"Prediction(\n    {body}\n)"
        n = len(self._completions)
        return f"Prediction(\n    {body},\n    completions=Completions(...)\n) ({n - 1} completions omitted)"

    __str__ = __repr__

    # numeric protocol over a `score` field, as DSPy (metrics may return Predictions)
    def _score(self) -> float:
        if "score" not in self._store:
            raise InvalidInputError("Prediction object does not have a 'score' field to convert to float.")
        return float(self._store["score"])

    def __float__(self) -> float:
        return self._score()

    def __add__(self, other: Any) -> float:
        return self._score() + float(other)

    def __radd__(self, other: Any) -> float:
        return float(other) + self._score()

    def __truediv__(self, other: Any) -> float:
        return self._score() / float(other)

    def __rtruediv__(self, other: Any) -> float:
        return float(other) / self._score()

    def __lt__(self, other: Any) -> bool:
        return self._score() < float(other)

    def __le__(self, other: Any) -> bool:
        return self._score() <= float(other)

    def __gt__(self, other: Any) -> bool:
        return self._score() > float(other)

    def __ge__(self, other: Any) -> bool:
        return self._score() >= float(other)

    __hash__ = Example.__hash__


class Completions:
    """Several completions of one call (`n > 1`): `completions[i]` is a `Prediction`, and
    `completions.answer` the list of every completion's `answer`. `list_or_dict` is a list of dicts or
    a dict of equal-length lists."""

    def __init__(self, list_or_dict: Any, signature: Any = None) -> None:
        self.signature = signature
        if isinstance(list_or_dict, list) and len(list_or_dict) == 1:
            # one completion, what nearly every call returns: every column has its one value
            self._completions = {key: [value] for key, value in list_or_dict[0].items()}
            return
        if isinstance(list_or_dict, list):
            kwargs: dict[str, list[Any]] = {}
            for row in list_or_dict:
                for key, value in row.items():
                    kwargs.setdefault(key, []).append(value)
        else:
            kwargs = dict(list_or_dict)
        lengths = {len(v) for v in kwargs.values()}
        if len(lengths) > 1:
            raise InvalidInputError("All completion fields must have the same number of values.")
        self._completions = kwargs

    def items(self) -> Any:
        return self._completions.items()

    def __getitem__(self, key: int | str) -> Any:
        if isinstance(key, int):
            if key < 0 or key >= len(self):
                raise IndexError("Index out of range")
            return Prediction(**{k: v[key] for k, v in self._completions.items()})
        return self._completions[key]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._completions:
            return self._completions[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __len__(self) -> int:
        return len(next(iter(self._completions.values()))) if self._completions else 0

    def __contains__(self, key: object) -> bool:
        return key in self._completions

    def __repr__(self) -> str:
        items = ",\n    ".join(f"{k}={v!r}" for k, v in self._completions.items())
        return f"Completions(\n    {items}\n)"
