"""`ProgramOfThought`: the model writes Python, the sandbox runs it, errors go back for a retry.

The three ChainOfThought predictors, their instructions and the code parsing are DSPy 3.x's, so
saved programs load in both. The code runs in `PythonInterpreter` (a locked-down subprocess).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncGenerator, Callable
from contextlib import asynccontextmanager
from typing import Any, Literal

from dspy_ash.errors import InvalidInputTypeError
from dspy_ash.modules._calling import acall_part, aexecute, ashutdown
from dspy_ash.modules._chain_of_thought import ChainOfThought
from dspy_ash.modules._interpreter import CodeExecutionError, FinalOutput, PythonInterpreter
from dspy_ash.primitives._module import Module
from dspy_ash.primitives._prediction import Prediction
from dspy_ash.settings import settings
from dspy_ash.signatures._field import InputField, OutputField
from dspy_ash.signatures._signature import Signature, ensure_signature

logger = logging.getLogger("dspy_ash.program_of_thought")

Mode = Literal["generate", "regenerate", "answer"]


class ProgramOfThought(Module):
    """Answers by having the LM write Python code, running it in a sandbox (`PythonInterpreter`, or
    `interpreter_factory`) and regenerating the code from the error up to `max_iters` times."""

    def __init__(
        self,
        signature: Any,
        max_iters: int = 3,
        interpreter_factory: Callable[[], Any] | None = None,
    ) -> None:
        super().__init__()
        self.signature = signature = ensure_signature(signature)
        self.max_iters = max_iters
        self.input_fields = signature.input_fields
        self.output_fields = signature.output_fields
        self.code_generate = ChainOfThought(self._mode_signature("generate"))
        self.code_regenerate = ChainOfThought(self._mode_signature("regenerate"))
        self.generate_output = ChainOfThought(self._mode_signature("answer"))
        self._interpreter_factory = interpreter_factory

    # -- signatures (DSPy's text) -------------------------------------------------------------------
    def _fields(self, mode: Mode) -> Any:
        fields = dict(self.input_fields)
        code = "python code that answers the question"
        if mode == "generate":
            fields["generated_code"] = OutputField(desc=code)
        elif mode == "regenerate":
            fields["previous_code"] = InputField(desc="previously-generated python code that errored")
            fields["error"] = InputField(desc="error message from previously-generated python code")
            fields["generated_code"] = OutputField(desc=code)
        else:
            fields["final_generated_code"] = InputField(desc=code)
            fields["code_output"] = InputField(desc="output of previously-generated python code")
            fields.update(self.signature.output_fields)
        return Signature(fields)

    def _mode_signature(self, mode: Mode) -> Any:
        sig = self._fields(mode)
        ins = ", ".join(f"`{k}`" for k in sig.input_fields)
        outs = ", ".join(f"`{k}`" for k in sig.output_fields)
        finals = ", ".join(f"`{k}`" for k in self.output_fields)
        if mode == "generate":
            instr = [
                f"You will be given {ins} and you will respond with {outs}.",
                f"Generating executable Python code that programmatically computes the correct {outs}.",
                "After you're done with the computation and think you have the final output, make sure to "
                "submit your output by calling the preloaded function `SUBMIT()`.",
                f'You must structure your output in a dict, like {{"field_a": value_a, ...}}, with the correct '
                f"value mapping for the field(s): {finals}.",
            ]
        elif mode == "regenerate":
            instr = [
                f"You are given {ins} due to an error in previous code.",
                "Your task is to correct the error and provide the new `generated_code`.",
            ]
        else:
            instr = [f"Given the final code {ins}, provide the final {outs}."]
        return Signature(sig.fields, "\n".join(instr))

    # -- code handling -------------------------------------------------------------------------------
    @staticmethod
    def _parse_code(code_data: Any) -> tuple[str, str | None]:
        """The code block from the model's reply (fences stripped), or an error the model should fix."""
        code = str(code_data.get("generated_code", "") or "").split("---", 1)[0].split("\n\n\n", 1)[0]
        match = re.search(r"```python[ \n](.*?)[ \n]```?", code, re.DOTALL)
        block = match.group(1) if match else code
        if not block:
            return code, "Error: Empty code after parsing."
        if "\n" not in block and block.count("=") > 1:
            return code, "Error: Code format is not correct."
        last = re.match(r"^(\w+)\s*=", block.split("\n")[-1].strip())
        if last:  # `answer = ...` as the last line: show the value, as a REPL would
            block += "\n" + last.group(1)
        return block, None

    @staticmethod
    async def _execute_code(code: str, interpreter: Any) -> tuple[str | None, str | None]:
        """The code's result as JSON, or the error the model should fix (DSPy's name and behaviour)."""
        if not code:
            return None, "Error: Empty code before execution."
        try:
            result = await aexecute(interpreter, code)
        except (CodeExecutionError, SyntaxError) as exc:
            return None, str(exc)
        if isinstance(result, FinalOutput):
            result = result.output
        return json.dumps(result), None

    # -- the loop ---------------------------------------------------------------------------------------
    async def aforward(self, *args: Any, **kwargs: Any) -> Prediction:
        async with self._interpreter_scope(args, kwargs) as interpreter:
            return await self._run(interpreter, kwargs)

    @asynccontextmanager
    async def _interpreter_scope(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> AsyncGenerator[Any]:
        """The caller's interpreter (passed positionally, as DSPy), left open; or a new one, shut down after."""
        if args:
            yield args[0]
            return
        if "interpreter" in kwargs and "interpreter" not in self.signature.input_fields:
            raise InvalidInputTypeError(
                "To use a caller-owned interpreter, pass it as the first positional argument "
                "when calling the module."
            )
        # As DSPy: an explicit factory, else `configure(interpreter_factory=...)`, else the sandbox.
        factory = self._interpreter_factory or settings.get("interpreter_factory") or PythonInterpreter
        interpreter = factory()
        try:
            yield interpreter
        finally:
            await ashutdown(interpreter)

    async def _run(self, interpreter: Any, kwargs: dict[str, Any]) -> Prediction:
        inputs = {name: kwargs[name] for name in self.input_fields}
        code, error = self._parse_code(await acall_part(self.code_generate, **inputs))
        output: str | None = None
        if error is None:
            output, error = await self._execute_code(code, interpreter)
        hop = 1
        while error is not None:
            logger.error("Error in code execution: %s", error)
            if hop == self.max_iters:
                raise CodeExecutionError(f"Max hops reached. Failed to run ProgramOfThought: {error}")
            inputs.update(previous_code=code, error=error)
            code, error = self._parse_code(await acall_part(self.code_regenerate, **inputs))
            if error is None:
                output, error = await self._execute_code(code, interpreter)
            hop += 1
        inputs.update(final_generated_code=code, code_output=output)
        return await acall_part(self.generate_output, **inputs)
