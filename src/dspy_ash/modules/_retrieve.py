"""`Retrieve(k)`: passages for a query from the configured retriever (`configure(rm=...)`), as DSPy."""

from __future__ import annotations

import inspect
import random
from collections.abc import Iterable
from typing import Any, Self

from dspy_ash._sync import run_sync
from dspy_ash.primitives._module import Parameter
from dspy_ash.primitives._observed import aobserved
from dspy_ash.primitives._prediction import Prediction
from dspy_ash.settings import settings


class Retrieve(Parameter):
    """Returns the top `k` passages for a query from the configured retriever (`dspy.configure(rm=...)`)."""

    name = "Search"
    input_variable = "query"
    desc = "takes a search query and returns one or more potentially relevant passages from a corpus"

    def __init__(self, k: int = 3, callbacks: list[Any] | None = None) -> None:
        self.stage = random.randbytes(8).hex()
        self.k = k
        self.callbacks = list(callbacks or [])

    def reset(self) -> None:
        pass

    def dump_state(self, json_mode: bool = True) -> dict[str, Any]:
        return {"k": self.k}

    def load_state(self, state: dict[str, Any], **_: Any) -> Self:
        for name, value in state.items():
            setattr(self, name, value)
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> Prediction:
        return run_sync(self.acall(*args, **kwargs))

    def forward(self, query: str, k: int | None = None, **kwargs: Any) -> Prediction:
        return run_sync(self.aforward(query, k, **kwargs))

    async def acall(self, *args: Any, **kwargs: Any) -> Prediction:
        return await aobserved(
            "module",
            type(self).__name__,
            self,
            kwargs,
            lambda: self.aforward(*args, **kwargs),
            self.callbacks,
        )

    async def aforward(self, query: str, k: int | None = None, **kwargs: Any) -> Prediction:
        k = self.k if k is None else k
        rm = settings.rm
        if not rm:
            raise AssertionError("No RM is loaded.")
        # Our retrievers are async natively; a DSPy-style sync `rm` callable works too.
        acall = getattr(rm, "acall", None)
        if acall is not None:
            passages = await acall(query, k=k, **kwargs)
        else:
            passages = rm(query, k=k, **kwargs)
            if inspect.isawaitable(passages):
                passages = await passages
        if isinstance(passages, str) or not isinstance(passages, Iterable):
            passages = [passages]
        return Prediction(passages=[_text(p) for p in passages])

    def __repr__(self) -> str:
        return f"Retrieve(k={self.k})"


def _text(passage: Any) -> str:
    if isinstance(passage, str):
        return passage
    if isinstance(passage, dict):
        return str(passage.get("long_text", passage.get("text", "")))
    return str(passage.long_text)
