"""`POST /answer`: a question in, the answer out, from the serving version of the tenant's answering program.

The program is the one named by `ServiceSettings.answer_program` (the worked example's
`simplified-baleen`, which `dspy-ash demo` creates), or the one the request names. It runs as
`programs.execute` runs it (traced, bounded, under the tenant's provider); the reply keeps the
fields a question-answering client wants and the trace id that explains it.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

from pydantic import Field

from dspy_ash.actions._context import ActionContext
from dspy_ash.actions._registry import action
from dspy_ash.actions._schemas import Public, Request
from dspy_ash.actions._serving import ExecuteRequest, execute_program
from dspy_ash.store import InvalidSpecError, NotFoundError, repos


class AnswerRequest(Request):
    question: str = Field(min_length=1, max_length=10_000, examples=["Which river flows through Paris?"])
    program: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="a program by name; default: the service's answering program",
    )


class AnswerPublic(Public):
    answer: str
    reasoning: str | None = Field(description="the program's reasoning, when it gives one")
    confidence: float | None = Field(description="the program's confidence, when it gives a number")
    trace_id: uuid.UUID = Field(description="the execution's trace (GET /api/v1/traces/{id} once written)")
    program_id: uuid.UUID
    version_number: int | None = Field(description="the version that answered; none: the program unoptimized")
    lm_notice: str | None = Field(
        description="set when the service's LM is an offline stand-in: the answer is not a real model's"
    )


def _confidence(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


@action("programs.answer", resource="program", kind="action", scope="programs:execute",
        audited=False, transactional=False)  # fmt: skip
async def answer(ctx: ActionContext, request: AnswerRequest) -> AnswerPublic:
    """Answer a question with the serving version of the answering program."""
    name = request.program or ctx.services.settings.answer_program
    async with ctx.transaction() as session:
        program = await repos.programs.find_program(session, tenant_id=ctx.tenant_id, name=name)
    if program is None:
        raise NotFoundError("program", name)
    done = await execute_program(
        ctx, ExecuteRequest(program_id=program.id, version=None, inputs={"question": request.question})
    )
    outputs = done.outputs
    if "answer" not in outputs:
        raise InvalidSpecError(
            f"the program has no `answer` output (it gives {sorted(outputs)})", location=name
        )
    reasoning = outputs.get("reasoning")
    return AnswerPublic(
        answer=str(outputs["answer"]),
        reasoning=None if reasoning is None else str(reasoning),
        confidence=_confidence(outputs.get("confidence")),
        trace_id=done.trace_id,
        program_id=program.id,
        version_number=done.version_number,
        lm_notice=ctx.services.settings.stand_in_notice,
    )
