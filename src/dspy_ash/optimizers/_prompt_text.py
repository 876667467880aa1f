"""The text the instruction proposers put in their prompts (a program's code, a module's shape, an
example), as DSPy lays it out, and the label they strip from the prompt model's replies."""

from __future__ import annotations

import inspect
import re
from typing import Any

from dspy_ash.signatures._field import FIELD_TYPE_KEY, extra_of

_LEADING_LABEL = re.compile(r"^[\*\s]*(([\w\'\-]+\s+){0,4}[\w\'\-]+):\s*")


def strip_prefix(text: str) -> str:
    """Drop a leading `Some Label:` (up to five words) and surrounding double quotes, as DSPy."""
    return _LEADING_LABEL.sub("", text).strip('"')


def create_example_string(fields: dict[str, Any], example: Any) -> str:
    return "\n".join(f"{extra_of(info).get('prefix')} {example.get(name)}" for name, info in fields.items())


def module_code(predictor: Any) -> str:
    """`Predict(question) -> answer`: how DSPy names one module to the proposer."""
    inputs: list[str] = []
    outputs: list[str] = []
    for name, info in predictor.signature.fields.items():
        (inputs if extra_of(info).get(FIELD_TYPE_KEY) == "input" else outputs).append(name)
    return f"{type(predictor).__name__}({', '.join(inputs)}) -> {', '.join(outputs)}"


def program_source(module: Any) -> str:
    """The program's code for the program-aware proposer, laid out as DSPy's `get_dspy_source_code`.

    Each predictor's signature (its source, or its text for string signatures; one per signature
    class name, as DSPy dedups them), each sub-module's code, then the class source unless the module
    is a Predict or ChainOfThought. DSPy 3.4.1 gives up on class-based signatures (it reads a pydantic
    namespace key that only `make_signature` leaves) and proposes without program awareness; here
    they are included.
    """
    from dspy_ash.primitives._module import Module, Parameter

    header: list[str] = []
    completed: set[Any] = set()
    base = ""
    if type(module).__name__ not in ("Predict", "ChainOfThought"):
        try:
            base = inspect.getsource(type(module))  # pyright: ignore[reportUnknownArgumentType]
        except (TypeError, OSError):
            base = ""
    for value in list(module.__dict__.values()):
        try:
            items: list[Any] = list(iter(value))
        except TypeError:
            items = [value]
        for item in items:
            try:
                hash(item)
            except TypeError:
                continue
            signature = getattr(item, "signature", None) if isinstance(item, Parameter) else None
            if signature is not None and f"{signature.__name__}_sig" not in completed:
                try:
                    header.append(inspect.getsource(signature))
                except (TypeError, OSError):
                    header.append(str(signature))
                completed.add(f"{signature.__name__}_sig")
            if isinstance(item, Module):
                code = program_source(item).strip()
                if code not in completed:
                    header.append(code)
                    completed.add(code)
            completed.add(item)
    return "\n\n".join(header) + "\n\n" + base
