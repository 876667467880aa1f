"""Small text helpers shared by the instruction proposers."""

from __future__ import annotations

import inspect
import re
from typing import Any

from dspy_ash.signatures.field import FIELD_TYPE_KEY, extra_of

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
    """The program's code for the program-aware proposer: its signatures, sub-modules and own class.

    DSPy's `get_dspy_source_code` does this with a patched `inspect.getfile`; this walks the same
    things (signature sources or text, sub-modules, the class source unless it is Predict or
    ChainOfThought) without patching anything.
    """
    from dspy_ash.primitives.module import Module

    header: list[str] = []
    seen: set[str] = set()

    def add(text: str) -> None:
        if text and text not in seen:
            seen.add(text)
            header.append(text)

    base = ""
    if type(module).__name__ not in ("Predict", "ChainOfThought"):
        try:
            base = inspect.getsource(type(module))  # pyright: ignore[reportUnknownArgumentType]
        except (TypeError, OSError):
            base = ""
    for value in module.__dict__.values():
        items: list[Any] = list(value) if isinstance(value, list | tuple) else [value]  # pyright: ignore[reportUnknownArgumentType]
        for item in items:
            signature = getattr(item, "signature", None)
            if signature is not None:
                try:
                    add(inspect.getsource(signature))
                except (TypeError, OSError):
                    add(str(signature))
            if isinstance(item, Module):
                add(program_source(item).strip())
    return "\n\n".join(header) + "\n\n" + base
