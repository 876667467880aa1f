"""`CodeAct`: ReAct's loop where each step is Python code, run in the sandbox with the tools defined there.

As DSPy 3.4.1's: the prompts, fields and trajectory keys are the same, and the tools are *defined inside*
the interpreter from their source (`inspect.getsource`), so model-written code calls them in the sandbox
and they run there, under its limits, never in the host process. A tool must therefore be a plain
function that needs nothing the sandbox lacks (no host files or network, only the allowed imports).
"""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Callable
from typing import Any

from dspy_ash.adapters.types._tool import Tool
from dspy_ash.errors import ConfigurationError
from dspy_ash.modules._calling import acall_part, aexecute
from dspy_ash.modules._chain_of_thought import ChainOfThought
from dspy_ash.modules._interpreter import PythonInterpreter
from dspy_ash.modules._predict import Predict
from dspy_ash.modules._program_of_thought import ProgramOfThought
from dspy_ash.modules._react import ReAct
from dspy_ash.primitives._module import Module
from dspy_ash.primitives._prediction import Prediction
from dspy_ash.signatures._field import InputField, OutputField
from dspy_ash.signatures._signature import Signature, ensure_signature


class CodeAct(ReAct, ProgramOfThought):
    """An agent that writes Python: each step the LM writes code (calling `tools`, which are defined in
    the interpreter) and says whether it has finished; the code's printed output joins the trajectory,
    and after `max_iters` steps or `finished=True` the signature's outputs are extracted from it.

    Each call gets a fresh interpreter from `interpreter_factory` (default `PythonInterpreter`, or
    `configure(interpreter_factory=...)`), shut down afterwards; an interpreter passed as the first
    positional argument is used as is and left open."""

    def __init__(
        self,
        signature: Any,
        tools: list[Callable[..., Any] | Tool],
        max_iters: int = 5,
        interpreter_factory: Callable[[], PythonInterpreter] | None = None,
    ) -> None:
        # Neither parent's __init__: CodeAct builds its own predictors and borrows their methods.
        Module.__init__(self)
        self.signature = signature = ensure_signature(signature)
        self.max_iters = max_iters
        wrapped = [t if isinstance(t, Tool) else Tool(t) for t in tools]
        if any(not inspect.isfunction(t.func) for t in wrapped):
            raise ConfigurationError(  # only a function has source to send into the sandbox
                "CodeAct only accepts functions and not callable objects."
            )
        self.tools = {str(t.name): t for t in wrapped}

        codeact_signature = (
            Signature({**signature.input_fields}, "\n".join(self._build_instructions(signature, self.tools)))
            .append("trajectory", InputField(), type_=str)
            .append(
                "generated_code",
                OutputField(
                    desc="Python code that when executed, produces output relevant to answering the question"
                ),
                type_=str,
            )
            .append(
                "finished", OutputField(desc="a boolean flag to determine if the process is done"), type_=bool
            )
        )
        extract_signature = Signature(
            {**signature.input_fields, **signature.output_fields}, signature.instructions
        ).append("trajectory", InputField(), type_=str)
        self.codeact = Predict(codeact_signature)
        self.extractor = ChainOfThought(extract_signature)
        self._interpreter_factory = interpreter_factory

    @staticmethod
    def _build_instructions(signature: Any, tools: dict[str, Tool]) -> list[str]:
        instructions = [f"{signature.instructions}\n"] if signature.instructions else []
        inputs = ", ".join(f"`{k}`" for k in signature.input_fields)
        outputs = ", ".join(f"`{k}`" for k in signature.output_fields)
        instructions.append(
            f"You are an intelligent agent. For each episode, you will receive the fields {inputs} as input.\n"
            f"Your goal is to generate executable Python code that collects any necessary information for "
            f"producing {outputs}.\n"
            "For each iteration, you will generate a code snippet that either solves the task or progresses "
            "towards the solution.\n"
            "Ensure any output you wish to extract from the code is printed to the console. The code should be "
            "enclosed in a fenced code block.\n"
            f"When all information for producing the outputs ({outputs}) are available to be extracted, mark "
            "`finished=True` besides the final Python code.\n"
            "You have access to the Python Standard Library and the following functions:"
        )
        instructions += [f"({i + 1}) {tool}" for i, tool in enumerate(tools.values())]
        return instructions

    async def aforward(self, *args: Any, **kwargs: Any) -> Prediction:
        async with self._interpreter_scope(args, kwargs) as interpreter:
            for tool in self.tools.values():
                # Dedented, so a tool defined inside a function or class body is valid at top level too.
                await aexecute(interpreter, textwrap.dedent(inspect.getsource(tool.func)))
            trajectory: dict[str, Any] = {}
            max_iters = kwargs.pop("max_iters", self.max_iters)
            for idx in range(max_iters):
                # The dict itself, as DSPy passes it: the adapter formats it for this step's prompt.
                code_data = await acall_part(self.codeact, trajectory=trajectory, **kwargs)
                code, error = self._parse_code(code_data)
                if error:
                    trajectory[f"observation_{idx}"] = f"Failed to parse the generated code: {error}"
                    continue
                trajectory[f"generated_code_{idx}"] = code
                output, error = await self._execute_code(code, interpreter)
                if error is None:
                    trajectory[f"code_output_{idx}"] = output
                else:
                    trajectory[f"observation_{idx}"] = f"Failed to execute the generated code: {error}"
                if code_data.finished:
                    break
            extract = await self._call_truncating(self.extractor, trajectory, kwargs)
            return Prediction(trajectory=trajectory, **extract)
