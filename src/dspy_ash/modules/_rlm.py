"""`RLM`: the Recursive Language Model module (Zhang, Kraska, Khattab, 2025), as DSPy 3.4.1's `dspy.RLM`.

The model does not read long inputs in its prompt: they are variables of a Python REPL (the sandbox),
and the model writes code step by step to look at them, calls `llm_query(prompt)` /
`llm_query_batched(prompts)` for sub-LM work on pieces, and ends with `SUBMIT(...)`. Each step's code,
output or error joins the history shown in the next prompt; after `max_iters` steps without a
`SUBMIT`, an extract predictor reads the history and gives the outputs.

The prompts, field names and texts are DSPy's. Two differences, both where DSPy allows them:
- the REPL is dspy-ash's `PythonInterpreter` (a subprocess sandbox) instead of Deno/Pyodide, or any
  `CodeInterpreter` a factory returns;
- dspy-ash's sandbox has no `dspy` facade (DSPy's sub-agents built inside the REPL), so each call's
  action prompt leaves out DSPy's sub-agent guidance, as DSPy does for a runtime that cannot host it.
  The predictor's stored signature keeps DSPy's full text, so saved programs move between the two.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import inspect
import keyword
import logging
import threading
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pydantic

from dspy_ash._sync import call_sync, run_sync
from dspy_ash.adapters._formatting import translate_field_type
from dspy_ash.adapters._parsing import parse_value
from dspy_ash.adapters.types._tool import Tool
from dspy_ash.errors import InvalidInputTypeError, LMError, LMNotConfiguredError, format_error_for_lm
from dspy_ash.lm._types import LMResponse
from dspy_ash.modules._calling import acall_part, aexecute, ashutdown
from dspy_ash.modules._code_interpreter import (
    SIMPLE_TYPES,
    resolve_interpreter_factory,
    validate_interpreter,
    validate_interpreter_factory,
)
from dspy_ash.modules._interpreter import CodeExecutionError, FinalOutput, PythonInterpreter
from dspy_ash.modules._predict import Predict
from dspy_ash.modules._repl_types import REPLEntry, REPLHistory, REPLVariable
from dspy_ash.modules._sandbox_serializable import SandboxSerializable, build_repl_variable
from dspy_ash.primitives._module import Module
from dspy_ash.primitives._prediction import Prediction
from dspy_ash.settings import settings
from dspy_ash.signatures._field import InputField, OutputField
from dspy_ash.signatures._signature import Signature, ensure_signature

logger = logging.getLogger("dspy_ash.rlm")

ACTION_INSTRUCTIONS_TEMPLATE = """You are tasked with producing the following outputs given the inputs {inputs}:
{output_fields}

You have access to a Python REPL environment. Write Python code and it will be executed. You will see the output, then write more code based on what you learned. This is an iterative process.
{interpreter_rules}
Available:
- Variables: {inputs} (your input data)
- `llm_query(prompt)` - query a sub-LLM (~500K char capacity) for semantic analysis
- `llm_query_batched(prompts)` - query multiple prompts concurrently (much faster for multiple queries)
- `print()` - ALWAYS print to see results
- `SUBMIT({final_output_names})` - submit final output when done

IMPORTANT: This is ITERATIVE. Each code block you write will execute, you'll see the output, then you decide what to do next. Do NOT try to solve everything in one step.

1. EXPLORE FIRST - Look at your data before processing it. Print samples, check types/lengths, understand the structure.
2. ITERATE - Write small code snippets, observe outputs, then decide next steps. State persists between iterations.
3. VERIFY BEFORE SUBMITTING - If results seem wrong (zeros, empty, unexpected), reconsider your approach.
4. USE llm_query FOR SEMANTICS - String matching finds WHERE things are; llm_query understands WHAT things mean.
5. MINIMIZE RETYPING (INPUTS & OUTPUTS) - When values are long, precise, or error-prone (IDs, numbers, code, quotes), re-access them via variables and parse/compute in code instead of retyping. Use small, targeted prints to sanity-check, but avoid manual copying when variables can carry the exact value.
6. SUBMIT ONLY AFTER SEEING OUTPUTS - SUBMIT ends the current run immediately. If you need to inspect printed output, run it in one step, review the result, then call SUBMIT in a later step.

You have max {max_llm_calls} sub-LLM calls. When done, call SUBMIT() with your output."""

# DSPy's guidance for the sandbox `dspy` facade; part of the stored action signature (see the module docstring).
SUB_AGENT_INSTRUCTIONS = """
Sub-agents (dspy):
You may `import dspy` and build sub-agents in the REPL for subtasks that need structured inputs/outputs.
- `dspy.Predict("question -> answer")(question=...)` or `dspy.ChainOfThought(...)` - single-step sub-agents.
- `dspy.ReActV2("question -> answer", tools=[...])(question=...)` - a multi-step tool-using sub-agent.
  Only the provided tools listed above may be passed; functions you define in the REPL cannot cross to the host.
- `dspy.RLM("context, query -> answer")(context=..., query=...)` - a recursive sub-agent with its own
  REPL on the same interpreter backend as yours; it cannot be given another `interpreter_factory`.
  This is the heaviest option: reserve it for deep subtasks whose input is itself too large or
  structured to prompt directly, and prefer Predict/ChainOfThought/ReActV2 for everything else.
Prefer `llm_query` for simple one-shot prompts; use sub-agents for structured, tool-using, or
recursive subtasks.
"""

_EXTRACT_INSTRUCTIONS = """Based on the REPL trajectory, extract the final outputs now.

            Review your trajectory to see what information you gathered and what values you computed, then provide the final outputs."""

_PYTHON_FENCE_LANGS = {"python", "py", "python3", "py3", ""}


def _is_facade_name(name: str) -> bool:
    """Names DSPy's sandbox facade owns (`dspy`, `_dspy*`, `__dspy*`): refused as tools and inputs, as in DSPy."""
    return name == "dspy" or name.startswith(("_dspy", "__dspy"))


class _LLMCallBudget:
    """One call's ceiling on sub-LM calls, shared by every path the REPL's code has to an LM."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._count = 0
        self._lock = threading.Lock()  # the sync tools may be called from several threads

    def reserve(self, n: int = 1) -> None:
        with self._lock:
            if self._count + n > self._limit:
                raise RuntimeError(
                    f"LLM call limit exceeded: {self._count} + {n} > {self._limit}. "
                    "Use Python code for aggregation instead of making more LLM calls."
                )
            self._count += n


class _HostFunction:
    """A host function the REPL's code calls by name: sync when called directly (as DSPy's tools are),
    awaited by dspy-ash's interpreter through `acall`. `func` carries the parameters positional
    arguments from the sandbox are bound to."""

    def __init__(
        self, func: Callable[..., Any], call: Callable[..., Any], acall: Callable[..., Awaitable[Any]]
    ) -> None:
        functools.update_wrapper(self, func)
        self.func = func
        self._call = call
        self._acall = acall

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._call(*args, **kwargs)

    async def acall(self, *args: Any, **kwargs: Any) -> Any:
        return await self._acall(*args, **kwargs)


def _strip_code_fences(code: str) -> str:
    """The Python inside the first markdown fence of `code` (or `code` itself when it has none).

    Outer decorative pairs of bare fences are dropped first; text before the fence and after its close is
    ignored; a fence labelled with another language is a `SyntaxError` the model is told about.
    """
    code = code.strip()
    if "```" not in code:
        return code
    lines = code.splitlines()
    while len(lines) >= 2 and lines[0].strip() == "```" and lines[-1].strip() == "```":
        lines = lines[1:-1]
    code = "\n".join(lines).strip()
    if "```" not in code:
        return code
    label, newline, body = code[code.find("```") + 3 :].partition("\n")
    if not newline:
        return code
    lang = label.split(maxsplit=1)[0].lower() if label.strip() else ""
    if lang not in _PYTHON_FENCE_LANGS:
        raise SyntaxError(f"Expected Python code but got ```{lang} fence. Write Python code, not {lang}.")
    end = body.find("```")
    return body.strip() if end == -1 else body[:end].strip()


def _response_text(response: Any) -> str:
    """The text of a sub-LM's reply: the first output of an LM call (or of an `LMResponse`)."""
    if isinstance(response, LMResponse):
        response = response.outputs
    if not isinstance(response, list) or not response:
        raise TypeError(
            "Sub-LM must return dspy.LMResponse or a non-empty list of text outputs, "
            f"got {type(response).__name__}."
        )
    first: Any = response[0]  # pyright: ignore[reportUnknownVariableType]
    text = first.get("text") if isinstance(first, dict) else first  # pyright: ignore[reportUnknownMemberType]
    if not isinstance(text, str):
        raise TypeError(f"Sub-LM response must contain text, got {type(text).__name__}.")  # pyright: ignore[reportUnknownArgumentType]
    return text


class RLM(Module):
    """Recursive Language Model: the LM explores its inputs with code in a sandboxed REPL, calling
    sub-LMs on pieces of them, until it submits the outputs.

    Experimental: This class may change or be removed in a future release without warning.

    Each call gets a fresh interpreter from `interpreter_factory` (the argument of the call, else of the
    constructor, else `configure(interpreter_factory=...)`, else `PythonInterpreter`) and shuts it down
    afterwards; an interpreter passed as the first positional argument is used as is and left open. The
    interpreter's `tools` get `llm_query`, `llm_query_batched` and the user's `tools` before it starts.

    ```python
    rlm = dspy.RLM("context, query -> output", max_iters=10)
    result = rlm(context="...very long text...", query="What is the magic number?")
    ```
    """

    # Names RLM owns rather than the signature or the tools.
    _RESERVED_SANDBOX_NAMES = frozenset({"llm_query", "llm_query_batched", "SUBMIT", "print"})
    _RESERVED_RESULT_NAMES = frozenset({"trajectory", "final_reasoning"})

    def __init__(
        self,
        signature: type[Signature] | str,
        max_iters: int = 20,
        max_llm_calls: int = 50,
        max_output_chars: int = 10_000,
        verbose: bool = False,
        tools: list[Callable[..., Any] | Tool] | None = None,
        sub_lm: Any = None,
        interpreter_factory: Callable[[], Any] = PythonInterpreter,
    ) -> None:
        super().__init__()
        validate_interpreter_factory(interpreter_factory)
        self.signature = ensure_signature(signature)
        self.max_iters = max_iters
        self.max_llm_calls = max_llm_calls
        self.max_output_chars = max_output_chars
        self.verbose = verbose
        self.sub_lm = sub_lm
        self._interpreter_factory = interpreter_factory
        self._user_tools = self._normalize_tools(tools)
        self._validate_namespace(self._user_tools)
        self._derived_signatures: dict[tuple[type[Signature], str], type[Signature]] = {}
        action_sig, extract_sig = self._build_signatures()
        self._action_signature = action_sig
        self.generate_action: Any = Predict(action_sig)
        self.extract: Any = Predict(extract_sig)

    # -- tools and names ---------------------------------------------------------------------------
    def _normalize_tools(self, tools: Any) -> dict[str, Tool]:
        if not tools:
            return {}
        if isinstance(tools, dict):
            raise TypeError(
                "tools must be a list, not a dict. Change tools={'name': func} to tools=[func] "
                "(tool names are inferred from function names, or use dspy.Tool(func, name='custom_name'))"
            )
        normalized: dict[str, Tool] = {}
        for value in tools:  # pyright: ignore[reportUnknownVariableType]
            if not isinstance(value, Tool) and not callable(value):
                raise TypeError(f"Tool {value!r} must be callable, got {type(value).__name__}")  # pyright: ignore[reportUnknownArgumentType]
            tool = value if isinstance(value, Tool) else Tool(value)  # pyright: ignore[reportUnknownArgumentType]
            name = str(tool.name)
            if name in normalized:
                raise ValueError(f"Duplicate tool name '{name}'")
            normalized[name] = tool
        return normalized

    def _validate_namespace(self, tools: dict[str, Tool]) -> None:
        """Tool names, inputs and outputs must not shadow the sandbox's functions or the result's metadata."""

        def reserved(name: str) -> bool:
            return name in self._RESERVED_SANDBOX_NAMES or _is_facade_name(name)

        for name in tools:
            if not name.isidentifier() or keyword.iskeyword(name):
                raise ValueError(
                    f"Invalid tool name '{name}': must be a valid Python identifier and not a keyword"
                )
            if reserved(name):
                raise ValueError(f"Tool name '{name}' conflicts with built-in sandbox function")
        inputs = set(self.signature.input_fields)
        if "interpreter_factory" in inputs:
            raise ValueError(
                "'interpreter_factory' is reserved for RLM runtime configuration, not a signature input."
            )
        clashes = sorted(n for n in inputs if reserved(n))
        if clashes:
            raise ValueError(f"Input fields conflict with built-in sandbox functions: {clashes}")
        tool_inputs = sorted(inputs & tools.keys())
        if tool_inputs:
            raise ValueError(f"Input fields conflict with user tools: {tool_inputs}")
        result_clashes = sorted(set(self.signature.output_fields) & self._RESERVED_RESULT_NAMES)
        if result_clashes:
            raise ValueError(f"Output fields conflict with RLM result metadata: {result_clashes}")

    @property
    def tools(self) -> dict[str, Tool]:
        """The user's tools (not `llm_query` / `llm_query_batched`)."""
        return dict(self._user_tools)

    @staticmethod
    def _format_tool_docs(tools: dict[str, Tool]) -> str:
        if not tools:
            return ""
        lines = ["\nAdditional tools available (use these instead of standard library equivalents):"]
        for tool in tools.values():
            params = ", ".join(
                f"{arg}: {schema.get('type', 'Any')}" for arg, schema in (tool.args or {}).items()
            )
            desc = (tool.desc or "No description").replace("\n", "  ")
            lines.append(f"- `{tool.name}({params})` - {desc}")
        return "\n".join(lines)

    def _make_llm_tools(
        self, budget: _LLMCallBudget | None = None, max_workers: int = 8
    ) -> dict[str, Callable[..., Any]]:
        """`llm_query` and `llm_query_batched`, drawing on `budget` (a fresh one by default). Each LM
        call goes to `sub_lm`, else the LM configured when it is made."""
        budget = budget if budget is not None else _LLMCallBudget(self.max_llm_calls)
        sub_lm = self.sub_lm

        async def aquery(prompt: str) -> str:
            lm = sub_lm if sub_lm is not None else settings.get("lm")
            if lm is None:
                raise LMNotConfiguredError(
                    "No LM configured. Use dspy.configure(lm=...) or pass sub_lm to RLM."
                )
            return _response_text(await acall_part(lm, prompt))

        async def allm_query(prompt: str) -> str:
            if not prompt:
                raise ValueError("prompt cannot be empty")
            budget.reserve(1)
            return await aquery(prompt)

        async def allm_query_batched(prompts: list[str]) -> list[str]:
            # An LM's failure becomes that prompt's "[ERROR] ..." answer; any other exception propagates.
            if not prompts:
                return []
            budget.reserve(len(prompts))
            gate = asyncio.Semaphore(max_workers)

            async def one(prompt: str) -> str:
                async with gate:
                    try:
                        return await aquery(prompt)
                    except LMError as exc:
                        return f"[ERROR] {format_error_for_lm(exc)}"

            return list(await asyncio.gather(*(one(p) for p in prompts)))

        def llm_query(prompt: str) -> str:
            """Query the LLM with a prompt string."""
            return run_sync(allm_query(prompt))

        def llm_query_batched(prompts: list[str]) -> list[str]:
            """Query several prompts concurrently; an LM failure becomes that prompt's "[ERROR] ..." answer."""
            return run_sync(allm_query_batched(prompts))

        return {
            "llm_query": _HostFunction(llm_query, llm_query, allm_query),
            "llm_query_batched": _HostFunction(llm_query_batched, llm_query_batched, allm_query_batched),
        }

    @staticmethod
    def _make_interpreter_tool(tool: Tool) -> Callable[..., Any]:
        """A user tool for the interpreter: through `Tool` (its argument checks and events), sync or awaited."""

        def call(**kwargs: Any) -> Any:
            return tool(**kwargs)

        return _HostFunction(tool.func, call, tool.acall)

    def _prepare_execution_tools(self, budget: _LLMCallBudget | None = None) -> dict[str, Callable[..., Any]]:
        tools = self._make_llm_tools(budget)
        tools.update({name: self._make_interpreter_tool(tool) for name, tool in self._user_tools.items()})
        return tools

    # -- signatures --------------------------------------------------------------------------------
    def _build_signatures(self) -> tuple[type[Signature], type[Signature]]:
        sig = self.signature
        inputs = ", ".join(f"`{n}`" for n in sig.input_fields)
        output_fields = "\n".join(f"- {translate_field_type(n, f)}" for n, f in sig.output_fields.items())
        task = f"{sig.instructions}\n\n" if sig.instructions else ""
        # The runtime fragment of the construction-time factory; each call swaps in its own (see
        # `_action_signature_for_current_factory`), so `dspy.context` can change the runtime.
        factory = resolve_interpreter_factory(self._interpreter_factory)
        self._initial_execution_instructions = self._get_execution_instructions(factory)
        self._initial_sub_agent_rules = SUB_AGENT_INSTRUCTIONS
        self._initial_interpreter_rules = self._format_interpreter_rules(
            self._initial_execution_instructions, self._initial_sub_agent_rules
        )
        instructions = task + ACTION_INSTRUCTIONS_TEMPLATE.format(
            inputs=inputs,
            final_output_names=", ".join(sig.output_fields),
            output_fields=output_fields,
            max_llm_calls=self.max_llm_calls,
            interpreter_rules=self._initial_interpreter_rules,
        )
        action = (
            Signature({}, instructions + self._format_tool_docs(self._user_tools))
            .append(
                "variables_info",
                InputField(desc="Metadata about the variables available in the REPL"),
                type_=str,
            )
            .append(
                "repl_history",
                InputField(desc="Previous REPL code executions and their outputs"),
                type_=REPLHistory,
            )
            .append(
                "iteration",
                InputField(desc="Current iteration number (1-indexed) out of max_iters"),
                type_=str,
            )
            .append(
                "reasoning",
                OutputField(
                    desc="Think step-by-step: what do you know? What remains? Plan your next action."
                ),
                type_=str,
            )
            .append(
                "code",
                OutputField(
                    desc="Python code to execute. Use markdown code block format: ```python\\n<code>\\n```"
                ),
                type_=str,
            )
        )
        objective = f"The trajectory was generated with the following objective: \n{task}\n" if task else ""
        extract = (
            Signature({**sig.output_fields}, objective + _EXTRACT_INSTRUCTIONS)
            .prepend("repl_history", InputField(desc="Your REPL interactions so far"), type_=REPLHistory)
            .prepend(
                "variables_info",
                InputField(desc="Metadata about the variables available in the REPL"),
                type_=str,
            )
        )
        return action, extract

    @staticmethod
    def _format_interpreter_rules(execution_instructions: str, sub_agent_rules: str) -> str:
        rules = f"\nExecution environment:\n{execution_instructions}\n" if execution_instructions else ""
        return rules + sub_agent_rules

    @staticmethod
    def _get_execution_instructions(factory: Callable[[], Any]) -> str:
        """What the factory says about its runtime for the prompt (`factory.execution_instructions`), if anything."""
        text = getattr(factory, "execution_instructions", "")
        if not isinstance(text, str):
            raise TypeError("interpreter_factory.execution_instructions must be a string")
        return text

    def _action_signature_for_current_factory(
        self, factory: Callable[[], Any], sub_agent_rules: str
    ) -> type[Signature]:
        """The action signature with this call's runtime guidance in place of the construction-time one.

        Unchanged when the runtime is the one of construction (so an optimizer's instructions stay as
        they are); otherwise only DSPy's own fragment is replaced, or the guidance is appended once if
        an optimizer dropped that fragment.
        """
        execution_instructions = self._get_execution_instructions(factory)
        current: type[Signature] = getattr(self.generate_action, "signature", self._action_signature)
        if (
            execution_instructions == self._initial_execution_instructions
            and sub_agent_rules == self._initial_sub_agent_rules
        ):
            return current
        rules = self._format_interpreter_rules(execution_instructions, sub_agent_rules)
        key = (current, rules)
        derived = self._derived_signatures.get(key)
        if derived is None:
            text = current.instructions
            initial = self._initial_interpreter_rules
            if initial and initial in text:
                text = text.replace(initial, rules, 1)
            elif rules:
                text += rules
            derived = current.with_instructions(text) if text != current.instructions else current
            self._derived_signatures[key] = derived
        return derived

    # -- inputs and outputs ------------------------------------------------------------------------
    def _get_output_fields_info(self) -> list[dict[str, Any]]:
        """The output fields for a typed `SUBMIT`: each name, and its type when it is a simple one."""
        fields: list[dict[str, Any]] = []
        for name, field in self.signature.output_fields.items():
            annotation = getattr(field, "annotation", str)
            info: dict[str, Any] = {"name": name}
            if annotation in SIMPLE_TYPES:
                info["type"] = annotation.__name__
            fields.append(info)
        return fields

    def _build_variables(self, **input_args: Any) -> list[REPLVariable]:
        variables: list[REPLVariable] = []
        for name, value in input_args.items():
            field_info = self.signature.input_fields.get(name)
            if isinstance(value, SandboxSerializable):
                variables.append(build_repl_variable(value, name, field_info=field_info))
            else:
                variables.append(REPLVariable.from_value(name, value, field_info=field_info))
        return variables

    @staticmethod
    def _format_output(output: str) -> str:
        return output or "(no output - did you forget to print?)"

    def _validate_inputs(self, input_args: dict[str, Any]) -> None:
        names = set(self.signature.input_fields)
        unexpected = set(input_args) - names
        if unexpected:
            raise ValueError(f"Unexpected inputs not declared in the signature: {sorted(unexpected)}")
        missing = names - set(input_args)
        if missing:
            raise ValueError(f"Missing required inputs: {sorted(missing)}")

    def _prepare_serializable_vars(self, input_args: dict[str, Any], repl: Any) -> dict[str, Any]:
        """Sync form of `_aprepare_serializable_vars` (DSPy's name)."""
        return run_sync(self._aprepare_serializable_vars(input_args, repl))

    async def _aprepare_serializable_vars(self, input_args: dict[str, Any], repl: Any) -> dict[str, Any]:
        """Start the interpreter and rebuild each `SandboxSerializable` input inside it; return the other
        inputs, which are passed to every step's code. A payload crosses as a variable, never inlined
        in the code: UTF-8 as text, other bytes as base64 decoded in the sandbox."""
        await _astart(repl)
        regular: dict[str, Any] = {}
        for name, value in input_args.items():
            if not isinstance(value, SandboxSerializable):
                regular[name] = value
                continue
            payload = value.to_sandbox()
            raw = f"_raw_{name}"
            lines: list[str] = []
            payload_vars: dict[str, str] = {}
            if isinstance(payload, bytes):  # pyright: ignore[reportUnnecessaryIsInstance]
                try:
                    payload_vars[raw] = payload.decode("utf-8")
                except UnicodeDecodeError:
                    payload_vars[f"{raw}_base64"] = base64.b64encode(payload).decode("ascii")
                    lines += ["import base64", f"{raw} = base64.b64decode({raw}_base64)"]
            else:
                payload_vars[raw] = str(payload)
            setup = value.sandbox_setup()
            if setup:
                lines.append(setup)
            lines.append(value.sandbox_assignment(name, raw))
            await aexecute(repl, "\n".join(lines), payload_vars)
        return regular

    def _inject_execution_context(
        self, interpreter: Any, execution_tools: dict[str, Callable[..., Any]]
    ) -> None:
        """Give the interpreter this call's tools (fresh budget) and the output fields of a typed `SUBMIT`."""
        interpreter.tools.update(execution_tools)
        if hasattr(interpreter, "output_fields"):
            interpreter.output_fields = self._get_output_fields_info()
        if hasattr(interpreter, "_tools_registered"):  # DSPy's Deno interpreter: register the new tools again
            interpreter._tools_registered = False

    def _setup_facade(self, repl: Any, budget: _LLMCallBudget, interpreter_factory: Callable[[], Any]) -> str:
        """The sub-agent guidance for this call's prompt: none, since dspy-ash's sandbox has no `dspy` facade."""
        return ""

    @asynccontextmanager
    async def _interpreter_scope(
        self, args: tuple[Any, ...], tools: dict[str, Callable[..., Any]], factory: Callable[[], Any]
    ) -> AsyncGenerator[Any]:
        """The caller's interpreter, left open; or a new one from `factory`, shut down however the call ends."""
        if args:
            interpreter = args[0]
            validate_interpreter(interpreter)
            self._inject_execution_context(interpreter, tools)
            yield interpreter
            return
        validate_interpreter_factory(factory)
        interpreter = factory()
        validate_interpreter(interpreter, made_by_factory=True)
        try:
            self._inject_execution_context(interpreter, tools)
            yield interpreter
        finally:
            await ashutdown(interpreter)

    # -- one step ----------------------------------------------------------------------------------
    def _process_final_output(
        self, result: FinalOutput, output_field_names: list[str]
    ) -> tuple[dict[str, Any] | None, str | None]:
        """The submitted outputs parsed to their types, or the error to show the model."""
        raw: Any = result.output
        if not isinstance(raw, dict):
            return (
                None,
                f"[Error] FINAL returned {type(raw).__name__}, expected dict with fields: {output_field_names}",
            )
        missing = set(output_field_names) - set(raw)  # pyright: ignore[reportUnknownArgumentType]
        if missing:
            return (
                None,
                f"[Error] Missing output fields: {sorted(missing)}. Use SUBMIT({', '.join(output_field_names)})",
            )
        parsed: dict[str, Any] = {}
        type_errors: list[str] = []
        for name in output_field_names:
            annotation = getattr(self.signature.output_fields[name], "annotation", str)
            value: Any = raw[name]
            try:
                parsed[name] = parse_value(value, annotation)
            except (ValueError, pydantic.ValidationError) as exc:
                type_name = getattr(annotation, "__name__", annotation)
                type_errors.append(f"{name}: expected {type_name}, got {type(value).__name__}: {exc}")
        if type_errors:
            return None, "[Type Error] " + "; ".join(type_errors)
        return parsed, None

    def _process_execution_result(
        self, pred: Any, code: str, result: Any, history: REPLHistory, output_field_names: list[str]
    ) -> Prediction | REPLHistory:
        """The final Prediction when the code submitted valid outputs, else the history with this step."""
        if isinstance(result, str) and result.startswith("[Error]"):
            return history.append(reasoning=pred.reasoning, code=code, output=self._format_output(result))
        if isinstance(result, FinalOutput):
            parsed, error = self._process_final_output(result, output_field_names)
            if parsed is None:
                return history.append(reasoning=pred.reasoning, code=code, output=error or "")
            final = history.append(reasoning=pred.reasoning, code=code, output=f"FINAL: {parsed}")
            return Prediction(
                **parsed, trajectory=[e.model_dump() for e in final.entries], final_reasoning=pred.reasoning
            )
        if isinstance(result, list):
            result = "\n".join(map(str, result))  # pyright: ignore[reportUnknownArgumentType]
        output = self._format_output(str(result) if result else "")
        if self.verbose:
            logger.info(REPLEntry.format_output(output, self.max_output_chars))
        return history.append(reasoning=pred.reasoning, code=code, output=output)

    @staticmethod
    async def _aexecute_code(repl: Any, code: str, input_args: dict[str, Any]) -> Any:
        """The code's result, or "[Error] ..." for a failure the model can fix; an interpreter failure propagates."""
        try:
            return await aexecute(repl, code, dict(input_args))
        except (CodeExecutionError, SyntaxError) as exc:
            return f"[Error] {format_error_for_lm(exc)}"

    async def _aexecute_iteration(
        self,
        repl: Any,
        variables: list[REPLVariable],
        history: REPLHistory,
        iteration: int,
        input_args: dict[str, Any],
        output_field_names: list[str],
        interpreter_factory: Callable[[], Any],
        sub_agent_rules: str,
    ) -> Prediction | REPLHistory:
        # The call's own signature, not a change to generate_action's: a `dspy.context` override stays local.
        pred = await acall_part(
            self.generate_action,
            signature=self._action_signature_for_current_factory(interpreter_factory, sub_agent_rules),
            variables_info=[v.format() for v in variables],
            repl_history=history,
            iteration=f"{iteration + 1}/{self.max_iters}",
        )
        if self.verbose:
            logger.info(
                f"RLM iteration {iteration + 1}/{self.max_iters}\nReasoning: {pred.reasoning}\nCode:\n{pred.code}"
            )
        try:
            code = _strip_code_fences(pred.code)
        except SyntaxError as exc:
            return self._process_execution_result(
                pred, pred.code, f"[Error] {format_error_for_lm(exc)}", history, output_field_names
            )
        result = await self._aexecute_code(repl, code, input_args)
        return self._process_execution_result(pred, code, result, history, output_field_names)

    async def _aextract_fallback(
        self, variables: list[REPLVariable], history: REPLHistory, output_field_names: list[str]
    ) -> Prediction:
        logger.warning("RLM reached max iterations, using extract to get final output")
        extracted = await acall_part(
            self.extract, variables_info=[v.format() for v in variables], repl_history=history
        )
        return Prediction(
            trajectory=[e.model_dump() for e in history.entries],
            final_reasoning="Extract forced final output",
            **{name: getattr(extracted, name) for name in output_field_names},
        )

    # -- the loop ----------------------------------------------------------------------------------
    async def aforward(
        self, *args: Any, interpreter_factory: Callable[[], Any] | None = None, **input_args: Any
    ) -> Prediction:
        """Run the REPL loop on the signature's inputs (keywords); the outputs, `trajectory` (each step's
        reasoning, code and output) and `final_reasoning`. `interpreter_factory=` overrides the factory
        for this call; a caller-owned interpreter may be passed as the only positional argument."""
        if len(args) > 1:
            raise TypeError(f"RLM takes at most one positional argument (an interpreter), got {len(args)}")
        if "interpreter" in input_args and "interpreter" not in self.signature.input_fields:
            raise InvalidInputTypeError(
                "To use a caller-owned interpreter, pass it as the first positional argument when calling the module."
            )
        self._validate_inputs(input_args)
        factory = interpreter_factory if interpreter_factory is not None else self._interpreter_factory
        factory = resolve_interpreter_factory(factory)
        output_field_names = list(self.signature.output_fields)
        budget = _LLMCallBudget(self.max_llm_calls)
        tools = self._prepare_execution_tools(budget)
        variables = self._build_variables(**input_args)
        async with self._interpreter_scope(args, tools, factory) as repl:
            sub_agent_rules = self._setup_facade(repl, budget, factory)
            regular_args = await self._aprepare_serializable_vars(input_args, repl)
            history = REPLHistory(max_output_chars=self.max_output_chars)
            for iteration in range(self.max_iters):
                step = await self._aexecute_iteration(
                    repl,
                    variables,
                    history,
                    iteration,
                    regular_args,
                    output_field_names,
                    factory,
                    sub_agent_rules,
                )
                if isinstance(step, Prediction):
                    return step
                history = step
            return await self._aextract_fallback(variables, history, output_field_names)


async def _astart(interpreter: Any) -> None:
    start = getattr(interpreter, "astart", None)
    if start is not None and inspect.iscoroutinefunction(start):
        await start()
    else:
        await call_sync(interpreter.start)
