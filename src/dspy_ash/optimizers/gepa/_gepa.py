"""`GEPA`: reflective prompt evolution (DSPy 3.4.1's `dspy.GEPA`) on the `gepa` engine, evaluated natively.

The search loop is gepa's (`gepa.optimize`), run on a worker thread: it picks a candidate from the
Pareto front of per-example validation scores, runs it on a reflection minibatch with traces, has the
reflection LM propose a new instruction for one predictor, keeps the child if it does better on the
minibatch and scores it on the valset, merges candidates (`use_merge`), until `max_metric_calls`
metric calls are spent. Every evaluation runs on dspy-ash's event loop, a batch's examples concurrently;
gepa decides between evaluations in its own seeded order, so the same LM replies give DSPy's candidates.

Checkpoints (`checkpoint=`, `checkpoint_key=`, or `log_dir=`, which DSPy uses to resume: here it is the
directory of the checkpoint): every finished example of every evaluation, every reflective dataset's
random state and every proposal are saved as they finish; a restarted run replays gepa from the start
and spends LM calls only on the rest. One exception: a run killed after a reflection minibatch was
scored but before its proposal came back runs that minibatch's examples again on resume, traced (traces
hold live predictors and are not saved). gepa's own `run_dir` state (pickled) is not used.
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
import math
import random
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from dspy_ash._sync import call_sync
from dspy_ash.errors import ConfigurationError, InvalidInputTypeError
from dspy_ash.optimizers.checkpoint import Checkpoint
from dspy_ash.optimizers.checkpoint._fingerprint import program_fingerprint
from dspy_ash.optimizers.checkpoint._run import CheckpointedTeleprompter
from dspy_ash.optimizers.gepa._gepa_utils import (
    DspyAdapter,
    DSPyTrace,
    LoggerAdapter,
    ScoreWithFeedback,
    reject_code_proposer,
)
from dspy_ash.optimizers.gepa._replay import GEPAReplay
from dspy_ash.primitives._example import Example
from dspy_ash.primitives._prediction import Prediction

logger = logging.getLogger("dspy_ash.optimizers.gepa")

AUTO_RUN_SETTINGS = {"light": {"n": 6}, "medium": {"n": 12}, "heavy": {"n": 18}}


def require_gepa() -> None:
    """Fail before any LM call is paid for when the `gepa` package is missing."""
    if importlib.util.find_spec("gepa") is None:
        raise ImportError("GEPA requires the gepa package. Install it with `pip install 'dspy-ash[gepa]'`.")


class GEPAFeedbackMetric(Protocol):
    def __call__(
        self,
        gold: Example,
        pred: Prediction,
        trace: DSPyTrace | None,
        pred_name: str | None,
        pred_trace: DSPyTrace | None,
    ) -> float | ScoreWithFeedback:
        """A score, or `Prediction(score=..., feedback=...)`; called with `pred_name`/`pred_trace` for the
        feedback on one predictor (otherwise they are None)."""
        ...


@dataclass(frozen=True)
class DspyGEPAResult:
    """A GEPA run's details (`program.detailed_results` with `track_stats=True`): every candidate as a
    program, its lineage and validation scores, the Pareto front, and the budget spent."""

    candidates: list[Any]
    parents: list[list[int | None]]
    val_aggregate_scores: list[float]
    val_subscores: list[dict[Any, float]]
    per_val_instance_best_candidates: dict[Any, set[int]]
    discovery_eval_counts: list[int]
    best_outputs_valset: dict[Any, list[tuple[int, Any]]] | None = None
    total_metric_calls: int | None = None
    num_full_val_evals: int | None = None
    log_dir: str | None = None
    seed: int | None = None
    val_aggregate_subscores: list[dict[str, float]] | None = None
    per_objective_best_candidates: dict[str, set[int]] | None = None
    objective_pareto_front: dict[str, float] | None = None

    @property
    def best_idx(self) -> int:
        scores = self.val_aggregate_scores
        return max(range(len(scores)), key=lambda i: scores[i])

    @property
    def best_candidate(self) -> Any:
        return self.candidates[self.best_idx]

    @property
    def highest_score_achieved_per_val_task(self) -> dict[Any, float]:
        return {
            val_id: self.val_subscores[next(iter(self.per_val_instance_best_candidates[val_id]))][val_id]
            for val_id in self.per_val_instance_best_candidates
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "candidates": [
                {name: pred.signature.instructions for name, pred in cand.named_predictors()}
                for cand in self.candidates
            ],
            "parents": self.parents,
            "val_aggregate_scores": self.val_aggregate_scores,
            "best_outputs_valset": self.best_outputs_valset,
            "val_subscores": self.val_subscores,
            "per_val_instance_best_candidates": {
                k: list(s) for k, s in self.per_val_instance_best_candidates.items()
            },
            "val_aggregate_subscores": self.val_aggregate_subscores,
            "per_objective_best_candidates": (
                {k: list(s) for k, s in self.per_objective_best_candidates.items()}
                if self.per_objective_best_candidates is not None
                else None
            ),
            "objective_pareto_front": self.objective_pareto_front,
            "discovery_eval_counts": self.discovery_eval_counts,
            "total_metric_calls": self.total_metric_calls,
            "num_full_val_evals": self.num_full_val_evals,
            "log_dir": self.log_dir,
            "seed": self.seed,
            "best_idx": self.best_idx,
        }

    @staticmethod
    def from_gepa_result(gepa_result: Any, adapter: DspyAdapter) -> DspyGEPAResult:
        return DspyGEPAResult(
            candidates=[adapter.build_program(c) for c in gepa_result.candidates],
            parents=gepa_result.parents,
            val_aggregate_scores=gepa_result.val_aggregate_scores,
            best_outputs_valset=gepa_result.best_outputs_valset,
            val_subscores=gepa_result.val_subscores,
            per_val_instance_best_candidates=gepa_result.per_val_instance_best_candidates,
            discovery_eval_counts=gepa_result.discovery_eval_counts,
            val_aggregate_subscores=gepa_result.val_aggregate_subscores,
            per_objective_best_candidates=gepa_result.per_objective_best_candidates,
            objective_pareto_front=gepa_result.objective_pareto_front,
            total_metric_calls=gepa_result.total_metric_calls,
            num_full_val_evals=gepa_result.num_full_val_evals,
            log_dir=gepa_result.run_dir,
            seed=gepa_result.seed,
        )


def _check_metric(metric: GEPAFeedbackMetric) -> None:
    try:
        inspect.signature(metric).bind(None, None, None, None, None)
    except TypeError as e:
        raise InvalidInputTypeError(
            "GEPA metric must accept five arguments: (gold, pred, trace, pred_name, pred_trace). "
            "See https://dspy.ai/api/optimizers/GEPA for details."
        ) from e


def _check_reflection(reflection_lm: Any, instruction_proposer: Any) -> None:
    if reflection_lm is None and instruction_proposer is None:
        raise ConfigurationError(
            "GEPA requires a reflection language model, or custom instruction proposer to be provided. "
            "Typically, you can use `dspy.LM(model='gpt-5', temperature=1.0, max_tokens=32000)`."
        )


def _checked_gepa_kwargs(gepa_kwargs: dict[str, Any] | None) -> dict[str, Any]:
    """A copy of the extra `gepa.optimize` arguments, refusing those dspy-ash does not honour."""
    checked = dict(gepa_kwargs or {})
    if checked.get("max_reflection_cost") is not None:
        raise ConfigurationError("max_reflection_cost is not supported by dspy.GEPA yet.")
    if "reflection_prompt_template" in checked:
        raise ConfigurationError(
            "reflection_prompt_template cannot be passed via gepa_kwargs when using dspy.GEPA. "
            "DspyAdapter implements its own propose_new_texts, so reflection_prompt_template is unused. "
            "To customize the reflection prompt, pass "
            "instruction_proposer=InstructionProposer(base_instructions=...) instead."
        )
    if "run_dir" in checked:
        raise ConfigurationError(
            "gepa's run_dir is not used by dspy-ash: pass log_dir= or checkpoint= to resume."
        )
    return checked


class GEPA(CheckpointedTeleprompter):
    """Evolves each predictor's instructions by reflecting, with `reflection_lm`, on traced runs and the
    metric's textual feedback; keeps a Pareto front of candidates over the valset (see the module docstring).

    Exactly one budget: `auto` ("light", "medium", "heavy"), `max_full_evals` or `max_metric_calls`.
    The metric takes `(gold, pred, trace, pred_name, pred_trace)` and may return
    `dspy.Prediction(score=..., feedback=...)`."""

    kind = "GEPA"

    def __init__(
        self,
        metric: GEPAFeedbackMetric,
        *,
        auto: Literal["light", "medium", "heavy"] | None = None,
        max_full_evals: int | None = None,
        max_metric_calls: int | None = None,
        reflection_minibatch_size: int = 3,
        candidate_selection_strategy: Literal["pareto", "current_best"] = "pareto",
        reflection_lm: Any = None,
        skip_perfect_score: bool = True,
        add_format_failure_as_feedback: bool = False,
        instruction_proposer: Any = None,
        code_proposer: Any = None,
        component_selector: Any = "round_robin",
        use_merge: bool = True,
        max_merge_invocations: int | None = 5,
        num_threads: int | None = None,
        failure_score: float = 0.0,
        perfect_score: float = 1.0,
        log_dir: str | None = None,
        track_stats: bool = False,
        use_wandb: bool = False,
        wandb_api_key: str | None = None,
        wandb_init_kwargs: dict[str, Any] | None = None,
        track_best_outputs: bool = False,
        warn_on_score_mismatch: bool = True,
        use_mlflow: bool = False,
        seed: int | None = 0,
        gepa_kwargs: dict[str, Any] | None = None,
        checkpoint: Checkpoint = None,
        checkpoint_key: str | None = None,
    ) -> None:
        super().__init__(checkpoint if checkpoint is not None else log_dir, checkpoint_key)
        reject_code_proposer(code_proposer)
        _check_metric(metric)
        self.metric_fn = metric
        self._set_budget(auto, max_full_evals, max_metric_calls)
        _check_reflection(reflection_lm, instruction_proposer)
        self.reflection_minibatch_size = reflection_minibatch_size
        self.candidate_selection_strategy = candidate_selection_strategy
        self.reflection_lm = reflection_lm
        self.skip_perfect_score = skip_perfect_score
        self.add_format_failure_as_feedback = add_format_failure_as_feedback
        self.use_merge = use_merge
        self.max_merge_invocations = max_merge_invocations
        self.num_threads = num_threads
        self.failure_score = failure_score
        self.perfect_score = perfect_score
        self._set_tracking(
            log_dir, track_stats, use_wandb, wandb_api_key, wandb_init_kwargs, use_mlflow, track_best_outputs
        )
        self.warn_on_score_mismatch = warn_on_score_mismatch
        self.seed = seed
        self.custom_instruction_proposer = instruction_proposer
        self.component_selector = component_selector
        self.gepa_kwargs = _checked_gepa_kwargs(gepa_kwargs)

    def _set_budget(
        self,
        auto: Literal["light", "medium", "heavy"] | None,
        max_full_evals: int | None,
        max_metric_calls: int | None,
    ) -> None:
        """Exactly one budget: `auto`, `max_full_evals` or `max_metric_calls`."""
        if (max_metric_calls is not None) + (max_full_evals is not None) + (auto is not None) != 1:
            raise ConfigurationError(
                "Exactly one of max_metric_calls, max_full_evals, auto must be set. "
                f"You set max_metric_calls={max_metric_calls}, max_full_evals={max_full_evals}, auto={auto}."
            )
        if auto is not None and auto not in AUTO_RUN_SETTINGS:
            raise ConfigurationError(
                f"Invalid value for auto: {auto!r}. Must be one of {sorted(AUTO_RUN_SETTINGS)}."
            )
        self.auto = auto
        self.max_full_evals = max_full_evals
        self.max_metric_calls = max_metric_calls

    def _set_tracking(
        self,
        log_dir: str | None,
        track_stats: bool,
        use_wandb: bool,
        wandb_api_key: str | None,
        wandb_init_kwargs: dict[str, Any] | None,
        use_mlflow: bool,
        track_best_outputs: bool,
    ) -> None:
        """Where the run is logged and which statistics it keeps."""
        if track_best_outputs and not track_stats:
            raise ConfigurationError("track_stats must be True if track_best_outputs is True.")
        self.log_dir = log_dir
        self.track_stats = track_stats
        self.use_wandb = use_wandb
        self.wandb_api_key = wandb_api_key
        self.wandb_init_kwargs = wandb_init_kwargs
        self.use_mlflow = use_mlflow
        self.track_best_outputs = track_best_outputs

    def auto_budget(
        self,
        num_preds: int,
        num_candidates: int,
        valset_size: int,
        minibatch_size: int = 35,
        full_eval_steps: int = 5,
    ) -> int:
        """DSPy's metric-call budget for `auto`: the valset, bootstrap trials, minibatches and periodic full evals."""
        num_trials = int(max(2 * (num_preds * 2) * math.log2(num_candidates), 1.5 * num_candidates))
        if num_trials < 0 or valset_size < 0 or minibatch_size < 0:
            raise ConfigurationError("num_trials, valset_size, and minibatch_size must be >= 0.")
        if full_eval_steps < 1:
            raise ConfigurationError("full_eval_steps must be >= 1.")
        total = valset_size + num_candidates * 5 + num_trials * minibatch_size
        if num_trials == 0:
            return total
        periodic_fulls = (num_trials + 1) // full_eval_steps + 1
        extra_final = 1 if num_trials < full_eval_steps else 0
        return total + (periodic_fulls + extra_final) * valset_size

    def _budget(self, num_components: int, trainset: list[Any], valset: list[Any] | None) -> int:
        if self.auto is not None:
            return self.auto_budget(
                num_preds=max(num_components, 1),
                num_candidates=AUTO_RUN_SETTINGS[self.auto]["n"],
                valset_size=len(valset) if valset is not None else len(trainset),
            )
        if self.max_full_evals is not None:
            return self.max_full_evals * (len(trainset) + (len(valset) if valset is not None else 0))
        assert self.max_metric_calls is not None
        return self.max_metric_calls

    async def acompile(
        self,
        student: Any,
        *,
        trainset: list[Any],
        teacher: Any = None,
        valset: list[Any] | None = None,
        checkpoint: Checkpoint = None,
        checkpoint_key: str | None = None,
        **_: Any,
    ) -> Any:
        """GEPA reflects on the trainset and tracks Pareto scores on the valset (the trainset when None)."""
        require_gepa()
        if not trainset:
            raise ConfigurationError("Trainset must be provided and non-empty")
        if teacher is not None:
            raise ConfigurationError("Teacher is not supported in DspyGEPA yet.")
        predictors = list(student.named_predictors())
        self.max_metric_calls = self._budget(len(predictors), trainset, valset)
        logger.info("Running GEPA for approx %d metric calls of the program.", self.max_metric_calls)
        if valset is None:
            logger.warning("No valset provided; Using trainset as valset.")
        valset = valset or trainset
        async with self.checkpoint_session(
            checkpoint,
            checkpoint_key,
            self._fingerprint_parameters(),
            trainset,
            valset,
            program_fingerprint(student),
        ) as session:
            adapter = DspyAdapter(
                student_module=student,
                metric_fn=self.metric_fn,
                feedback_map={name: self._feedback_fn(name, pred) for name, pred in predictors},
                failure_score=self.failure_score,
                num_threads=self.num_threads,
                add_format_failure_as_feedback=self.add_format_failure_as_feedback,
                rng=random.Random(self.seed),
                reflection_lm=self.reflection_lm,
                custom_instruction_proposer=self.custom_instruction_proposer,
                warn_on_score_mismatch=self.warn_on_score_mismatch,
                reflection_minibatch_size=self.reflection_minibatch_size,
                replay=GEPAReplay(session),
            )
            seed_candidate = {name: pred.signature.instructions for name, pred in predictors}
            result = await call_sync(self._optimize, adapter, seed_candidate, trainset, valset)
        new_prog = adapter.build_program(result.best_candidate)
        if self.track_stats:
            new_prog.detailed_results = DspyGEPAResult.from_gepa_result(result, adapter)
        return new_prog

    def _fingerprint_parameters(self) -> list[Any]:
        skip = {
            "checkpoint",
            "checkpoint_key",
            "log_dir",
            "use_wandb",
            "wandb_api_key",
            "wandb_init_kwargs",
            "use_mlflow",
        }
        return [[k, v] for k, v in sorted(vars(self).items()) if k not in skip]

    def _optimize(
        self, adapter: DspyAdapter, seed_candidate: dict[str, str], trainset: list[Any], valset: list[Any]
    ) -> Any:
        """gepa's loop (sync, on a worker thread); every adapter call it makes goes back to the event loop."""
        from gepa.api import optimize

        kwargs = dict(self.gepa_kwargs)
        kwargs["callbacks"] = [*kwargs.get("callbacks", []), _Progress(self)]
        return optimize(
            seed_candidate=seed_candidate,
            trainset=trainset,
            valset=valset,
            adapter=adapter,  # pyright: ignore[reportArgumentType] - DspyAdapter implements the protocol
            reflection_lm=(lambda prompt: adapter.stripped_lm_call(prompt)[0])
            if self.reflection_lm is not None
            else None,
            candidate_selection_strategy=self.candidate_selection_strategy,  # pyright: ignore[reportArgumentType] - DSPy's names
            skip_perfect_score=self.skip_perfect_score,
            reflection_minibatch_size=self.reflection_minibatch_size,
            module_selector=self.component_selector,
            perfect_score=self.perfect_score,
            use_merge=self.use_merge,
            max_merge_invocations=self.max_merge_invocations if self.max_merge_invocations is not None else 5,
            max_metric_calls=self.max_metric_calls,
            logger=LoggerAdapter(logger),
            run_dir=None,
            use_wandb=self.use_wandb,
            wandb_api_key=self.wandb_api_key,
            wandb_init_kwargs=self.wandb_init_kwargs,
            use_mlflow=self.use_mlflow,
            track_best_outputs=self.track_best_outputs,
            display_progress_bar=False,
            raise_on_exception=True,
            seed=self.seed,  # pyright: ignore[reportArgumentType] - gepa takes None too (an unseeded run)
            **kwargs,
        )

    def _feedback_fn(self, pred_name: str, predictor: Any) -> Any:
        def feedback_fn(
            predictor_output: dict[str, Any],
            predictor_inputs: dict[str, Any],
            module_inputs: Example,
            module_outputs: Prediction,
            captured_trace: DSPyTrace,
        ) -> Any:
            trace_for_pred: Any = [(predictor, predictor_inputs, predictor_output)]
            o: Any = self.metric_fn(module_inputs, module_outputs, captured_trace, pred_name, trace_for_pred)
            if hasattr(o, "feedback"):
                if o["feedback"] is None:
                    o["feedback"] = f"This trajectory got a score of {o['score']}."
                return o
            return {"score": o, "feedback": f"This trajectory got a score of {o}."}

        return feedback_fn


class _Progress:
    """gepa callback: a `progress` event per validation-set evaluation (candidate, score, best so far)."""

    def __init__(self, owner: GEPA) -> None:
        self.owner = owner
        self.best: float | None = None

    def on_valset_evaluated(self, event: dict[str, Any]) -> None:
        score, index = event["average_score"], event["candidate_idx"]
        self.best = score if self.best is None else max(self.best, score)
        self.owner.progress("candidate", candidate=index, score=score, best_score=self.best)
