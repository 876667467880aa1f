"""DSPy's `CodeInterpreter` protocol and how code-running modules choose their interpreter.

Any object with `tools` (a mutable dict of host functions), `start()`, `execute(code, variables)` and
`shutdown()` is an interpreter: dspy-ash's `PythonInterpreter`, DSPy's test `MockInterpreter`, or an
adapter for a remote sandbox. A module's own `interpreter_factory` wins, then
`configure(interpreter_factory=...)`, then `PythonInterpreter` (`resolve_interpreter_factory`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from dspy_ash.modules._interpreter import PythonInterpreter
from dspy_ash.settings import settings

__all__ = ["SIMPLE_TYPES", "CodeInterpreter", "resolve_interpreter_factory"]

# The output types a typed `SUBMIT(...)` may name in its signature.
SIMPLE_TYPES = (str, int, float, bool, list, dict, type(None))


@runtime_checkable
class CodeInterpreter(Protocol):
    """A stateful code runner: variables persist across `execute` calls until `shutdown()`.

    `execute` returns `FinalOutput` when the code called `SUBMIT(...)`, else its output (text, a value,
    or None); it raises `CodeExecutionError` (or `SyntaxError`) for a failure the code can fix, and
    `CodeInterpreterError` when the interpreter itself broke.
    """

    @property
    def tools(self) -> dict[str, Callable[..., Any]]: ...

    def start(self) -> None: ...

    def execute(self, code: str, variables: dict[str, Any] | None = None) -> Any: ...

    def shutdown(self) -> None: ...


def validate_interpreter_factory(factory: Any, name: str = "interpreter_factory") -> None:
    """Refuse an interpreter given where a factory is expected (who would shut it down?), or a non-callable."""
    if not isinstance(factory, type) and isinstance(factory, CodeInterpreter):
        raise TypeError(
            f"{name} received an object that already implements CodeInterpreter, so its ownership is "
            "ambiguous. Pass a zero-argument callable that creates interpreters, or pass a caller-owned "
            "interpreter as the first positional argument when calling the module."
        )
    if not callable(factory):
        raise TypeError(
            f"{name} must be a zero-argument callable that creates a CodeInterpreter, not {type(factory).__name__}."
        )


def validate_interpreter(interpreter: Any, *, made_by_factory: bool = False) -> None:
    if not isinstance(interpreter, CodeInterpreter):
        what = "interpreter_factory must return" if made_by_factory else "interpreter must implement"
        raise TypeError(f"{what} a CodeInterpreter, not {type(interpreter).__name__}.")


def resolve_interpreter_factory(
    factory: Callable[[], Any] | None = None,
) -> Callable[[], Any]:
    """The factory for the next interpreter: `factory`, else `settings.interpreter_factory`, else
    `PythonInterpreter` (`None` and `PythonInterpreter` both mean "not chosen", as in DSPy, since modules
    carry `PythonInterpreter` as their default). Call it where the interpreter is made, so that
    `with dspy.context(interpreter_factory=...)` applies."""
    if factory is not None and factory is not PythonInterpreter:
        return factory
    configured = settings.get("interpreter_factory")
    if configured is None:
        return PythonInterpreter
    validate_interpreter_factory(configured, name="dspy.settings.interpreter_factory")
    return configured
