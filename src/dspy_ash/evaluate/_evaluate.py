"""`Evaluate`: score a program on a dev set with many examples in flight, as DSPy's `dspy.Evaluate`.

`num_threads` is the number of examples in flight (asyncio tasks on one loop; a program with a sync
`forward` runs it on a worker thread per example in flight, see `dspy_ash._sync`). Every
example is accounted for: it is scored, or it failed and its error is kept in `result.errors`
while `failure_score` counts for it. Once `max_errors` examples failed the run stops with
`TooManyErrors`, as DSPy's executor does.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dspy_ash import events
from dspy_ash._sync import run_sync
from dspy_ash.evaluate._calling import call_metric, metric_name, run_program
from dspy_ash.evaluate._export import display_table as show_table
from dspy_ash.evaluate._export import result_rows, save_csv, save_json
from dspy_ash.evaluate._progress import make_progress
from dspy_ash.lm._usage import UsageTracker, track_usage
from dspy_ash.primitives._concurrency import Outcome, run_bounded
from dspy_ash.primitives._prediction import Prediction
from dspy_ash.settings import settings

logger = logging.getLogger("dspy_ash.evaluate")


class EvaluationResult(Prediction):
    """`score` (a percentage rounded to 2 places) and `results` = [(example, prediction, score)].

    Beyond DSPy: `errors` maps the devset index of each failed example to its exception, and
    `usage` / `cost` total the LM tokens and cost the evaluation spent.
    """

    errors: dict[int, BaseException] = {}  # class defaults; each result sets its own
    usage: dict[str, dict[str, Any]] = {}
    cost: float = 0.0
    lm_calls: int = 0

    def __init__(self, score: float, results: list[tuple[Any, Any, Any]]) -> None:
        super().__init__(score=score, results=results)

    def __repr__(self) -> str:
        return f"EvaluationResult(score={self.score}, results=<list of {len(self.results)} results>)"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class _Options:
    """One evaluation's settings, resolved (see `Evaluate._options`)."""

    metric: Callable[..., Any]
    devset: list[Any]
    limit: int
    show_progress: bool
    table: bool | int
    csv_path: str | None
    json_path: str | None
    max_errors: int
    traceback_on: bool


class Evaluate:
    def __init__(
        self,
        *,
        devset: list[Any],
        metric: Callable[..., Any] | None = None,
        num_threads: int | None = None,
        display_progress: bool = False,
        display_table: bool | int = False,
        max_errors: int | None = None,
        provide_traceback: bool | None = None,
        failure_score: float = 0.0,
        save_as_csv: str | None = None,
        save_as_json: str | None = None,
        **kwargs: Any,
    ) -> None:
        if "return_outputs" in kwargs:
            raise ValueError(
                "`return_outputs` is no longer supported. Results are always returned inside the "
                "`results` field of the `EvaluationResult` object."
            )
        self.devset = devset
        self.metric = metric
        self.num_threads = num_threads
        self.display_progress = display_progress
        self.display_table = display_table
        self.max_errors = max_errors
        self.provide_traceback = provide_traceback
        self.failure_score = failure_score
        self.save_as_csv = save_as_csv
        self.save_as_json = save_as_json

    def __call__(
        self,
        program: Any,
        metric: Callable[..., Any] | None = None,
        devset: list[Any] | None = None,
        num_threads: int | None = None,
        display_progress: bool | None = None,
        display_table: bool | int | None = None,
        callback_metadata: dict[str, Any] | None = None,
        save_as_csv: str | None = None,
        save_as_json: str | None = None,
    ) -> EvaluationResult:
        return run_sync(
            self._evaluate(
                program,
                metric=metric,
                devset=devset,
                num_threads=num_threads,
                display_progress=display_progress,
                display_table=display_table,
                callback_metadata=callback_metadata,
                save_as_csv=save_as_csv,
                save_as_json=save_as_json,
                sync_caller=True,
            )
        )

    async def acall(
        self,
        program: Any,
        metric: Callable[..., Any] | None = None,
        devset: list[Any] | None = None,
        num_threads: int | None = None,
        display_progress: bool | None = None,
        display_table: bool | int | None = None,
        callback_metadata: dict[str, Any] | None = None,
        save_as_csv: str | None = None,
        save_as_json: str | None = None,
    ) -> EvaluationResult:
        return await self._evaluate(
            program,
            metric=metric,
            devset=devset,
            num_threads=num_threads,
            display_progress=display_progress,
            display_table=display_table,
            callback_metadata=callback_metadata,
            save_as_csv=save_as_csv,
            save_as_json=save_as_json,
            sync_caller=False,
        )

    async def _evaluate(
        self,
        program: Any,
        *,
        metric: Callable[..., Any] | None,
        devset: list[Any] | None,
        num_threads: int | None,
        display_progress: bool | None,
        display_table: bool | int | None,
        callback_metadata: dict[str, Any] | None,
        save_as_csv: str | None,
        save_as_json: str | None,
        sync_caller: bool,
    ) -> EvaluationResult:
        """`sync_caller`: called through the sync API, whose caller waits anyway; with one example at a
        time the sync metric then runs on this thread, as DSPy runs it in the caller's thread."""
        options = self._options(
            metric, devset, num_threads, display_progress, display_table, save_as_csv, save_as_json
        )
        if callback_metadata:
            logger.debug("Evaluate is called with callback metadata: %s", callback_metadata)

        scope = events.start(
            "evaluate",
            "Evaluate",
            self,
            {
                "program": program,
                "metric": options.metric,
                "devset": options.devset,
                "num_threads": num_threads,
                "display_progress": display_progress,
                "display_table": display_table,
                "callback_metadata": callback_metadata,
                "save_as_csv": save_as_csv,
                "save_as_json": save_as_json,
            },
        )
        try:
            result = await self._run(
                program, options, metric_on_this_thread=sync_caller and options.limit <= 1
            )
        except BaseException as exc:
            if scope is not None:
                scope.fail(exc)
            raise
        if scope is not None:
            scope.end(result, usage=result.usage, cost=result.cost)
        _export(result, options)
        return result

    def _options(
        self,
        metric: Callable[..., Any] | None,
        devset: list[Any] | None,
        num_threads: int | None,
        display_progress: bool | None,
        display_table: bool | int | None,
        save_as_csv: str | None,
        save_as_json: str | None,
    ) -> _Options:
        """This call's arguments, else the constructor's, else the global settings; checked."""
        metric = metric if metric is not None else self.metric
        devset = devset if devset is not None else self.devset
        if not devset:
            raise ValueError("devset must contain at least one example, got an empty devset.")
        if metric is None:
            raise ValueError("Evaluate needs a metric.")
        return _Options(
            metric=metric,
            devset=devset,
            limit=num_threads if num_threads is not None else (self.num_threads or settings.num_threads),
            show_progress=display_progress if display_progress is not None else self.display_progress,
            table=display_table if display_table is not None else self.display_table,
            csv_path=save_as_csv if save_as_csv is not None else self.save_as_csv,
            json_path=save_as_json if save_as_json is not None else self.save_as_json,
            max_errors=self.max_errors if self.max_errors is not None else settings.max_errors,
            traceback_on=(
                self.provide_traceback if self.provide_traceback is not None else settings.provide_traceback
            ),
        )

    async def _run(self, program: Any, options: _Options, *, metric_on_this_thread: bool) -> EvaluationResult:
        metric, devset, traceback_on = options.metric, options.devset, options.traceback_on
        progress = make_progress(options.show_progress, len(devset))
        done = 0
        score_sum = 0.0

        async def score_one(example: Any) -> tuple[Any, Any]:
            prediction = await run_program(program, example)
            return prediction, await call_metric(
                metric, example, prediction, on_this_thread=metric_on_this_thread
            )

        def on_result(index: int, value: tuple[Any, Any] | None, error: BaseException | None) -> None:
            nonlocal done, score_sum
            done += 1
            if error is not None:
                _log_error(index, error, traceback_on)
            elif value is not None:
                score_sum += float(value[1])
            progress.update(done, score_sum)
            events.emit(
                "progress",
                "evaluate",
                self,
                done=done,
                total=len(devset),
                score_sum=score_sum,
                failed=error is not None,
            )

        try:
            with track_usage() as tracker:
                # DSPy's executor stops once error_count >= max_errors; run_bounded stops past its limit.
                outcome = await run_bounded(
                    devset,
                    score_one,
                    limit=max(1, options.limit),
                    max_errors=options.max_errors - 1,
                    on_result=on_result,
                )
        finally:
            progress.close()
        return self._result(devset, outcome, tracker)

    def _result(
        self, devset: list[Any], outcome: Outcome[tuple[Any, Any]], tracker: UsageTracker
    ) -> EvaluationResult:
        """DSPy's result (failed examples score `failure_score`), plus the errors, usage and cost."""
        results: list[tuple[Any, Any, Any]] = []
        for example, value in zip(devset, outcome.results, strict=True):
            prediction, score = value if value is not None else (Prediction(), self.failure_score)
            results.append((example, prediction, score))
        total = sum(score for *_, score in results)
        pct = round(100 * total / len(devset), 2)
        logger.info("Average Metric: %s / %d (%s%%)", total, len(devset), round(100 * total / len(devset), 1))
        result = EvaluationResult(score=pct, results=results)
        object.__setattr__(result, "errors", dict(outcome.errors))
        object.__setattr__(result, "usage", tracker.get_total_tokens())
        object.__setattr__(result, "cost", tracker.total_cost)
        object.__setattr__(result, "lm_calls", tracker.calls)
        return result


def _log_error(index: int, error: BaseException, with_traceback: bool) -> None:
    if with_traceback:
        logger.error("Error for example %d: %s\n%s", index, error, "".join(traceback.format_exception(error)))
    else:
        logger.error(
            "Error for example %d: %r. Set `provide_traceback=True` for the traceback.", index, error
        )


def _export(result: EvaluationResult, options: _Options) -> None:
    """The table, CSV and JSON the call asked for."""
    if not (options.table or options.csv_path or options.json_path):
        return
    name = metric_name(options.metric)
    rows = result_rows(result.results, name)
    if options.table:
        show_table(rows, options.table, name)
    if options.csv_path:
        save_csv(options.csv_path, rows)
    if options.json_path:
        save_json(options.json_path, rows)
