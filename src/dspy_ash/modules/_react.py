"""`ReAct`: an agent loop that reasons, picks a tool, observes its result, and finally extracts the outputs.

Prompts, fields and trajectory keys are DSPy 3.x's exactly, so saved programs and optimized
instructions move between the two. The loop is native async; the sync call drives the same code.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Callable
from typing import Any, Literal

from dspy_ash._sync import run_sync
from dspy_ash.adapters._chat import ChatAdapter
from dspy_ash.adapters.types._tool import Tool, ToolCalls
from dspy_ash.errors import ContextWindowExceededError
from dspy_ash.modules._calling import acall_part
from dspy_ash.modules._chain_of_thought import ChainOfThought
from dspy_ash.modules._predict import Predict
from dspy_ash.primitives._module import Module
from dspy_ash.primitives._prediction import Prediction
from dspy_ash.settings import settings
from dspy_ash.signatures._field import InputField, OutputField
from dspy_ash.signatures._signature import Signature, ensure_signature

logger = logging.getLogger("dspy_ash.react")

_TRUNCATION_ATTEMPTS = 3
_KEYS_PER_STEP = 4  # thought, tool_name, tool_args, observation


def format_error_for_lm(error: BaseException, *, traceback_frames: int = 0) -> str:
    """An exception as the model reads it: the message, or a short traceback (as DSPy words it)."""
    if traceback_frames <= 0:
        return str(error)
    # Implicit contexts are left out: the sync bridge runs programs inside an `except` block, and its
    # "no running event loop" would otherwise head every traceback the model reads.
    return (
        "\n"
        + "".join(
            traceback.format_exception(
                type(error),
                error,
                error.__traceback__,
                limit=traceback_frames,
                chain=error.__cause__ is not None,
            )
        ).strip()
    )


class ReAct(Module):
    """An agent loop: the LM reasons, picks one of `tools` (functions or `Tool`s) with its arguments,
    sees the result, and repeats up to `max_iters` times or until it calls `finish`; then the
    signature's outputs are extracted from the trajectory."""

    def __init__(self, signature: Any, tools: list[Callable[..., Any] | Tool], max_iters: int = 20) -> None:
        super().__init__()
        self.signature = signature = ensure_signature(signature)
        self.max_iters = max_iters

        by_name = {t.name: t for t in (t if isinstance(t, Tool) else Tool(t) for t in tools)}
        inputs = ", ".join(f"`{k}`" for k in signature.input_fields)
        outputs = ", ".join(f"`{k}`" for k in signature.output_fields)
        instr = [f"{signature.instructions}\n"] if signature.instructions else []
        instr += [
            f"You are an Agent. In each episode, you will be given the fields {inputs} as input. "
            "And you can see your past trajectory so far.",
            f"Your goal is to use one or more of the supplied tools to collect any necessary information "
            f"for producing {outputs}.\n",
            "To do this, you will interleave next_thought, next_tool_name, and next_tool_args in each turn, "
            "and also when finishing the task.",
            "After each tool call, you receive a resulting observation, which gets appended to your trajectory.\n",
            "When writing next_thought, you may reason about the current situation and plan for future steps.",
            "When selecting the next_tool_name and its next_tool_args, the tool must be one of:\n",
        ]
        by_name["finish"] = Tool(
            func=lambda: "Completed.",
            name="finish",
            desc="Marks the task as complete. That is, signals that all information for producing the outputs, "
            f"i.e. {outputs}, are now available to be extracted.",
            args={},
        )
        instr += [f"({i + 1}) {tool}" for i, tool in enumerate(by_name.values())]
        instr.append("When providing `next_tool_args`, the value inside the field must be in JSON format")

        names = tuple(by_name)
        react_signature = (
            Signature({**signature.input_fields}, "\n".join(instr))
            .append("trajectory", InputField(), type_=str)
            .append("next_thought", OutputField(), type_=str)
            .append("next_tool_name", OutputField(), type_=Literal[names])  # type: ignore[valid-type]
            .append("next_tool_args", OutputField(), type_=dict[str, Any])
        )
        extract_signature = Signature(
            {**signature.input_fields, **signature.output_fields},
            signature.instructions,
        ).append("trajectory", InputField(), type_=str)

        self.tools = by_name
        self.react = Predict(react_signature)
        self.extract = ChainOfThought(extract_signature)

    # -- the loop ----------------------------------------------------------------------------------
    async def aforward(self, **input_args: Any) -> Prediction:
        trajectory: dict[str, Any] = {}
        max_iters = input_args.pop("max_iters", self.max_iters)
        native = self._uses_native_function_calling()
        step_args = (
            {
                **input_args,
                "available_tools": list(self.tools.values()),
                "signature": self._native_signature(),
            }
            if native
            else input_args
        )
        for idx in range(max_iters):
            try:
                pred = await self._call_truncating(self.react, trajectory, step_args)
            except ContextWindowExceededError as err:
                logger.warning("Ending the trajectory: %s", format_error_for_lm(err, traceback_frames=5))
                break
            except ValueError as err:  # includes AdapterParseError: e.g. a tool name outside the Literal
                logger.warning(
                    "Ending the trajectory: Agent failed to select a valid tool: %s",
                    format_error_for_lm(err, traceback_frames=5),
                )
                break
            if native:
                if await self._native_step(idx, pred, trajectory):
                    break
                continue
            trajectory[f"thought_{idx}"] = pred.next_thought
            trajectory[f"tool_name_{idx}"] = pred.next_tool_name
            trajectory[f"tool_args_{idx}"] = pred.next_tool_args
            trajectory[f"observation_{idx}"] = await self._observe(pred.next_tool_name, pred.next_tool_args)
            if pred.next_tool_name == "finish":
                break
        extract = await self._call_truncating(self.extract, trajectory, input_args)
        return Prediction(trajectory=trajectory, **extract)

    # -- native function calling (opt-in) ------------------------------------------------------------
    # DSPy's ReAct asks for one tool per step in text fields, and that stays the default. When the
    # configured adapter uses native function calling and the LM supports it, the same instructions
    # go out with the tools as provider functions instead of the two tool fields; the model may then
    # call several tools in one turn, and they run concurrently. A step keeps its four trajectory
    # keys (names, args and observations become lists when there are several calls), so truncation
    # and the extract step work unchanged.
    def _uses_native_function_calling(self) -> bool:
        adapter = settings.adapter
        lm = getattr(self.react, "lm", None) or settings.lm  # `react.react` may be a stand-in function
        return bool(
            getattr(adapter, "use_native_function_calling", False)
            and getattr(lm, "supports_function_calling", False)
        )

    def _native_signature(self) -> Any:
        return (
            self.react.signature.delete("next_tool_name")
            .delete("next_tool_args")
            .append("available_tools", InputField(), type_=list[Tool])
            .append("next_tool_calls", OutputField(), type_=ToolCalls)
        )

    async def _native_step(self, idx: int, pred: Any, trajectory: dict[str, Any]) -> bool:
        """Run the step's tool calls together; True when the model finished (or called no tool)."""
        calls = list(pred.next_tool_calls.tool_calls) if pred.next_tool_calls else []
        names = [c.name for c in calls] or ["finish"]
        args = [c.args for c in calls] or [{}]
        observations = await asyncio.gather(*(self._observe(n, a) for n, a in zip(names, args, strict=True)))
        one = len(names) == 1
        trajectory[f"thought_{idx}"] = pred.next_thought or ""
        trajectory[f"tool_name_{idx}"] = names[0] if one else names
        trajectory[f"tool_args_{idx}"] = args[0] if one else args
        trajectory[f"observation_{idx}"] = observations[0] if one else list(observations)
        return "finish" in names

    async def _observe(self, name: str, args: Any) -> Any:
        """The tool's result, or its failure in words: the model should see the error and recover."""
        try:
            tool = self.tools.get(name)
            if tool is None:  # only reachable with native calls: text mode's Literal rejects unknown names
                raise ValueError(
                    f"There is no tool named {name!r}; the tools are {', '.join(map(str, self.tools))}."
                )
            return await tool.acall(**(args or {}))
        except Exception as err:
            return f"Execution error in {name}: {format_error_for_lm(err, traceback_frames=5)}"

    async def _call_truncating(
        self, module: Any, trajectory: dict[str, Any], input_args: dict[str, Any]
    ) -> Any:
        last: ContextWindowExceededError | None = None
        for _ in range(_TRUNCATION_ATTEMPTS):
            try:
                return await acall_part(module, **input_args, trajectory=self._format_trajectory(trajectory))
            except ContextWindowExceededError as err:
                logger.warning(
                    "Trajectory exceeded the context window, truncating the oldest tool call information."
                )
                last = err
                trajectory = self.truncate_trajectory(trajectory)
        raise ContextWindowExceededError(
            "The context window was exceeded even after 3 attempts to truncate the trajectory."
        ) from last

    def _call_with_potential_trajectory_truncation(
        self, module: Any, trajectory: dict[str, Any], **input_args: Any
    ) -> Any:
        """DSPy's name for one step (`module` called, the trajectory truncated when too long), from sync code."""
        return run_sync(self._call_truncating(module, trajectory, input_args))

    async def _async_call_with_potential_trajectory_truncation(
        self, module: Any, trajectory: dict[str, Any], **input_args: Any
    ) -> Any:
        return await self._call_truncating(module, trajectory, input_args)

    def truncate_trajectory(self, trajectory: dict[str, Any]) -> dict[str, Any]:
        """Drop the oldest tool call (its four keys), in place. Override for other policies."""
        keys = list(trajectory)
        if len(keys) <= _KEYS_PER_STEP:
            raise ContextWindowExceededError(
                "The trajectory is too long so your prompt exceeded the context window, but the trajectory "
                "cannot be truncated because it only has one tool call."
            )
        for key in keys[:_KEYS_PER_STEP]:
            trajectory.pop(key)
        return trajectory

    def _format_trajectory(self, trajectory: dict[str, Any]) -> str:
        adapter = settings.adapter or ChatAdapter()
        trajectory_signature = ensure_signature(f"{', '.join(trajectory.keys())} -> x")
        return adapter.format_user_message_content(trajectory_signature, trajectory)
