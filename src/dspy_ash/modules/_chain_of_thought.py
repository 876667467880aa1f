"""`ChainOfThought`: `Predict` with a `reasoning` output before the signature's outputs."""

from __future__ import annotations

from typing import Any

from dspy_ash.modules._predict import Predict
from dspy_ash.primitives._module import Module
from dspy_ash.primitives._prediction import Prediction
from dspy_ash.signatures._field import OutputField
from dspy_ash.signatures._signature import ensure_signature


class ChainOfThought(Module):
    """`Predict` with a `reasoning` output field added before the signature's outputs, so the LM thinks
    step by step first. `signature` as for `Predict`; `rationale_field` replaces the reasoning field;
    other keyword arguments are the LM call's configuration."""

    def __init__(
        self, signature: Any, rationale_field: Any = None, rationale_field_type: Any = str, **config: Any
    ) -> None:
        super().__init__()
        signature = ensure_signature(signature)
        field = rationale_field if rationale_field is not None else OutputField(desc="${reasoning}")
        self.predict = Predict(signature.prepend("reasoning", field, rationale_field_type), **config)

    async def aforward(self, **kwargs: Any) -> Prediction:
        return await self.predict.acall(**kwargs)
