"""`DspyAdapter`: dspy-ash's implementation of gepa's `GEPAAdapter` protocol (DSPy's name and arguments).

gepa's loop is sync and runs on a worker thread (`GEPA.acompile` starts it through `call_sync`); each
adapter call it makes hops back to the event loop (`run_sync`), where a batch's examples run as
concurrent tasks (at most `num_threads` in flight) and batches of several candidates run side by side.
gepa takes its decisions between calls, in its own order, so the candidates are DSPy's.

What the adapter does, as DSPy's: `build_program` copies the student and sets each predictor's
instructions from the candidate; `evaluate` runs the program on a batch and scores it with the metric
(with traces for reflection: the predictor calls of each example, and a `FailedPrediction` where the
LM reply did not parse); `make_reflective_dataset` turns the traces of a minibatch into
(inputs, generated outputs, feedback) records per predictor, the feedback from the metric called with
`pred_name` and `pred_trace`; `propose_new_texts` asks the instruction proposer, with the reflection
LM configured, for new instructions.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from dspy_ash._sync import call_sync, run_sync
from dspy_ash.adapters._chat import ChatAdapter
from dspy_ash.adapters.types._history import History
from dspy_ash.errors import AdapterParseError, UnsupportedFeatureError
from dspy_ash.evaluate._calling import call_metric, run_program
from dspy_ash.optimizers._gather import gather_all
from dspy_ash.optimizers.checkpoint._records import score_to_json
from dspy_ash.optimizers.gepa._instruction_proposal import InstructionProposer, ReflectiveExample
from dspy_ash.optimizers.gepa._replay import (
    GEPAReplay,
    ReflectiveDataset,
    ReplayedTrace,
    candidate_digest,
    restore_rng,
)
from dspy_ash.primitives._concurrency import run_bounded
from dspy_ash.primitives._example import Example
from dspy_ash.primitives._prediction import Prediction
from dspy_ash.settings import settings

logger = logging.getLogger("dspy_ash.optimizers.gepa")

DSPyTrace = list[tuple[Any, dict[str, Any], Prediction]]


class LoggerAdapter:
    """gepa's logger protocol on top of a `logging.Logger` (gepa's messages at INFO)."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger

    def log(self, message: str) -> None:
        self.logger.info(message)


@dataclass
class FailedPrediction:
    """A predictor call whose LM reply did not parse: the raw reply, and the score it is worth."""

    completion_text: str
    format_reward: float | None = None


class ScoreWithFeedback(Prediction):
    """What a GEPA metric may return: `dspy.Prediction(score=..., feedback=...)`."""

    score: float
    feedback: str
    objective_scores: dict[str, float] | None


class PredictorFeedbackFn(Protocol):
    def __call__(
        self,
        predictor_output: dict[str, Any],
        predictor_inputs: dict[str, Any],
        module_inputs: Example,
        module_outputs: Prediction,
        captured_trace: DSPyTrace,
    ) -> ScoreWithFeedback:
        """Feedback (and a score) for one predictor's call within one example's run."""
        ...


def reject_code_proposer(code_proposer: Any) -> None:
    """DSPy's `code_proposer` rewrites `dspy.Flex` code components, which dspy-ash does not have."""
    if code_proposer is not None:
        raise UnsupportedFeatureError(
            "code_proposer is not supported: dspy.Flex is not part of dspy-ash, so GEPA optimizes instructions only."
        )


def format_history_for_reflection(history: History) -> str:
    """Render a `dspy.History` as the `Context` string a custom proposer is shown."""
    s = "```json\n"
    for i, message in enumerate(history.messages):
        s += f"  {i}: {message}\n"
    s += "```"
    return s


def _score_parts(score: Any) -> tuple[Any, dict[str, float]]:
    if isinstance(score, Prediction):
        return score.score, dict(score.get("objective_scores") or {})
    return score, {}


@dataclass
class _Run:
    """One example's result: its output and raw metric value (None: it failed) and, with traces, its TraceData."""

    output: Any
    raw: Any
    trajectory: Any = None  # a TraceData dict, a ReplayedTrace, or None (no trajectory: the run crashed)


def _format_failure_example(
    module: Any, new_inputs: dict[str, Any], outputs: FailedPrediction
) -> ReflectiveExample:
    """A reflective example for a reply that failed to parse: the raw reply and the expected structure."""
    new_outputs = (
        "Couldn't parse the output as per the expected output format. The model's raw response was:\n"
        f"```\n{outputs.completion_text}\n```\n\n"
    )
    structure = "".join(
        f"{m['role']}: {m['content']}\n" for m in ChatAdapter().format(module.signature, [], {})
    )
    return {
        "Inputs": new_inputs,
        "Generated Outputs": new_outputs,
        "Feedback": "Your output failed to parse. Follow this structure:\n" + structure,
    }


class DspyAdapter:
    """Evaluates candidates, builds reflective datasets and proposes instructions for gepa's engine."""

    def __init__(
        self,
        student_module: Any,
        metric_fn: Callable[..., Any],
        feedback_map: dict[str, Callable[..., Any]],
        failure_score: float = 0.0,
        num_threads: int | None = None,
        add_format_failure_as_feedback: bool = False,
        rng: random.Random | None = None,
        reflection_lm: Any = None,
        custom_instruction_proposer: Any = None,
        custom_code_proposer: Any = None,
        warn_on_score_mismatch: bool = True,
        reflection_minibatch_size: int | None = None,
        *,
        replay: GEPAReplay | None = None,
    ) -> None:
        reject_code_proposer(custom_code_proposer)
        self.student = student_module
        self.metric_fn = metric_fn
        self.feedback_map = feedback_map
        self.failure_score = failure_score
        self.num_threads = num_threads
        self.add_format_failure_as_feedback = add_format_failure_as_feedback
        self.rng = rng or random.Random(0)
        self.reflection_lm = reflection_lm
        if custom_instruction_proposer is None:
            custom_instruction_proposer = InstructionProposer()
        self.custom_instruction_proposer = custom_instruction_proposer
        self._builtin_instruction_proposer = isinstance(custom_instruction_proposer, InstructionProposer)
        self.warn_on_score_mismatch = warn_on_score_mismatch
        self.reflection_minibatch_size = reflection_minibatch_size
        self.replay = replay

    # -- programs ---------------------------------------------------------------------------------------
    def build_program(self, candidate: dict[str, str]) -> Any:
        new_prog = self.student.deepcopy()
        for name, pred in new_prog.named_predictors():
            if name in candidate:
                pred.signature = pred.signature.with_instructions(candidate[name])
        return new_prog

    # -- evaluation -------------------------------------------------------------------------------------
    def evaluate(
        self,
        batch: list[Any],
        candidate: dict[str, str],
        capture_traces: bool = False,
        num_threads: int | None = None,
    ) -> Any:
        return run_sync(
            self.aevaluate(batch, candidate, capture_traces=capture_traces, num_threads=num_threads)
        )

    def batch_evaluate(
        self, items: list[tuple[dict[str, str], list[Any]]], *, capture_traces: bool = True
    ) -> list[Any]:
        """Several (candidate, batch) pairs at once, sharing `num_threads` as DSPy splits its threads."""
        if type(self).evaluate is not DspyAdapter.evaluate or "evaluate" in vars(self):
            return run_sync(self._abatch_evaluate_overridden(items, capture_traces))
        return run_sync(self.abatch_evaluate(items, capture_traces=capture_traces))

    async def _abatch_evaluate_overridden(
        self, items: list[tuple[dict[str, str], list[Any]]], capture_traces: bool
    ) -> list[Any]:
        """A user's own (sync) `evaluate`: each pair on its worker thread, as DSPy's thread pool runs it."""
        shares = self._thread_shares(len(items))
        return await gather_all(
            *(
                call_sync(
                    self.evaluate, batch, candidate, capture_traces=capture_traces, num_threads=shares[i]
                )
                for i, (candidate, batch) in enumerate(items)
            )
        )

    def _thread_shares(self, n: int) -> list[int]:
        total = self.num_threads or settings.num_threads
        share, extra = divmod(total, min(n, total) or 1)
        return [share + (i < extra) for i in range(n)]

    async def abatch_evaluate(
        self, items: list[tuple[dict[str, str], list[Any]]], *, capture_traces: bool = True
    ) -> list[Any]:
        shares = self._thread_shares(len(items))
        records = [self._record(candidate, batch, capture_traces) for candidate, batch in items]
        runs = [
            self._evaluate(batch, candidate, capture_traces, shares[i], records[i])
            for i, (candidate, batch) in enumerate(items)
        ]
        return await gather_all(*runs)

    async def aevaluate(
        self,
        batch: list[Any],
        candidate: dict[str, str],
        capture_traces: bool = False,
        num_threads: int | None = None,
    ) -> Any:
        limit = num_threads or self.num_threads or settings.num_threads
        return await self._evaluate(
            batch, candidate, capture_traces, limit, self._record(candidate, batch, capture_traces)
        )

    def _record(
        self, candidate: dict[str, str], batch: list[Any], capture_traces: bool
    ) -> dict[str, Any] | None:
        # Taken in call order (before any task starts), so sequence numbers follow gepa's order.
        return (
            self.replay.evaluation(candidate, len(batch), capture_traces) if self.replay is not None else None
        )

    async def _evaluate(
        self,
        batch: list[Any],
        candidate: dict[str, str],
        capture_traces: bool,
        limit: int,
        record: dict[str, Any] | None,
    ) -> Any:
        program = self.build_program(candidate)
        done: dict[str, Any] = record["examples"] if record is not None else {}
        runs: list[_Run | None] = [
            _from_json(done[str(i)], i, batch[i], capture_traces) if str(i) in done else None
            for i in range(len(batch))
        ]

        async def one(index: int) -> None:
            run = await self._run_example(program, batch[index], index, capture_traces)
            runs[index] = run
            if record is not None and self.replay is not None:
                done[str(index)] = _to_json(run)
                await self.replay.session.save()

        todo = [i for i, r in enumerate(runs) if r is None]
        if todo:
            await run_bounded(todo, one, limit=max(1, limit))
        finished = [r for r in runs if r is not None]
        return self._make_evaluation_batch(
            outputs=[r.output for r in finished],
            raw_scores=[r.raw for r in finished],
            trajectories=[r.trajectory for r in finished if r.trajectory is not None]
            if capture_traces
            else None,
        )

    async def _run_example(self, program: Any, example: Any, index: int, capture_traces: bool) -> _Run:
        """One example, as DSPy's Evaluate (no traces) or bootstrap_trace_data (traces) runs it: any
        failure scores `failure_score` and, with traces, leaves the example without a trajectory."""
        try:
            with settings.context(trace=[]):
                try:
                    prediction = await run_program(program, example)
                    trace: DSPyTrace = list(settings.trace or [])
                except AdapterParseError as exc:
                    if not capture_traces:
                        raise
                    prediction, trace = self._failed_parse(program, example, exc)
                if isinstance(prediction, FailedPrediction):
                    raw = prediction.format_reward or self.failure_score
                elif capture_traces:
                    raw = await call_metric(self.metric_fn, example, prediction, trace)
                else:
                    raw = await call_metric(self.metric_fn, example, prediction)
        except Exception as exc:
            logger.error("Error for example %d: %r", index, exc)
            return _Run(None if capture_traces else Prediction(), None)
        trajectory = None
        if capture_traces:
            trajectory = {
                "example": example,
                "prediction": prediction,
                "trace": trace,
                "example_ind": index,
                "score": raw,
            }
        return _Run(prediction, raw, trajectory)

    def _failed_parse(
        self, program: Any, example: Any, exc: AdapterParseError
    ) -> tuple[FailedPrediction, DSPyTrace]:
        """DSPy's capture of a reply that did not parse: the trace so far plus the failing predictor's call."""
        if exc.parsed_result:
            # DSPy computes a partial-format reward here with `list / list`, which raises: the example
            # then counts as failed, without a trajectory. Kept, so the same examples reach reflection.
            raise TypeError("unsupported operand type(s) for /: 'list' and 'list'")
        found = next(
            (
                p
                for p in program.predictors()
                if p.signature is exc.signature or p.signature.equals(exc.signature)
            ),
            None,
        )
        if found is None:
            raise ValueError(f"Failed to find the predictor for the failed signature: {exc.signature}")
        failed = FailedPrediction(completion_text=exc.lm_response, format_reward=self.failure_score)
        trace: DSPyTrace = [*(settings.trace or []), (found, dict(example.inputs().items()), failed)]  # pyright: ignore[reportAssignmentType]
        return failed, trace

    def _make_evaluation_batch(self, outputs: list[Any], raw_scores: list[Any], trajectories: Any) -> Any:
        """gepa's `EvaluationBatch` from raw metric values (floats, or Predictions with objective scores)."""
        from gepa.core.adapter import EvaluationBatch

        parts = [_score_parts(score) for score in raw_scores]
        objective_scores = [objectives for _, objectives in parts]
        return EvaluationBatch(
            outputs=outputs,
            scores=[self.failure_score if score is None else score for score, _ in parts],
            trajectories=trajectories,
            objective_scores=objective_scores if any(objective_scores) else None,
        )

    # -- adapter state (gepa snapshots it with its own run_dir state) ------------------------------------
    def get_adapter_state(self) -> dict[str, Any]:
        return {"rng_state": self.rng.getstate()}

    def set_adapter_state(self, state: dict[str, Any]) -> None:
        if "rng_state" in state:
            self.rng.setstate(state["rng_state"])

    # -- reflection -------------------------------------------------------------------------------------
    def make_reflective_dataset(
        self, candidate: dict[str, str], eval_batch: Any, components_to_update: list[str]
    ) -> dict[str, list[Any]]:
        """Per component, the (inputs, generated outputs, feedback) records of the minibatch's traced runs."""
        if self.replay is None:
            return self._reflective_dataset(candidate, eval_batch.trajectories or [], components_to_update)
        seq, record = self.replay.next_reflection()
        if record is not None and (record["error"] is not None or self.replay.has_proposal(seq)):
            restore_rng(self.rng, record["rng"])  # as after building it: the proposal is known already
            if record["error"] is not None:
                raise Exception(record["error"])
            return ReflectiveDataset(seq, {name: [] for name in components_to_update})
        trajectories = self._with_traces(candidate, eval_batch.trajectories or [])
        try:
            data = self._reflective_dataset(candidate, trajectories, components_to_update)
        except Exception as exc:
            self.replay.record_reflection(seq, self.rng, str(exc))
            raise
        self.replay.record_reflection(seq, self.rng, None)
        return ReflectiveDataset(seq, data)

    def _with_traces(self, candidate: dict[str, str], trajectories: list[Any]) -> list[Any]:
        """Trajectories with the replayed ones run again, traced (their traces were not kept)."""
        replayed = [t for t in trajectories if isinstance(t, ReplayedTrace)]
        if not replayed:
            return trajectories
        logger.info(
            "Running %d examples of candidate %s again, traced, to build its reflective dataset.",
            len(replayed),
            candidate_digest(candidate),
        )
        program = self.build_program(candidate)

        async def rerun() -> list[_Run]:
            return await gather_all(
                *(self._run_example(program, t.example, t.example_ind, True) for t in replayed)
            )

        fresh = {t.example_ind: r.trajectory for t, r in zip(replayed, run_sync(rerun()), strict=True)}
        out: list[Any] = []
        for t in trajectories:
            t = fresh.get(t.example_ind) if isinstance(t, ReplayedTrace) else t
            if t is not None:  # a run that crashed this time has no trajectory, as in DSPy
                out.append(t)
        return out

    def _reflective_dataset(
        self, candidate: dict[str, str], trajectories: list[Any], components_to_update: list[str]
    ) -> dict[str, list[Any]]:
        program = self.build_program(candidate)
        ret_d: dict[str, list[Any]] = {}
        for pred_name in components_to_update:
            module = next((m for name, m in program.named_predictors() if name == pred_name), None)
            assert module is not None, f"Predictor not found: {pred_name}"
            items: list[ReflectiveExample] = []
            for data in trajectories:
                item = self._reflective_example(module, pred_name, data)
                if item is not None:
                    items.append(item)
            if not items:
                logger.warning("  No valid reflective examples found for %s", pred_name)
                continue
            ret_d[pred_name] = items
        if not ret_d:
            raise Exception("No valid predictions found for any module.")
        return ret_d

    def _reflective_example(
        self, module: Any, pred_name: str, data: dict[str, Any]
    ) -> ReflectiveExample | None:
        trace = data["trace"]
        example = data["example"]
        prediction = data["prediction"]
        module_score = data["score"]
        if hasattr(module_score, "score"):
            module_score = module_score["score"]
        selected = self._select_call(module, trace, prediction)
        if selected is None:
            return None
        inputs, outputs = selected[1], selected[2]
        new_inputs = self._reflection_inputs(inputs)
        if isinstance(outputs, FailedPrediction):
            return _format_failure_example(module, new_inputs, outputs)
        new_outputs = {k: v if self._builtin_instruction_proposer else str(v) for k, v in outputs.items()}
        fb = self.feedback_map[pred_name](
            predictor_output=outputs,
            predictor_inputs=inputs,
            module_inputs=example,
            module_outputs=prediction,
            captured_trace=trace,
        )
        if fb["score"] != module_score and self.warn_on_score_mismatch:
            logger.warning(
                "The score returned by the metric with pred_name is different from the overall metric score. "
                "GEPA uses the module level score and only the feedback text of the predictor level call. "
                "To disable this warning, set warn_on_score_mismatch=False."
            )
            self.warn_on_score_mismatch = False
        return {"Inputs": new_inputs, "Generated Outputs": new_outputs, "Feedback": fb["feedback"]}

    def _select_call(self, module: Any, trace: Any, prediction: Any) -> Any:
        """The module's call in the trace to reflect on: a failed parse first, else one at random; None
        when there is none (format failures count only with `add_format_failure_as_feedback`)."""
        instances = [t for t in trace if t[0].signature.equals(module.signature)]
        if not self.add_format_failure_as_feedback:
            instances = [t for t in instances if not isinstance(t[2], FailedPrediction)]
        if not instances:
            return None
        selected = next((t for t in instances if isinstance(t[2], FailedPrediction)), None)
        if selected is None:
            if isinstance(prediction, FailedPrediction):
                return None
            selected = self.rng.choice(instances)
        return selected

    def _reflection_inputs(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """The call's inputs as the proposer reads them: a history first, as "Context"; text for
        a custom proposer, the values themselves for the built-in one."""
        new_inputs: dict[str, Any] = {}
        history_key = next((k for k, v in inputs.items() if isinstance(v, History)), None)
        if history_key is not None:
            history = inputs[history_key]
            new_inputs["Context"] = (
                history if self._builtin_instruction_proposer else format_history_for_reflection(history)
            )
        for key, value in inputs.items():
            if key == history_key:
                continue
            new_inputs[key] = value if self._builtin_instruction_proposer else str(value)
        return new_inputs

    # -- proposals --------------------------------------------------------------------------------------
    def propose_new_texts(
        self, candidate: dict[str, str], reflective_dataset: Any, components_to_update: list[str]
    ) -> dict[str, str]:
        if self.replay is None or not isinstance(reflective_dataset, ReflectiveDataset):
            return self._propose(candidate, reflective_dataset, components_to_update)
        key, record = self.replay.next_proposal(reflective_dataset.seq)
        if record is not None:
            if record["error"] is not None:
                raise Exception(record["error"])
            return dict(record["texts"])
        try:
            texts = self._propose(candidate, reflective_dataset, components_to_update)
        except Exception as exc:
            self.replay.record_proposal(key, None, f"{type(exc).__name__}: {exc}")
            raise
        self.replay.record_proposal(key, dict(texts), None)
        return texts

    def _propose(
        self, candidate: dict[str, str], reflective_dataset: Any, components_to_update: list[str]
    ) -> dict[str, str]:
        reflection_lm = self.reflection_lm or settings.lm
        with settings.context(lm=reflection_lm):
            return self.custom_instruction_proposer(
                candidate=candidate,
                reflective_dataset=reflective_dataset,
                components_to_update=components_to_update,
            )

    def stripped_lm_call(self, x: Any) -> list[str]:
        """The reflection LM's replies to a plain prompt, as strings."""
        outputs: list[str] = []
        for raw in self.reflection_lm(x):
            if isinstance(raw, str):
                outputs.append(raw)
            elif isinstance(raw, dict):
                if "text" not in raw:
                    raise KeyError("Missing 'text' field in the output from the base LM!")
                outputs.append(str(raw["text"]))  # pyright: ignore[reportUnknownArgumentType]
            else:
                raise TypeError("Unexpected output type from the base LM! Expected str or dict")
        return outputs


def _to_json(run: _Run) -> dict[str, Any]:
    score, objectives = _score_parts(run.raw)
    output = run.output
    if isinstance(output, FailedPrediction):
        stored: Any = {"failed": output.completion_text, "reward": output.format_reward}
    elif output is None:
        stored = None
    else:
        stored = {"prediction": {k: _plain(v) for k, v in output.items()}}
    return {
        "score": None if score is None else score_to_json(score),
        "objectives": objectives,
        "output": stored,
        "traced": run.trajectory is not None,
    }


def _from_json(data: dict[str, Any], index: int, example: Any, capture_traces: bool) -> _Run:
    stored = data["output"]
    output: Any
    if stored is None:
        output = None if capture_traces else Prediction()
    elif "failed" in stored:
        output = FailedPrediction(stored["failed"], stored["reward"])
    else:
        output = Prediction(**stored["prediction"])
    trajectory = ReplayedTrace(index, example) if capture_traces and data["traced"] else None
    score, objectives = data["score"], data["objectives"]
    raw = Prediction(score=score, objective_scores=objectives) if objectives else score
    return _Run(output, raw, trajectory)


def _plain(value: Any) -> Any:
    """A JSON form of an output value (pydantic models as their dump; anything else as its text)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType]
    dump = getattr(value, "model_dump", None)
    return dump(mode="json") if callable(dump) else str(value)
