"""`MultiChainComparison`: show M earlier attempts to the model and ask for a corrected answer."""

from __future__ import annotations

from typing import Any

from dspy_ash.errors import InvalidInputError
from dspy_ash.modules._predict import Predict
from dspy_ash.primitives._module import Module
from dspy_ash.primitives._prediction import Prediction
from dspy_ash.signatures._field import InputField, OutputField
from dspy_ash.signatures._signature import ensure_signature


class MultiChainComparison(Module):
    """Compares `M` earlier reasoning attempts (completions of the same signature) and produces one
    corrected answer with its own rationale. `temperature` and `**config` configure the comparing call."""

    def __init__(self, signature: Any, M: int = 3, temperature: float = 0.7, **config: Any) -> None:
        super().__init__()
        self.M = M
        signature = ensure_signature(signature)
        *_, self.last_key = signature.output_fields.keys()
        for idx in range(M):
            signature = signature.append(
                f"reasoning_attempt_{idx + 1}",
                InputField(prefix=f"Student Attempt #{idx + 1}:", desc="${reasoning attempt}"),
            )
        signature = signature.prepend(
            "rationale",
            OutputField(
                prefix="Accurate Reasoning: Thank you everyone. Let's now holistically",
                desc="${corrected reasoning}",
            ),
        )
        self.predict = Predict(signature, temperature=temperature, **config)

    async def aforward(self, completions: Any, **kwargs: Any) -> Prediction:
        attempts: list[str] = []
        for c in completions:
            rationale = str(c.get("rationale", c.get("reasoning"))).strip().split("\n")[0].strip()
            answer = str(c[self.last_key]).strip().split("\n")[0].strip()
            attempts.append(f"«I'm trying to {rationale} I'm not sure but my prediction is {answer}»")
        if len(attempts) != self.M:
            raise InvalidInputError(
                f"The number of attempts ({len(attempts)}) doesn't match the expected number M ({self.M}). "
                "Please set the correct value for M when initializing MultiChainComparison."
            )
        inputs = {**{f"reasoning_attempt_{i + 1}": a for i, a in enumerate(attempts)}, **kwargs}
        return await self.predict.acall(**inputs)
