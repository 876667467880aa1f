"""`COPRO`: coordinate ascent over each predictor's instruction and output prefix, proposed by an LM.

DSPy's algorithm: `breadth - 1` proposals per predictor from the basic instruction (plus the original),
then for each depth, for each predictor, score every candidate with the whole program on the
trainset and keep the best for that predictor before moving to the next; between depths the prompt
model proposes `breadth` more from the scored attempts. Candidates of one predictor at one depth do
not depend on each other's scores, so they are scored concurrently (each on its own copy); the
bookkeeping then runs in candidate order, which gives DSPy's result.

Checkpoints (`checkpoint=`, `checkpoint_key=`): proposals and every scored example are saved; a
restarted run replays the search from them.
"""

from __future__ import annotations

import logging
import statistics
from typing import Any

from dspy_ash.errors import ConfigurationError
from dspy_ash.modules._predict import Predict
from dspy_ash.optimizers._gather import gather_all
from dspy_ash.optimizers._scoring import score_program
from dspy_ash.optimizers.checkpoint import Checkpoint
from dspy_ash.optimizers.checkpoint._fingerprint import program_fingerprint
from dspy_ash.optimizers.checkpoint._run import CheckpointedTeleprompter
from dspy_ash.optimizers.checkpoint._session import CheckpointSession
from dspy_ash.settings import settings
from dspy_ash.signatures import InputField, OutputField, Signature
from dspy_ash.signatures._field import extra_of

logger = logging.getLogger("dspy_ash.optimizers.copro")


class BasicGenerateInstruction(Signature):
    """You are an instruction optimizer for large language models. I will give you a ``signature`` of fields (inputs and outputs) in English. Your task is to propose an instruction that will lead a good language model to perform the task well. Don't be afraid to be creative."""

    basic_instruction = InputField(desc="The initial instructions before optimization")
    proposed_instruction = OutputField(desc="The improved instructions for the language model")
    proposed_prefix_for_output_field = OutputField(
        desc="The string at the end of the prompt, which will help the model start solving the task"
    )


class GenerateInstructionGivenAttempts(Signature):
    """You are an instruction optimizer for large language models. I will give some task instructions I've tried, along with their corresponding validation scores. The instructions are arranged in increasing order based on their scores, where higher scores indicate better quality.

    Your task is to propose a new instruction that will lead a good language model to perform the task even better. Don't be afraid to be creative."""

    attempted_instructions = InputField()
    proposed_instruction = OutputField(desc="The improved instructions for the language model")
    proposed_prefix_for_output_field = OutputField(
        desc="The string at the end of the prompt, which will help the model start solving the task"
    )


def _last_key(predictor: Any) -> str:
    *_, last = predictor.signature.fields.keys()
    return last


def _apply(predictor: Any, instruction: str, prefix: str) -> None:
    predictor.signature = predictor.signature.with_instructions(instruction).with_updated_fields(
        _last_key(predictor), prefix=prefix
    )


def _stats(scores: list[float]) -> dict[str, float]:
    return {
        "max": max(scores),
        "average": sum(scores) / len(scores),
        "min": min(scores),
        "std": statistics.pstdev(scores),
    }


class COPRO(CheckpointedTeleprompter):
    """Optimizes each predictor's instruction and output prefix by coordinate ascent: `prompt_model`
    proposes `breadth` candidates per round for `depth` rounds, scored on the trainset with `metric`."""

    kind = "COPRO"

    def __init__(
        self,
        prompt_model: Any = None,
        metric: Any = None,
        breadth: int = 10,
        depth: int = 3,
        init_temperature: float = 1.4,
        track_stats: bool = False,
        *,
        checkpoint: Checkpoint = None,
        checkpoint_key: str | None = None,
        **_kwargs: Any,
    ) -> None:
        super().__init__(checkpoint, checkpoint_key)
        if breadth <= 1:
            raise ConfigurationError("Breadth must be greater than 1")
        self.metric = metric
        self.breadth = breadth
        self.depth = depth
        self.init_temperature = init_temperature
        self.prompt_model = prompt_model
        self.track_stats = track_stats

    async def propose(
        self, signature: Any, n: int, session: CheckpointSession, key: str, **inputs: Any
    ) -> list[list[str]]:
        record = session.section("proposals")
        if key not in record:
            with settings.context(**({"lm": self.prompt_model} if self.prompt_model else {})):
                out = await Predict(signature, n=n, temperature=self.init_temperature).acall(**inputs)
            completions = out.completions
            record[key] = [
                [str(c.proposed_instruction), str(c.proposed_prefix_for_output_field)]
                for c in (completions[i] for i in range(len(completions)))
            ]
            await session.save()
        return [list(pair) for pair in record[key]]

    async def acompile(
        self,
        student: Any,
        *,
        trainset: list[Any],
        eval_kwargs: dict[str, Any] | None = None,  # pyright: ignore
        checkpoint: Checkpoint = None,
        checkpoint_key: str | None = None,
        **_: Any,
    ) -> Any:
        eval_kwargs = eval_kwargs or {}
        async with self.checkpoint_session(
            checkpoint,
            checkpoint_key,
            [self.metric, self.breadth, self.depth, self.init_temperature, self.prompt_model],
            trainset,
            program_fingerprint(student),
        ) as session:
            search = _Search(
                self,
                student.deepcopy(),
                trainset,
                session,
                num_threads=eval_kwargs.get("num_threads") or settings.num_threads,
                max_errors=eval_kwargs.get("max_errors") or settings.max_errors,
            )
            await search.propose_initial()
            d = 0
            for d in range(self.depth):
                logger.info("Iteration Depth: %d/%d.", d + 1, self.depth)
                latest_scores: list[float] = []  # this depth's, over all predictors so far
                for p_i in range(search.n_predictors):
                    await search.score_candidates(d, p_i, latest_scores)
                if d == self.depth - 1:
                    break
                for p_i in range(search.n_predictors):
                    await search.propose_from_attempts(d, p_i)
            return search.best_program(d)


class _Search:
    """One COPRO run's state: the candidates of each predictor, and the best scored per pair."""

    def __init__(
        self,
        owner: COPRO,
        module: Any,
        trainset: list[Any],
        session: CheckpointSession,
        *,
        num_threads: int,
        max_errors: int,
    ) -> None:
        self.owner = owner
        self.module = module
        self.trainset = trainset
        self.session = session
        self.num_threads = num_threads
        self.max_errors = max_errors
        self.n_predictors = len(module.predictors())
        self.results_best: dict[int, dict[str, list[Any]]] = {
            i: {"depth": [], "max": [], "average": [], "min": [], "std": []} for i in range(self.n_predictors)
        }
        self.results_latest = {i: {k: list(v) for k, v in r.items()} for i, r in self.results_best.items()}
        self.all_candidates: dict[int, list[list[str]]] = {}
        self.latest_candidates: dict[int, list[list[str]]] = {}
        self.evaluated: dict[int, dict[tuple[str, str], dict[str, Any]]] = {
            i: {} for i in range(self.n_predictors)
        }
        self.module_clone = module.deepcopy()  # the best instruction of each predictor so far
        self.total_calls = 0

    async def propose_initial(self) -> None:
        """`breadth - 1` proposals per predictor from its basic instruction, plus the original."""
        for i, predictor in enumerate(self.module.predictors()):
            basic_instruction = predictor.signature.instructions
            basic_prefix = extra_of(predictor.signature.fields[_last_key(predictor)])["prefix"]
            proposals = await self.owner.propose(
                BasicGenerateInstruction,
                self.owner.breadth - 1,
                self.session,
                f"{i}:init",
                basic_instruction=basic_instruction,
            )
            self.all_candidates[i] = [*proposals, [basic_instruction, basic_prefix]]
        self.latest_candidates = {i: list(c) for i, c in self.all_candidates.items()}

    async def score_candidates(self, d: int, p_i: int, latest_scores: list[float]) -> None:
        """Score predictor `p_i`'s candidates concurrently, book them in candidate order, keep the best."""
        owner = self.owner
        candidates = self.all_candidates[p_i] if self.n_predictors > 1 else self.latest_candidates[p_i]
        pairs = [(c[0].strip('"').strip(), c[1].strip('"').strip()) for c in candidates]

        async def score_one(c_i: int, pair: tuple[str, str]) -> tuple[float, Any]:
            clone = self.module_clone.deepcopy()
            _apply(clone.predictors()[p_i], *pair)
            score, _ = await score_program(
                clone,
                self.trainset,
                owner.metric,
                num_threads=self.num_threads,
                max_errors=self.max_errors,
                session=self.session,
                record=self.session.section("eval", f"{d}:{p_i}:{c_i}"),
            )
            return score, clone

        scored = await gather_all(*(score_one(c_i, pair) for c_i, pair in enumerate(pairs)))
        for c_i, ((instruction, prefix), (score, clone)) in enumerate(zip(pairs, scored, strict=True)):
            self.total_calls += 1
            previous = self.evaluated[p_i].get((instruction, prefix))
            if previous is None or previous["score"] < score:
                self.evaluated[p_i][(instruction, prefix)] = {
                    "score": score,
                    "program": clone.deepcopy(),
                    "instruction": instruction,
                    "prefix": prefix,
                    "depth": d,
                }
            if len(candidates) - owner.breadth <= c_i:
                latest_scores.append(score)
            owner.progress("trial_finished", depth=d, predictor=p_i, candidate=c_i, score=score)
        if owner.track_stats:
            self._track(self.results_latest[p_i], d, latest_scores)
        best = max(self.evaluated[p_i].values(), key=lambda c: c["score"])
        _apply(self.module_clone.predictors()[p_i], best["instruction"], best["prefix"])

    async def propose_from_attempts(self, d: int, p_i: int) -> None:
        """`breadth` new candidates for predictor `p_i` from its best attempts, worst first."""
        ranked = self._ranked(p_i)
        shortest = min(len(self.evaluated[p_i]), self.owner.breadth)
        if self.owner.track_stats:
            self._track(self.results_best[p_i], d, [x["score"] for x in ranked][:10])
        attempts: list[str] = []
        for i in range(shortest - 1, -1, -1):
            attempts.append(f"Instruction #{shortest - i}: {ranked[i]['instruction']}")
            attempts.append(f"Prefix #{shortest - i}: {ranked[i]['prefix']}")
            attempts.append(f"Resulting Score #{shortest - i}: {ranked[i]['score']}")
        new = await self.owner.propose(
            GenerateInstructionGivenAttempts,
            self.owner.breadth,
            self.session,
            f"{p_i}:{d}",
            attempted_instructions=attempts,
        )
        self.latest_candidates[p_i] = new
        self.all_candidates[p_i].extend(new)

    def best_program(self, d: int) -> Any:
        """The best-scoring candidate's program, with every distinct candidate ranked on it."""
        final: list[dict[str, Any]] = []
        for p_i in range(self.n_predictors):
            final.extend(self.evaluated[p_i].values())
            if self.owner.track_stats:
                self._track(self.results_best[p_i], d, [x["score"] for x in self._ranked(p_i)][:10])
        final.sort(key=lambda x: x["score"], reverse=True)
        final = _drop_duplicates(final)
        best_program = final[0]["program"]
        best_program.candidate_programs = final
        best_program.total_calls = self.total_calls
        if self.owner.track_stats:
            best_program.results_best = self.results_best
            best_program.results_latest = self.results_latest
        return best_program

    def _ranked(self, p_i: int) -> list[dict[str, Any]]:
        return sorted(self.evaluated[p_i].values(), key=lambda x: x["score"], reverse=True)

    @staticmethod
    def _track(results: dict[str, list[Any]], d: int, scores: list[float]) -> None:
        results["depth"].append(d)
        for key, value in _stats(scores).items():
            results[key].append(value)


def _same(c1: dict[str, Any], c2: dict[str, Any]) -> bool:
    for p1, p2 in zip(c1["program"].predictors(), c2["program"].predictors(), strict=False):
        if p1.signature.instructions != p2.signature.instructions:
            return False
        if list(p1.signature.fields.values())[-1] != list(p2.signature.fields.values())[-1]:
            return False
    return True


def _drop_duplicates(candidates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    final: list[dict[str, Any]] = []
    last_batch: list[dict[str, Any]] = []
    last_score: float = -1
    for c in candidates:
        repeat = False
        if c["score"] == last_score:
            repeat = any(_same(c, c2) for c2 in last_batch)
            if not repeat:
                last_batch.append(c)
        else:
            last_batch, last_score = [c], c["score"]
        if not repeat:
            final.append(c)
    return final
