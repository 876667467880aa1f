"""`GroundedProposer`: instruction candidates for every predictor, as MIPROv2 proposes them.

Each proposal may see a dataset summary, the program's code and an LM-written description of the
program and of the module, up to three bootstrapped demos, and a random prompting tip; the prompt
model then writes one instruction. Same signatures and wording as DSPy's `dspy.propose`.

Concurrency without changing the result: the random choices (tip, rollout id) are drawn up front
in DSPy's order, then all proposals run at once. Finished proposals are kept in the checkpoint.
"""

from __future__ import annotations

import logging
import random
from typing import Any

from dspy_ash._sync import run_sync
from dspy_ash.modules._predict import Predict
from dspy_ash.optimizers._dataset_summary import create_dataset_summary
from dspy_ash.optimizers._gather import gather_all
from dspy_ash.optimizers._prompt_text import create_example_string, module_code, program_source, strip_prefix
from dspy_ash.optimizers.checkpoint._session import CheckpointSession
from dspy_ash.primitives._module import Module
from dspy_ash.primitives._prediction import Prediction
from dspy_ash.settings import settings
from dspy_ash.signatures import InputField, OutputField, Signature

logger = logging.getLogger("dspy_ash.optimizers.mipro")

TIPS = {
    "none": "",
    "creative": "Don't be afraid to be creative when creating the new instruction!",
    "simple": "Keep the instruction clear and concise.",
    "description": "Make sure your instruction is very informative and descriptive.",
    "high_stakes": "The instruction should include a high stakes scenario in which the LM must solve the task!",
    "persona": 'Include a persona that is relevant to the task in the instruction (ie. "You are a ...")',
}


class DescribeProgram(Signature):
    """Below is some pseudo-code for a pipeline that solves tasks with calls to language models. Please describe what type of task this program appears to be designed to solve, and how it appears to work."""

    program_code = InputField(
        desc="Pseudocode for a language model program designed to solve a particular task."
    )
    program_example = InputField(desc="An example of the program in use.")
    program_description = OutputField(
        desc="Describe what task the program is designed to solve, and how it goes about solving this task."
    )


class DescribeModule(Signature):
    """Below is some pseudo-code for a pipeline that solves tasks with calls to language models. Please describe the purpose of one of the specified module in this pipeline."""

    program_code = InputField(
        desc="Pseudocode for a language model program designed to solve a particular task."
    )
    program_example = InputField(desc="An example of the program in use.")
    program_description = InputField(
        desc="Summary of the task the program is designed to solve, and how it goes about solving it."
    )
    module = InputField(desc="The module in the program that we want to describe.")
    module_description = OutputField(desc="Description of the module's role in the broader program.")


def generate_instruction_class(
    use_dataset_summary: bool = True,
    program_aware: bool = True,
    use_task_demos: bool = True,
    use_instruct_history: bool = True,
    use_tip: bool = True,
) -> Predict:
    """DSPy's `GenerateSingleModuleInstruction`, with only the inputs the configuration asks for."""
    instruction = (
        "Use the information below to learn about a task that we are trying to solve using calls to an LM, "
        "then generate a new instruction that will be used to prompt a Language Model to better solve the task."
    )
    fields: dict[str, Any] = {}
    if use_dataset_summary:
        fields["dataset_description"] = InputField(desc="A description of the dataset that we are using.")
    if program_aware:
        fields["program_code"] = InputField(
            desc="Language model program designed to solve a particular task."
        )
        fields["program_description"] = InputField(
            desc="Summary of the task the program is designed to solve, and how it goes about solving it."
        )
        fields["module"] = InputField(desc="The module to create an instruction for.")
        fields["module_description"] = InputField(
            desc="Description of the module to create an instruction for."
        )
    fields["task_demos"] = InputField(desc="Example inputs/outputs of our module.")
    if use_instruct_history:
        fields["previous_instructions"] = InputField(
            desc="Previous instructions we've attempted, along with their associated scores."
        )
    fields["basic_instruction"] = InputField(desc="Basic instruction.")
    if use_tip:
        fields["tip"] = InputField(desc="A suggestion for how to go about generating the new instruction.")
    fields["proposed_instruction"] = OutputField(
        desc="Propose an instruction that will be used to prompt a Language Model to perform this task."
    )
    from dspy_ash.signatures import make_signature

    signature = make_signature(
        fields,
        instruction,  # untyped fields, as DSPy declares them
        "GenerateSingleModuleInstruction",
    )
    return Predict(signature)


class GenerateModuleInstruction(Module):
    def __init__(
        self,
        program_code_string: str | None = None,
        use_dataset_summary: bool = True,
        program_aware: bool = False,
        use_task_demos: bool = True,
        use_instruct_history: bool = True,
        use_tip: bool = True,
    ) -> None:
        super().__init__()
        self.use_task_demos = use_task_demos
        self.program_aware = program_aware
        self.program_code_string = program_code_string
        self.describe_program = Predict(DescribeProgram)
        self.describe_module = Predict(DescribeModule)
        self.generate_module_instruction = generate_instruction_class(
            use_dataset_summary=use_dataset_summary,
            program_aware=program_aware,
            use_task_demos=use_task_demos,
            use_instruct_history=use_instruct_history,
            use_tip=use_tip,
        )

    async def aforward(
        self,
        demo_candidates: Any,
        pred_i: int,
        demo_set_i: int,
        program: Any,
        previous_instructions: Any,
        data_summary: Any,
        num_demos_in_context: int = 3,
        tip: str | None = None,
    ) -> Prediction:
        predictor = program.predictors()[pred_i]
        basic_instruction = predictor.signature.instructions
        task_demos = self._task_demos(demo_candidates, pred_i, demo_set_i, predictor, num_demos_in_context)
        code, program_description, module_description = await self._describe(predictor, task_demos)
        inputs = {
            "dataset_description": data_summary,
            "program_code": self.program_code_string,
            "module": code,
            "program_description": program_description,
            "module_description": module_description,
            "task_demos": task_demos,
            "tip": tip,
            "basic_instruction": basic_instruction,
            "previous_instructions": previous_instructions,
        }
        wanted = self.generate_module_instruction.signature.input_fields
        instruct = await self.generate_module_instruction.acall(
            **{k: v for k, v in inputs.items() if k in wanted}
        )
        return Prediction(proposed_instruction=strip_prefix(instruct.proposed_instruction))

    def _task_demos(
        self, demo_candidates: Any, pred_i: int, demo_set_i: int, predictor: Any, num_demos_in_context: int
    ) -> str:
        """Up to `num_demos_in_context` bootstrapped demos, from this demo set and the ones after it."""
        task_demos = ""
        if self.use_task_demos:
            sets = demo_candidates[pred_i]
            adjacent = [sets[demo_set_i], *sets[demo_set_i + 1 :], *sets[:demo_set_i]]
            examples: list[str] = []
            for candidate_set in adjacent:
                for example in candidate_set:
                    if "augmented" in example and len(examples) < num_demos_in_context:
                        examples.append(create_example_string(predictor.signature.fields, example))
            task_demos = "\n\n".join(examples) + "\n\n"
        if not task_demos.strip() or demo_set_i == 0:
            task_demos = "No task demos provided."
        return task_demos

    async def _describe(self, predictor: Any, task_demos: str) -> tuple[str, str, str]:
        """(module code, program description, module description) from the prompt model, when
        program-aware; a failure turns program awareness off for the rest of the run, as in DSPy."""
        program_description = "Not available"
        code = "Not provided"
        module_description = "Not provided"
        if self.program_aware:
            try:
                described = await self.describe_program.acall(
                    program_code=self.program_code_string, program_example=task_demos
                )
                program_description = strip_prefix(described.program_description)
                code = module_code(predictor)
                module_description = (
                    await self.describe_module.acall(
                        program_code=self.program_code_string,
                        program_description=program_description,
                        program_example=task_demos,
                        module=code,
                    )
                ).module_description
            except Exception as exc:
                logger.info(
                    "Error getting program description (%r); running without the program-aware proposer.", exc
                )
                self.program_aware = False
        return code, program_description, module_description


class GroundedProposer:
    """Proposes instructions for a program's predictors (DSPy's parameters). MIPROv2 uses the async,
    checkpointed `prepare` and `apropose_instructions_for_program`; DSPy's sync methods
    (`propose_instructions_for_program`, `propose_instruction_for_predictor`) serve code written
    against `dspy.propose`, computing the dataset summary on first use instead of in the constructor."""

    def __init__(
        self,
        prompt_model: Any,
        program: Any,
        trainset: list[Any],
        view_data_batch_size: int = 10,
        use_dataset_summary: bool = True,
        program_aware: bool = True,
        use_task_demos: bool = True,
        num_demos_in_context: int = 3,
        use_instruct_history: bool = True,
        use_tip: bool = True,
        set_tip_randomly: bool = True,
        set_history_randomly: bool = True,
        verbose: bool = False,
        rng: random.Random | None = None,
        init_temperature: float = 1.0,
    ) -> None:
        self.program_aware = program_aware
        self.use_dataset_summary = use_dataset_summary
        self.use_task_demos = use_task_demos
        self.num_demos_in_context = num_demos_in_context
        self.use_instruct_history = use_instruct_history
        self.use_tip = use_tip
        self.set_tip_randomly = set_tip_randomly
        self.set_history_randomly = set_history_randomly
        self.verbose = verbose  # DSPy prints its progress with it; here the log at INFO says the same
        self.rng = rng or random.Random()
        self.prompt_model = prompt_model or settings.lm
        self.init_temperature = init_temperature
        self.trainset = trainset
        self.view_data_batch_size = view_data_batch_size
        self.data_summary: str | None = None
        self.program_code_string: str | None = None
        self._session: CheckpointSession | None = None  # the sync methods': in memory, no store
        if self.program_aware:
            try:
                self.program_code_string = program_source(program)
            except Exception as exc:
                logger.info(
                    "Error getting source code (%r); running without the program-aware proposer.", exc
                )
                self.program_aware = False

    async def prepare(self, session: CheckpointSession) -> None:
        """The dataset summary (LM calls), kept in the checkpoint."""
        if not self.use_dataset_summary:
            return
        record = session.section("proposer")
        if "data_summary" not in record:
            try:
                record["data_summary"] = await create_dataset_summary(
                    self.trainset, self.view_data_batch_size, self.prompt_model
                )
            except Exception as exc:
                logger.info("Error getting data summary (%r); running without the data-aware proposer.", exc)
                record["data_summary"] = None
            await session.save()
        self.data_summary = record["data_summary"]
        if self.data_summary is None:
            self.use_dataset_summary = False

    # -- DSPy's sync API ---------------------------------------------------------------------------
    def propose_instructions_for_program(
        self,
        trainset: list[Any],
        program: Any,
        demo_candidates: Any,
        trial_logs: dict[Any, Any],
        N: int,  # DSPy's name
    ) -> dict[int, list[str]]:
        """Instructions for every predictor: one per demo set, up to `N` (DSPy's signature)."""

        async def run() -> dict[int, list[str]]:
            session = await self._sync_session()
            return await self.apropose_instructions_for_program(
                program, demo_candidates, N, trial_logs, session=session
            )

        return run_sync(run())

    def propose_instruction_for_predictor(
        self,
        program: Any,
        predictor: Any,
        pred_i: int,
        demo_candidates: Any,
        demo_set_i: int,
        trial_logs: dict[Any, Any],
        tip: str | None = None,
    ) -> str:
        """One instruction for predictor `pred_i` (DSPy's signature; `predictor` is not read, as in DSPy)."""

        async def run() -> str:
            await self._sync_session()
            history = self._history(program, pred_i, trial_logs)
            rollout_id = self.rng.randint(0, 10**9)
            return await self._propose_one(
                program, pred_i, demo_set_i, demo_candidates, tip, rollout_id, self.use_tip, history
            )

        return run_sync(run())

    async def _sync_session(self) -> CheckpointSession:
        """The sync methods' session (in memory, no store), the dataset summary made on first use."""
        if self._session is None:
            self._session = CheckpointSession(None, "proposer", {"sections": {}})
            await self.prepare(self._session)
        return self._session

    # -- the async form ---------------------------------------------------------------------------
    async def apropose_instructions_for_program(
        self,
        program: Any,
        demo_candidates: Any,
        n: int,
        trial_logs: dict[Any, Any] | None = None,
        *,
        session: CheckpointSession,
    ) -> dict[int, list[str]]:
        """Every predictor's instructions: the draws first, in DSPy's order, then all proposals at once."""
        if self.set_history_randomly:
            self.use_instruct_history = self.rng.random() < 0.5
        if not demo_candidates:
            self.use_task_demos = False
            num_demos = n
        else:
            num_demos = max(len(demo_candidates[0]), 1)
        plan: list[tuple[int, int, str | None, bool, int]] = []
        for pred_i, _ in enumerate(program.predictors()):
            for demo_set_i in range(num_demos)[: min(n, num_demos)]:
                tip: str | None = None
                if self.set_tip_randomly:
                    tip = TIPS[self.rng.choice(list(TIPS.keys()))]
                    self.use_tip = bool(tip)
                plan.append((pred_i, demo_set_i, tip, self.use_tip, self.rng.randint(0, 10**9)))
        record = session.section("proposer", "instructions")

        async def one(pred_i: int, demo_set_i: int, tip: str | None, use_tip: bool, rollout_id: int) -> str:
            key = f"{pred_i}:{demo_set_i}"
            if key not in record:
                history = self._history(program, pred_i, trial_logs or {})
                record[key] = await self._propose_one(
                    program, pred_i, demo_set_i, demo_candidates, tip, rollout_id, use_tip, history
                )
                await session.save()
            return record[key]

        proposals = await gather_all(*(one(*item) for item in plan))
        result: dict[int, list[str]] = {}
        for (pred_i, *_), instruction in zip(plan, proposals, strict=True):
            result.setdefault(pred_i, []).append(instruction)
        return result

    def _history(self, program: Any, pred_i: int, trial_logs: dict[Any, Any]) -> str:
        return predictor_history(program, pred_i, trial_logs, MAX_INSTRUCT_IN_HISTORY) if trial_logs else ""

    async def _propose_one(
        self,
        program: Any,
        pred_i: int,
        demo_set_i: int,
        demo_candidates: Any,
        tip: str | None,
        rollout_id: int,
        use_tip: bool,
        history: str,
    ) -> str:
        generator = GenerateModuleInstruction(
            program_code_string=self.program_code_string,
            use_dataset_summary=self.use_dataset_summary,
            program_aware=self.program_aware,
            use_task_demos=bool(self.use_task_demos and demo_candidates),
            use_instruct_history=bool(self.use_instruct_history and history),
            use_tip=use_tip,
        )
        rollout_lm = self.prompt_model.copy(rollout_id=rollout_id, temperature=self.init_temperature)
        with settings.context(lm=rollout_lm):
            proposed = await generator.acall(
                demo_candidates=demo_candidates,
                pred_i=pred_i,
                demo_set_i=demo_set_i,
                program=program,
                data_summary=self.data_summary,
                previous_instructions=history,
                num_demos_in_context=self.num_demos_in_context,
                tip=tip,
            )
        return strip_prefix(proposed.proposed_instruction)


MAX_INSTRUCT_IN_HISTORY = 5


def predictor_history(program: Any, pred_i: int, trial_logs: dict[Any, Any], top_n: int) -> str:
    """DSPy's instruction history of predictor `pred_i`: the trials that saved a program (`program_path`),
    each instruction with its average score, the best `top_n`, worst first."""
    totals: dict[str, list[float]] = {}
    for trial in trial_logs.values():
        if "program_path" in trial:
            trial_program = program.deepcopy()
            trial_program.load(trial["program_path"])
            instruction = trial_program.predictors()[pred_i].signature.instructions
            totals.setdefault(instruction, []).append(trial["score"])
    ranked = sorted(
        ((instruction, sum(scores) / len(scores)) for instruction, scores in totals.items()),
        key=lambda x: x[1],
        reverse=True,
    )[:top_n]
    ranked.reverse()
    return "".join(f"{instruction} | Score: {score}\n\n" for instruction, score in ranked)
