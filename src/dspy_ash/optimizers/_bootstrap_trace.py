"""`bootstrap_trace_data`: run a program over a dataset and keep, per example, its prediction, its trace
(every predictor call: predictor, inputs, outputs) and the metric's score (DSPy's utility, which
fine-tuning and reflective optimizers build on).

It runs through `Evaluate` (`num_threads` examples at once), the program wrapped so each run's trace is
captured. A reply the adapter cannot parse always becomes a `FailedPrediction` (as in DSPy, whatever
`capture_failed_parses` says): its text, with a format reward between `format_failure_score` and
`failure_score` by the share of output fields that did parse (DSPy divides the two field lists
themselves, which raises; the share is what it means), and it ends the trace. With `capture_crashes`
any other exception of the program becomes one too, but an `LMError` never does: that is the
provider's failure, left to `Evaluate` to count as an error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

from dspy_ash.errors import AdapterParseError, LMError
from dspy_ash.evaluate._evaluate import Evaluate
from dspy_ash.primitives._module import Module
from dspy_ash.settings import settings

logger = logging.getLogger("dspy_ash.optimizers.bootstrap_trace")


@dataclass
class FailedPrediction:
    """What a run whose reply could not be parsed (or that crashed) produced instead of a prediction."""

    completion_text: str
    format_reward: float | None = None


class TraceData(TypedDict):
    example_ind: int
    example: Any
    prediction: Any
    trace: list[tuple[Any, dict[str, Any], Any]]
    score: NotRequired[float | None]  # with a metric


class _Traced(Module):
    """The program, returning `(prediction, trace)` for each call, failures as `FailedPrediction`s."""

    def __init__(
        self,
        program: Any,
        failure_score: float,
        format_failure_score: float,
        log_failures: bool,
        crashes: bool,
    ) -> None:
        super().__init__()
        self.program = program
        self.failure_score = failure_score
        self.format_failure_score = format_failure_score
        self.log_failures = log_failures
        self.crashes = crashes

    async def aforward(self, **kwargs: Any) -> tuple[Any, list[Any]]:
        with settings.context(trace=[]):
            try:
                return await self.program.acall(**kwargs), list(settings.trace)
            except AdapterParseError as exc:
                return self._failed_parse(exc, kwargs)
            except LMError:
                raise
            except Exception as exc:
                if not self.crashes:
                    raise
                logger.warning(
                    "Program raised on an example; capturing it as a failed prediction: %s: %s",
                    type(exc).__name__,
                    exc,
                )
                return FailedPrediction(completion_text=f"{type(exc).__name__}: {exc}"), list(settings.trace)

    def _failed_parse(self, exc: AdapterParseError, inputs: dict[str, Any]) -> tuple[Any, list[Any]]:
        predictor = next((p for p in self.program.predictors() if p.signature == exc.signature), None)
        if predictor is None:
            raise ValueError(f"Failed to find the predictor for the failed signature: {exc.signature}")
        present = list(exc.parsed_result or {})
        expected = list(exc.signature.output_fields)
        reward = self.format_failure_score
        if present:
            reward += (self.failure_score - self.format_failure_score) * (len(present) / len(expected))
        failed = FailedPrediction(completion_text=exc.lm_response, format_reward=reward)
        if self.log_failures:
            logger.warning(
                "Failed to parse output for example. This is likely due to the LLM response not following the "
                "adapter's formatting."
            )
        return failed, [*settings.trace, (predictor, inputs, failed)]


def bootstrap_trace_data(
    program: Any,
    dataset: list[Any],
    metric: Callable[..., Any] | None = None,
    num_threads: int | None = None,
    raise_on_error: bool = True,
    capture_failed_parses: bool = False,
    failure_score: float = 0,
    format_failure_score: float = -1,
    log_format_failures: bool = False,
    callback_metadata: dict[str, Any] | None = None,
    capture_crashes: bool = False,
) -> list[TraceData]:
    """Per example (in dataset order): `example`, `prediction`, `trace`, `example_ind` and, with a metric,
    `score`. An example whose run failed is skipped unless `raise_on_error` (then it raises)."""
    evaluator = Evaluate(
        devset=dataset,
        num_threads=num_threads,
        display_progress=True,
        provide_traceback=False,
        max_errors=len(dataset) * 10,
        failure_score=failure_score,
    )

    def wrapped_metric(example: Any, prediction: Any, trace: Any = None) -> Any:
        prediction, _ = prediction
        if isinstance(prediction, FailedPrediction):
            return prediction.format_reward or format_failure_score
        return metric(example, prediction, trace) if metric else True

    traced = _Traced(program, failure_score, format_failure_score, log_format_failures, capture_crashes)
    results = evaluator(traced, metric=wrapped_metric, callback_metadata=callback_metadata).results
    data: list[TraceData] = []
    for example_ind, (example, outcome, score) in enumerate(results):
        try:
            prediction, trace = outcome
        except ValueError:  # the run failed: Evaluate left an empty prediction
            logger.warning(
                "Failed to unpack prediction and trace. This is likely due to the LLM response not following "
                "dspy formatting."
            )
            if raise_on_error:
                raise
            continue
        entry: TraceData = {
            "example": example,
            "prediction": prediction,
            "trace": trace,
            "example_ind": example_ind,
        }
        if metric:
            entry["score"] = score
        data.append(entry)
    return data
