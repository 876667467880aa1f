"""`InferRules`: BootstrapFewShot, then natural-language rules induced from the trainset appended to each
predictor's instructions; the best of `num_candidates` rule sets on the valset wins (DSPy's algorithm).

Without a valset, the first half of the trainset bootstraps and induces, the second half scores. For
each candidate, each predictor's rules come from `RulesInductionProgram` (a ChainOfThought over the
examples' fields, at temperature 1.0 with a seeded rollout id); when the examples do not fit the
model's context, the last one is dropped and it asks again. Candidates are induced and scored one
after the other, as in DSPy, because they share state: setting `signature.instructions` writes the
signature class, which every copy of a predictor shares, so the program returned carries the
instructions set last (DSPy's behaviour, kept for its results). Scoring runs `num_threads` examples at once.

Checkpoints (`checkpoint=`, `checkpoint_key=`): the bootstrap, every induced rule set and every scored
example are saved; a restarted run replays the seeded rollout ids and asks only for what is missing.
"""

from __future__ import annotations

import logging
import math
import random
from typing import Any

from dspy_ash.errors import LMBadRequestError
from dspy_ash.modules._chain_of_thought import ChainOfThought
from dspy_ash.optimizers._bootstrap import BootstrapFewShot
from dspy_ash.optimizers._scoring import score_program
from dspy_ash.optimizers.checkpoint import Checkpoint
from dspy_ash.optimizers.checkpoint._run import programs_fingerprint
from dspy_ash.optimizers.checkpoint._session import CheckpointSession
from dspy_ash.primitives._module import Module
from dspy_ash.settings import settings
from dspy_ash.signatures import InputField, OutputField, Signature

logger = logging.getLogger("dspy_ash.optimizers.infer_rules")


class InferRules(BootstrapFewShot):
    """Bootstraps demos, then appends rules induced from the trainset to each predictor's instructions,
    keeping the best of `num_candidates` rule sets (each of `num_rules` rules) on the valset."""

    kind = "InferRules"

    def __init__(
        self,
        num_candidates: int = 10,
        num_rules: int = 10,
        num_threads: int | None = None,
        teacher_settings: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(teacher_settings=teacher_settings, num_threads=num_threads, **kwargs)
        self.num_candidates = num_candidates
        self.num_rules = num_rules
        self.rules_induction_program = RulesInductionProgram(num_rules, teacher_settings=teacher_settings)

    async def acompile(
        self,
        student: Any,
        *,
        teacher: Any = None,
        trainset: list[Any],
        valset: list[Any] | None = None,
        checkpoint: Checkpoint = None,
        checkpoint_key: str | None = None,
        **_: Any,
    ) -> Any:
        if valset is None:
            train_size = int(0.5 * len(trainset))
            trainset, valset = trainset[:train_size], trainset[train_size:]
        async with self.checkpoint_session(
            checkpoint,
            checkpoint_key,
            [*self.params_fingerprint(), self.num_candidates, self.num_rules],
            trainset,
            valset,
            *programs_fingerprint(student, teacher),
        ) as session:
            compiled = await self.bootstrap(student, teacher, trainset, session, session.section("examples"))
            return await self._search(compiled, trainset, valset, session)

    async def _search(
        self, compiled: Any, trainset: list[Any], valset: list[Any], session: CheckpointSession
    ) -> Any:
        original_program = compiled.deepcopy()
        all_predictors = [p for p in original_program.predictors() if hasattr(p, "signature")]
        instructions_list = [p.signature.instructions for p in all_predictors]
        best_score = -math.inf
        best_program = None
        for candidate_idx in range(self.num_candidates):
            candidate_program = original_program.deepcopy()
            candidate_predictors = [p for p in candidate_program.predictors() if hasattr(p, "signature")]
            for i, predictor in enumerate(candidate_predictors):
                predictor.signature.instructions = instructions_list[i]
            for i, predictor in enumerate(candidate_predictors):
                rules = await self._rules(predictor, trainset, session, f"{candidate_idx}:{i}")
                predictor.signature.instructions = instructions_list[i]
                self.update_program_instructions(predictor, rules)
            score = await self.evaluate_program(candidate_program, valset, session, str(candidate_idx))
            if score > best_score:
                best_score = score
                best_program = candidate_program
            self.progress("trial_finished", candidate=candidate_idx, score=score, best_score=best_score)
            logger.info(
                "Evaluated Candidate %d with score %s. Current best score: %s",
                candidate_idx + 1,
                score,
                best_score,
            )
        logger.info("Final best score: %s", best_score)
        return best_program

    async def _rules(self, predictor: Any, trainset: list[Any], session: CheckpointSession, key: str) -> str:
        """The predictor's rules, from the checkpoint (replaying the rollout-id draws they took) or asked for."""
        record = session.section("rules")
        if key in record:
            for _ in range(record[key]["draws"]):
                self.rules_induction_program.draw_rollout_id()
            return record[key]["rules"]
        before = self.rules_induction_program.draws
        rules = await self.induce_natural_language_rules(predictor, trainset)
        record[key] = {"rules": rules, "draws": self.rules_induction_program.draws - before}
        await session.save()
        return rules

    async def induce_natural_language_rules(self, predictor: Any, trainset: list[Any]) -> str:
        demos = self.get_predictor_demos(trainset, predictor)
        signature = predictor.signature
        while True:
            examples_text = self.format_examples(demos, signature)
            try:
                return await self.rules_induction_program.acall(examples_text)
            except Exception as exc:
                # DSPy retries only what a prompt that is too long raises; anything else is a real error.
                too_long = isinstance(
                    exc, ValueError | LMBadRequestError
                ) or "ContextWindowExceededError" in str(exc)
                if not too_long:
                    raise
                if len(demos) > 1:
                    demos = demos[:-1]
                else:
                    raise RuntimeError(
                        "Failed to generate natural language rules since a single example couldn't fit in the "
                        "model's context window."
                    ) from exc

    def update_program_instructions(self, predictor: Any, natural_language_rules: str) -> None:
        predictor.signature.instructions = (
            f"{predictor.signature.instructions}\n\n"
            f"Please adhere to the following rules when making your prediction:\n{natural_language_rules}"
        )

    def format_examples(self, demos: list[dict[str, Any]], signature: Any) -> str:
        examples_text = ""
        for demo in demos:
            input_fields = {k: v for k, v in demo.items() if k in signature.input_fields}
            output_fields = {k: v for k, v in demo.items() if k in signature.output_fields}
            input_text = "\n".join(f"{k}: {v}" for k, v in input_fields.items())
            output_text = "\n".join(f"{k}: {v}" for k, v in output_fields.items())
            examples_text += f"Input Fields:\n{input_text}\n\n=========\nOutput Fields:\n{output_text}\n\n"
        return examples_text

    def get_predictor_demos(self, trainset: list[Any], predictor: Any) -> list[dict[str, Any]]:
        signature = predictor.signature
        return [
            {k: v for k, v in example.items() if k in signature.input_fields or k in signature.output_fields}
            for example in trainset
        ]

    async def evaluate_program(
        self, program: Any, dataset: list[Any], session: CheckpointSession, key: str
    ) -> float:
        """The program's score on `dataset` in percent, as `Evaluate` computes it, saved per example."""
        score, _ = await score_program(
            program,
            dataset,
            self.metric,
            num_threads=self.num_threads or settings.num_threads,
            max_errors=self.max_errors if self.max_errors is not None else settings.max_errors,
            session=session,
            record=session.section("eval", key),
        )
        return score


class RulesInductionProgram(Module):
    """Induces `num_rules` rules from examples text at temperature 1.0, each call with a fresh rollout id
    drawn from a generator seeded with 0 (so a run asks the same questions every time)."""

    def __init__(self, num_rules: int, teacher_settings: dict[str, Any] | None = None) -> None:
        super().__init__()

        class CustomRulesInduction(Signature):
            __doc__ = (
                f"Given a set of examples, extract a list of {num_rules} concise and non-redundant natural language "
                "rules that provide clear guidance for performing the task. All rules should be actionable for a "
                "well-specified scope of examples of this general kind of task."
            )
            examples_text = InputField(desc="Text containing examples")
            natural_language_rules = OutputField(desc="Induced natural language rules")

        self.rules_induction = ChainOfThought(CustomRulesInduction)
        self.teacher_settings = teacher_settings or {}
        self.rng = random.Random(0)
        self.draws = 0

    def draw_rollout_id(self) -> int:
        self.draws += 1
        return self.rng.randint(0, 10**9)

    async def aforward(self, examples_text: str) -> str:
        with settings.context(**self.teacher_settings):
            lm = settings.lm.copy(rollout_id=self.draw_rollout_id(), temperature=1.0)
            with settings.context(lm=lm):
                prediction = await self.rules_induction.acall(examples_text=examples_text)
        return prediction.natural_language_rules.strip()
